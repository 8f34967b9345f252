package ledger_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
)

func TestDerived(t *testing.T) { forEachBackend(t, testDerived) }

// testDerived: a capture with DerivedFrom is a derived record naming its
// bytes and then its recipe, with no source section; both blobs are kept
// and fsck passes.
func testDerived(t *testing.T, newLedger func(*testing.T) testLedger) {
	ctx := context.Background()
	l := newLedger(t).Ledger
	orig := importBytes(t, l, "C1", "band.png", "original pixels")
	recipe := []byte(`{"format":"exhibit-recipe v1"}`)
	big := strings.Repeat("derived pixels ", 10000) // over the inline limit: a blob file
	ex, rec, fresh, err := l.Capture(ctx, ledger.CaptureRequest{Case: "C1", Kind: chain.ExhibitImage, FileName: "clahe.png",
		Body: strings.NewReader(big), DerivedFrom: orig.ID, PartOf: orig.ID,
		Extra: []ledger.Extra{{Name: "clahe.recipe.json", Body: recipe}}})
	if err != nil || !fresh {
		t.Fatal(err)
	}
	p := rec.Statement.Predicate
	if rec.Kind != chain.KindDerived || p.Source != nil || p.Exhibit.DerivedFrom != orig.ID || ex.DerivedFrom != orig.ID {
		t.Fatalf("derived record %v %+v", rec.Kind, p.Exhibit)
	}
	subs := rec.Statement.Subject
	if len(subs) != 2 || subs[0].Name != "clahe.png" || subs[1].Name != "clahe.recipe.json" {
		t.Fatalf("subjects %+v", subs)
	}
	for i, want := range []string{big, string(recipe)} {
		h, err := subs[i].SHA256()
		if err != nil {
			t.Fatal(err)
		}
		rc, _, err := l.Open(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != want {
			t.Errorf("subject %d holds %d bytes, want %d", i, len(b), len(want))
		}
	}
	if _, _, _, err := l.Capture(ctx, ledger.CaptureRequest{Case: "C1", Kind: chain.ExhibitImage, FileName: "x.png",
		Body: strings.NewReader("x"), DerivedFrom: orig.ID, Extra: []ledger.Extra{{Body: recipe}}}); err == nil {
		t.Error("an extra blob without a name was taken")
	}
	mustFsckOK(t, l)
}
