package review

import (
	"bytes"
	"context"
	"fmt"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/lab/report"
	"github.com/exhibit-forensics/exhibit/lab/riskfeed"
)

// markRisk records, for an authorised report version that confirms a
// drug (or withdraws an earlier one that did), the de-identified risk-feed
// item (lab/riskfeed): a document exhibit, part of the sample, whose
// first record's note names the report version, under the key "risk:REPORTID:vN" so that doing it again
// records nothing new. It returns the item's exhibit, or a zero Exhibit
// when there is nothing to mark.
func markRisk(ctx context.Context, l Ledger, smp store.Exhibit, rex store.Exhibit, r *report.Report, by chain.Person) (store.Exhibit, error) {
	f, err := readForm(ctx, l, smp)
	if err != nil {
		return store.Exhibit{}, fmt.Errorf("review: %s's intake form: %w", smp.Ref, err)
	}
	prev, err := latestRisk(ctx, l, smp)
	if err != nil {
		return store.Exhibit{}, err
	}
	it, err := riskfeed.Make(r, f, prev)
	if err != nil || it == nil {
		return store.Exhibit{}, err
	}
	body, err := it.Marshal()
	if err != nil {
		return store.Exhibit{}, err
	}
	note := fmt.Sprintf("marked for the de-identified risk feed: report %s version %d (%s)", r.ID, r.Version, rex.Ref)
	if it.Withdrawn {
		note = fmt.Sprintf("withdrawn from the de-identified risk feed: report %s version %d (%s)", r.ID, r.Version, rex.Ref)
	}
	ex, _, _, err := l.Capture(ctx, ledger.CaptureRequest{
		Case: smp.Case, Kind: chain.ExhibitDocument, FileName: riskfeed.File, Body: bytes.NewReader(body),
		Actor: by, PartOf: smp.ID, Note: note,
		Key: fmt.Sprintf("risk:%s:v%d", r.ID, r.Version),
	})
	if err != nil {
		return store.Exhibit{}, fmt.Errorf("review: marking %s for the risk feed: %w", smp.Ref, err)
	}
	return ex, nil
}

// latestRisk returns the highest revision of the sample's risk-feed items,
// or nil.
func latestRisk(ctx context.Context, l Ledger, smp store.Exhibit) (*riskfeed.Item, error) {
	exs, err := l.Exhibits(ctx, smp.Case)
	if err != nil {
		return nil, err
	}
	var best *riskfeed.Item
	for _, ex := range exs {
		if ex.PartOf != smp.ID || ex.Kind != chain.ExhibitDocument || len(ex.Blobs) == 0 || ex.Blobs[0].Name != riskfeed.File {
			continue
		}
		b, err := blob(ctx, l, ex)
		if err != nil {
			return nil, err
		}
		it, err := riskfeed.Parse(b)
		if err != nil {
			return nil, fmt.Errorf("review: %s: %w", ex.Ref, err)
		}
		if best == nil || it.Revision > best.Revision {
			best = it
		}
	}
	return best, nil
}
