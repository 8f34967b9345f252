// Package labday runs a toxicology laboratory's day through the real
// code, end to end, and checks that nothing was lost on the way.
//
// The day: kits arrive from people who report drink or needle spiking, one
// crime reference each (Operation Lester saw about 1,500). At reception a
// technician takes each kit in by its barcode and seal (lab/sample.Intake,
// with the detection-window warnings), opens the seal for splitting and
// splits the urine into an A bottle for analysis and a B bottle kept for
// the defence (OpenSeal, Split). An order for the screening panel is
// placed on each A bottle, by its exhibit reference, which its label
// carries as the specimen id (lab/order).
//
// The laboratory has a few immunoassay analysers (lab/labsim simulators
// speaking ASTM E1381/LIS2-A2 in order download mode, each on its own
// pseudo-terminal opened with the real serial driver). Samples are shared
// among them in turn, each analyser's racks holding its controls first
// (two levels for every test) and then its samples. A receiver per
// analyser (lab/receive) downloads that analyser's orders — its controls
// and the pending orders of the bottles in its racks, the routing a LIS
// keeps per instrument — and captures every results message into the
// evidence log before acknowledging it; the order book matches the
// results to the orders. Each analyser's results are one analytical run
// (lab/review: analyser and day), judged by its controls with the Westgard
// rules (lab/qc).
//
// Most samples are negative; some carry GHB above the endogenous
// threshold, some GHB under it (at the screening stage the panel's cut-off
// is the threshold, so these read negative), and a few carry another drug
// (a benzodiazepine, ketamine, cocaine). One analyser's level-1 GHB
// control reads 3.6 SD high: its run is rejected (1-3s), so the samples it
// measured are held.
//
// Then, at one review desk (lab/review.Desk, which indexes the log's
// results once rather than reading the whole log for every sample), a
// technician reviews every sample and a lab-authoriser authorises it,
// which seals the report (lab/report). The held samples are refused
// (report.ErrNotAuthorisable, qc.ErrRunRejected) and get no report.
//
// Check holds the day to its promises: every message the simulators say
// was acknowledged is in the log once, every result on the specimen the
// simulator sent it for — each sample's A bottle — and in its draft report;
// every order resulted; the log verifies; every authorisable sample has
// exactly one sealed report and every held one none.
//
// A day in a test is short (TestDay, 60 samples); the full day of 1,500
// is BenchmarkDay, `make bench-labday`, with its figures in
// docs/BENCHMARKS.md ("A lab day").
package labday
