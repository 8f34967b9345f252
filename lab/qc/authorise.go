package qc

import (
	"errors"
	"fmt"
)

// Errors from Authorisable; the returned error wraps one of them with the
// reason.
var (
	// ErrRunRejected: QC rejected the run, so its results are held.
	ErrRunRejected = errors.New("QC rejected the run: its results are held and cannot be authorised")
	// ErrNotEvaluated: there is no QC evaluation of the run.
	ErrNotEvaluated = errors.New("the run has no QC evaluation: its results cannot be authorised")
)

// Authorisable is the check the authorisation step makes before it
// authorises a result: nil if QC accepted the result's run (with or without
// a 1-2s warning) for the result's analyte; otherwise an error wrapping
// ErrRunRejected with every rule violated, or ErrNotEvaluated for a run that
// has no evaluation (the zero Evaluation, as ForRun returns for a run
// without control results). It fails closed.
func Authorisable(e Evaluation) error {
	switch e.State {
	case Accept, Warn:
		return nil
	case Reject:
		reasons := ""
		for _, f := range e.Findings {
			if !f.Rule.Rejects() {
				continue
			}
			if reasons != "" {
				reasons += "; "
			}
			reasons += f.String()
		}
		return fmt.Errorf("run %s, %s: %w: %s", e.Run, e.Analyte, ErrRunRejected, reasons)
	}
	if e.Run == "" {
		return ErrNotEvaluated
	}
	return fmt.Errorf("run %s: %w", e.Run, ErrNotEvaluated)
}
