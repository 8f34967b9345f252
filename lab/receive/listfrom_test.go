package receive

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
)

// TestListFrom: listing from where the last listing stopped gives only the
// messages captured since, and returns where to list from next; from the
// end, it lists nothing. Records without a lab section are passed over.
func TestListFrom(t *testing.T) {
	ctx := context.Background()
	l := newLedger(t)
	capture := func(name string, lab bool) {
		t.Helper()
		req := ledger.CaptureRequest{Case: DefaultCase, Kind: chain.ExhibitResult, FileName: name, Body: bytes.NewReader([]byte(name))}
		if lab {
			req.Lab = &chain.Lab{Protocol: "astm", Dialect: "lis2a2", Analyser: "Sim", MessageID: chain.Sum([]byte(name)).String(),
				Results: []chain.LabResult{{Specimen: "S-" + name, Code: "GHB", Value: "1.0"}}}
		} else {
			req.Kind = chain.ExhibitDocument
		}
		if _, _, _, err := l.Capture(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	list := func(from uint64) ([]string, uint64) {
		t.Helper()
		var got []string
		next, err := ListFrom(ctx, l, from, func(e Entry) error {
			got = append(got, e.FileName)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got, next
	}
	capture("m1", true)
	capture("doc", false)
	capture("m2", true)
	got, next := list(0)
	if n, _ := l.TreeSize(ctx); !slices.Equal(got, []string{"m1", "m2"}) || next != n {
		t.Fatalf("from 0: %v, next %d (log size %d)", got, next, n)
	}
	if got, again := list(next); len(got) != 0 || again != next {
		t.Fatalf("from the end: %v, next %d, want none and %d", got, again, next)
	}
	capture("m3", true)
	if got, _ := list(next); !slices.Equal(got, []string{"m3"}) {
		t.Fatalf("since the last listing: %v, want [m3]", got)
	}
	var all []string
	if err := List(ctx, l, func(e Entry) error { all = append(all, e.FileName); return nil }); err != nil || !slices.Equal(all, []string{"m1", "m2", "m3"}) {
		t.Fatalf("List: %v, %v", all, err)
	}
}
