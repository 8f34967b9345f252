package order

import (
	"context"
	"log/slog"

	"github.com/exhibit-forensics/exhibit/lab/receive"
)

// FromLog reads every captured message with results back from the log
// (quarantined input has none), for Reconcile.
func FromLog(ctx context.Context, r receive.Reader) ([]Captured, error) {
	var out []Captured
	err := receive.List(ctx, r, func(e receive.Entry) error {
		if rs := LabResults(e.Lab.Results); len(rs) > 0 && !e.Quarantined() {
			out = append(out, Captured{Capture: e.Ref, MessageID: e.Lab.MessageID, Results: rs})
		}
		return nil
	})
	return out, err
}

// Observer returns a receive.Config.Observe function that records every
// stored message's results in the book (Record). A failure is logged and
// not fatal: the message is in the log, and the next Reconcile matches it.
func (b *Book) Observer(log *slog.Logger, next func(receive.Outcome)) func(receive.Outcome) {
	return func(o receive.Outcome) {
		if (o.Kind == receive.Stored || o.Kind == receive.Duplicate) && len(o.Captured) > 0 {
			if err := b.Record(context.Background(), o.Ref, o.MessageID.String(), LabResults(o.Captured)); err != nil {
				log.Error("order: results stored but not matched to orders; `exhibit lab orders` will match them from the log",
					"ref", o.Ref, "error", err)
			}
		}
		if next != nil {
			next(o)
		}
	}
}
