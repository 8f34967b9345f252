package review_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/lab/panel"
	"github.com/exhibit-forensics/exhibit/lab/review"
	"github.com/exhibit-forensics/exhibit/lab/riskfeed"
	"github.com/exhibit-forensics/exhibit/lab/sample"
)

// TestRiskFeedMarked: authorising a confirmed GHB result marks the
// incident for the risk feed once — de-identified, its place snapped —
// even when the first authorisation stopped before it was recorded and
// was done again; a sample with nothing confirmed is not marked.
func TestRiskFeedMarked(t *testing.T) {
	ctx := context.Background()
	l0, err := datadir.Init(ctx, t.TempDir(), "Lab Bench", "LB", datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l0.Close()
	l := &failAuthorised{Ledger: l0, fail: true}
	p, err := panel.Lookup(panel.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	inc := time.Date(2026, 12, 4, 23, 40, 0, 0, time.UTC)
	intake := func(kit string) (string, string) {
		ex, _, err := sample.Intake(ctx, l, sample.Request{Case: "01/900/26", Kit: sample.Scan{Raw: kit, ID: kit}, Seals: []string{"S-" + kit},
			Collected: inc.Add(3 * time.Hour), Incident: inc, Place: sample.Place{Venue: "V-0042", Grid: "tq 30123 80456"}, By: tech}, sample.Windows(p))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sample.OpenSeal(ctx, l, ex.Ref, "S-"+kit, "split", tech); err != nil {
			t.Fatal(err)
		}
		als, _, err := sample.Split(ctx, l, ex.Ref, []sample.Aliquot{{Label: "A", VolumeML: 40}}, tech, "")
		if err != nil {
			t.Fatal(err)
		}
		return ex.Ref, als[0].Ref
	}
	pos, posA := intake("K1")
	neg, negA := intake("K2")
	run(t, l0, "run1.csv", ghb("QC-GHB-L1", "5.2", true), ghb("QC-GHB-L2", "20.6", true), ghb(posA, "45.0", false), ghb(negA, "3.0", false))
	for _, ref := range []string{pos, neg} {
		if _, err := review.Review(ctx, l, ref, setup, p, tech); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := review.Authorise(ctx, l, pos, setup, p, author, ""); err == nil {
		t.Fatal("the power cut went unnoticed")
	}
	if _, _, err := review.Authorise(ctx, l, pos, setup, p, author, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := review.Authorise(ctx, l, neg, setup, p, author, ""); err != nil {
		t.Fatal(err)
	}
	exs, err := l0.Exhibits(ctx, "01/900/26")
	if err != nil {
		t.Fatal(err)
	}
	byRef := map[string]string{}
	for _, ex := range exs {
		byRef[ex.ID] = ex.Ref
	}
	var items []*riskfeed.Item
	for _, ex := range exs {
		if len(ex.Blobs) == 0 || ex.Blobs[0].Name != riskfeed.File {
			continue
		}
		if ex.Kind != chain.ExhibitDocument || byRef[ex.PartOf] != pos {
			t.Errorf("risk item %s: a %s, part of %s", ex.Ref, ex.Kind, byRef[ex.PartOf])
		}
		items = append(items, readItem(t, l0, ex.Blobs[0].Hash))
	}
	if len(items) != 1 {
		t.Fatalf("%d risk items, want 1 (for %s only)", len(items), pos)
	}
	it := items[0]
	if len(it.Classes) != 1 || it.Classes[0] != "ghb" || it.Revision != 1 || it.Place == nil || it.Place.Grid250m != "TQ3000080250" ||
		!it.Window.Start.Equal(time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC)) {
		t.Errorf("risk item %+v place %+v", it, it.Place)
	}
	if _, err := l0.Fsck(ctx); err != nil {
		t.Fatal(err)
	}
}

func readItem(t *testing.T, l *ledger.Ledger, h chain.Hash) *riskfeed.Item {
	t.Helper()
	rc, _, err := l.Open(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	it, err := riskfeed.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return it
}
