// Package panel is the laboratory's drug panel for drink and needle spiking
// cases: which analytes the lab reports, at which screening and confirmation
// cut-offs, with which endogenous threshold and detection window, and where
// each of those figures comes from; how one result is interpreted against
// it; and what a commercial spiking test kit would have found of the lab's
// positives.
//
// A panel is data, not code: a JSON file in the "exhibit-panel" format
// (docs/panel.md specifies it), embedded from data/ as NAME.vVERSION.json.
// A released file never changes (a test pins each file's SHA-256); a
// changed panel is a new file with a higher version, so that a report that
// says "spiking-panel@1" can always be matched to the cut-offs it used.
// Every figure names a source in the file's source table; a figure that is
// the laboratory's own choice rather than a published one says so ("lab
// default: …").
//
// Figures are decimals, never floats: a cut-off is compared with a result
// exactly (math/big), after a unit conversion that is a power of ten
// (ng/mL, µg/L, mg/L, µg/mL, mg/dL, g/L …; ParseUnit). Units outside that
// list — molar units, percentages — are refused, not guessed.
//
// Interpret reads one result (a lab/value.Value, so censored results such
// as "<0.5" and ">1000" keep their censoring) at a Stage, screen or
// confirmation, and gives one of five outcomes: Negative,
// PresumptivePositive, ConfirmedPositive, BelowEndogenous or Inconclusive.
// A censored value that could lie on either side of a decision point is
// Inconclusive, never Negative.
//
// Kit capability files ("exhibit-kit v1", ParseKit) list the analytes a kit
// claims and the cut-off it claims for each; Kit.Coverage reports which of a
// set of positives the kit would have detected and which it would have
// missed, and why.
package panel
