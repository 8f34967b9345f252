// Package bench serves the lab bench's web UI (`exhibit agent --role lab`):
// server-rendered pages on api/web's sessions, sign-in, CSRF and roles, for
// lab technicians and authorisers.
//
// What it does so far:
//   - a barcode box on every page: a keyboard-wedge scanner types into it
//     (or, with no field focused, its fast burst of keys ending in Enter
//     is caught) and a kit's barcode, a sample's or an aliquot's reference
//     jumps to that sample; a serial scanner's readings (Bench.Scanned)
//     move every open page the same way, to intake for a kit not yet
//     received;
//   - kit intake (lab/sample.Intake, with the detection-window warnings of
//     the built-in panel, and where the incident happened for the risk
//     feed);
//   - a sample's page: its intake form, warnings, aliquots, its results
//     with their meaning and their run's QC, the technician's review and
//     the authoriser's seal (lab/review, with the laboratory's setup), the
//     custody timeline and the custody steps — opening a seal with a
//     reason, the A/B split, a two-party handover (giver and receiver both
//     enter their passwords at that moment) and disposal; its sealed
//     reports, each opened as the PDF or web page that was sealed
//     (/report/REF), every opening recorded as a "viewed" record;
//   - the QC page (a Levey-Jennings chart per control material and each
//     run's verdict), the quarantine and the trends of confirmed
//     substances by class and month;
//   - the worklist (/worklist): the order book's orders (lab/order), each
//     bottle's tests, priority, state — waiting, sent, asked for,
//     resulted — and when, linked to its sample, with the results that
//     came for specimens nobody ordered; orders are placed on a bottle
//     from its sample's page (Config.Orders, Config.Tests);
//   - the state of the analyser links the agent receives from in its own
//     process (Config.Links; docs/analyser-config.md), on every page;
//   - live parts: every page polls GET /live, a token of the log's size,
//     the order book and the links; when it changes the page fetches
//     itself and puts its data-live parts (results, orders, worklist,
//     links) in place, so results appear as they arrive without a reload.
//     Without script the pages work the same, reloaded by hand.
//
// Samples are found through an index the Bench keeps in memory: built by
// reading the log once, then brought up to date from the records appended
// since, before each page that needs it. The log is the truth; the index
// only finds.
package bench
