// Package review takes a sample from its results to a sealed report: it
// gathers the results measured on the sample's aliquots (analyser messages
// and LC-MS/MS exports, lab/receive), reads each against the panel
// (lab/panel), judges the runs by their control results (lab/qc), records
// the technician's review, and — when a different person with the
// lab-authoriser role authorises — seals the report (lab/report) and
// records the authorisation. A later authorisation is an amendment: a new
// version with its reason; no version is ever overwritten.
//
// Conventions (docs/review.md):
//   - a result belongs to an aliquot when its specimen id is the aliquot's
//     reference (the bottle's label carries it), or the sample's;
//   - a run is an LC-MS/MS export file (its exhibit reference), or, for an
//     analyser, the analyser and the UTC day of the message;
//   - control results are those whose specimen id a control in the lab's
//     setup names; a result whose run has no control results for its
//     analyte is not evaluated, and so cannot be reported.
package review
