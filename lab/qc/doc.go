// Package qc judges analytical runs by their control results with the
// Westgard multirule procedure and draws Levey-Jennings charts.
//
// A control [Material] (one lot of one level of control for one analyte)
// carries an established target mean and SD: the manufacturer's assigned
// values or the laboratory's own, from earlier runs. They are never computed
// from the runs being judged. Each control [Result] is turned into a z-score,
// (value − mean) / SD, and [Evaluate] judges every run against the rules
// below, as they were at that run: a run's evaluation never depends on later
// runs. Its [Evaluation] has a [State] (accept, warn or reject) and one
// [Finding] per rule violated, naming the results that triggered it in words
// a technician reads on the bench.
//
// The rules follow Westgard, Barry, Hunt and Groth, "A multi-rule Shewhart
// chart for quality control in clinical chemistry", Clin Chem
// 1981;27:493-501, with the refinements Westgard gives on westgard.com
// ("Westgard Rules", and the lesson on the power function graphs of
// multirules): the 1-2s rule is a warning only, and, as Westgard recommends
// for computer implementations, every rejection rule is applied to every
// run, not only when 1-2s fires. R-4s is applied within a run only (it looks
// for random error; between-run differences are the business of the
// systematic-error rules); 2-2s within a run across levels and across runs
// for one level; 4-1s and 10x across runs, both for each level alone and for
// all levels together (Westgard's "within material" and "across materials").
// "Exceeds" is strict: a result exactly at 2 SD does not violate 1-2s.
//
//   - 1-2s (warning): one result of the run beyond mean ± 2 SD.
//   - 1-3s: one result of the run beyond mean ± 3 SD.
//   - 2-2s: two results of the run from different levels beyond the same
//     2 SD limit; or two consecutive results of one level beyond the same
//     2 SD limit, at least one of them from the run.
//   - R-4s: one result of the run above mean + 2 SD and another below
//     mean − 2 SD.
//   - 4-1s: four consecutive results beyond the same 1 SD limit, at least
//     one of them from the run: among the results of one level, or among
//     the results of all levels taken together (then the four come from
//     two levels at least).
//   - 10x: ten consecutive results on the same side of the mean (a result
//     exactly on the mean is on neither side), counted the same two ways.
//
// "Consecutive" is the order of runs (by the time of a run's first result,
// then run ID) and, within a run, of the results' times (then level, lot and
// value, so that the order does not depend on the order of the input).
// Results of rejected runs stay in the history: a control measurement is
// never quietly dropped. docs/qc.md sets out the rules as implemented, the
// reasons and the alternatives rejected.
//
// [Authorisable] is what the authorisation step asks: it returns an error
// wrapping [ErrRunRejected] for a rejected run, and [ErrNotEvaluated] for a
// run without an evaluation, so that QC fails closed. [Chart] draws the
// Levey-Jennings chart of one control material as SVG.
package qc
