package labday

import (
	"context"
	"slices"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/lab/astm"
	"github.com/exhibit-forensics/exhibit/lab/order"
	"github.com/exhibit-forensics/exhibit/lab/receive"
)

// TestFeed: an analyser's feed offers its controls and its own pending
// orders, nothing more while any order it was sent waits for results, and
// the next ones once the book has them resulted; results that come before
// their download is marked sent do not leave it waiting.
func TestFeed(t *testing.T) {
	ctx := context.Background()
	b, err := order.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	place := func(sp string) {
		t.Helper()
		if _, err := b.Place(ctx, order.Order{Specimen: sp, Tests: []string{"GHB"}}); err != nil {
			t.Fatal(err)
		}
	}
	place("S1")
	place("X1") // another analyser's
	place("S2")
	f := &feed{book: b, mine: map[string]bool{"S1": true, "S2": true, "S3": true, "S4": true},
		controls: []astm.Order{{SpecimenID: "QC-L1", Tests: []string{"GHB"}}}, waiting: map[string]bool{}, seen: map[string]bool{}}
	due := func(want ...string) {
		t.Helper()
		os, err := f.Due(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, o := range os {
			got = append(got, o.SpecimenID)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("due %v, want %v", got, want)
		}
	}
	result := func(sp ...string) {
		t.Helper()
		var rs []chain.LabResult
		for _, s := range sp {
			rs = append(rs, chain.LabResult{Specimen: s, Code: "GHB", Value: "1.0"})
		}
		if err := b.Record(ctx, "LT/9", "sha256:"+sp[0], order.LabResults(rs)); err != nil {
			t.Fatal(err)
		}
		f.results(receive.Outcome{Kind: receive.Stored, Captured: rs})
	}
	due("QC-L1", "S1", "S2")
	if err := f.MarkSent(ctx, []string{"QC-L1", "S1", "S2"}); err != nil {
		t.Fatal(err)
	}
	place("S3")
	due()
	result("S1")
	due() // S2 still out
	result("S2")
	due("S3")
	// S3's results arrive before its download is marked sent.
	result("S3")
	if err := f.MarkSent(ctx, []string{"S3"}); err != nil {
		t.Fatal(err)
	}
	place("S4")
	due("S4")
}
