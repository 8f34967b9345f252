// Package report renders a laboratory's toxicology report and seals it as
// an exhibit.
//
// A [Report] is the model: the sample and the aliquots analysed, the panel
// (name@version and the digest of its file), one [Result] per analyte with
// the value as the analyser reported it, its interpretation against the
// panel, the QC evaluation of the run it came from and the hash of its
// result record, the sample's custody timeline (lab/sample's Event), who
// reviewed it and who authorised it, and the log checkpoint it was made
// against. The data plumbing (orders, result matching, review and
// authorisation) fills it; this package checks it, draws it and seals it.
//
// [Report.Check] refuses a report that must not be issued: a result whose
// run QC does not pass [qc.Authorisable] (the report carries the run's
// qc.Evaluation and makes the check itself, so that it fails closed), no
// authoriser, or an authoriser who is also the reviewer. [HTML], [PDF] and
// [Report.JSON] render it, each deterministically: the same report gives
// the same bytes. [Seal] records the three as one exhibit of kind "report"
// (PDF first, then HTML and JSON); a version is sealed once, and a change
// after authorisation is a new version that names the one it amends and
// why. docs/report.md sets out the exhibit's layout and the reasons.
package report
