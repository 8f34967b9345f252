package seal_test

import (
	"context"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/imaging/seal"
	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// TestRefusedRecordsDeclaration: a refusal of photographs is recorded as a
// document exhibit whose bytes read back as the declaration; the same form
// sent twice records it once; a refusal that refuses nothing, or a decision
// without who or when, is not recorded.
func TestRefusedRecordsDeclaration(t *testing.T) {
	ctx := context.Background()
	l, _ := newLedger(t)
	at := time.Date(2026, 12, 5, 9, 30, 12, 500, time.UTC)
	r := seal.Refusal{Case: "01/123456/26", Photographer: photographer, Device: "kiosk-1", Key: "draft-1",
		Consent: []chain.Consent{{By: "the person photographed", To: "photographs of injuries", Given: false, At: at}}}
	ex, err := seal.Refused(ctx, l, r)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Kind != chain.ExhibitDocument || ex.Case != r.Case || len(ex.Blobs) != 1 || ex.Blobs[0].Name != seal.ConsentFile {
		t.Fatalf("recorded %+v", ex)
	}
	d, err := seal.ParseDeclaration(blob(t, l, ex.Blobs[0].Hash))
	if err != nil {
		t.Fatal(err)
	}
	if d.Case != r.Case || len(d.Decisions) != 1 || d.Decisions[0].Given || !d.Decisions[0].At.Equal(at.Truncate(time.Second)) ||
		d.RecordedBy != photographer || d.Device != "kiosk-1" {
		t.Errorf("read back %+v", d)
	}
	again, err := seal.Refused(ctx, l, r)
	if err != nil || again.ID != ex.ID {
		t.Errorf("the same refusal again: %v, %v (first %s)", again.ID, err, ex.ID)
	}
	n, err := l.TreeSize(ctx)
	if err != nil {
		t.Fatal(err)
	}

	bad := []seal.Refusal{
		{Case: r.Case, Photographer: photographer, Consent: []chain.Consent{{By: "x", To: "photographs of injuries", Given: true, At: at}}},
		{Case: r.Case, Photographer: photographer, Consent: []chain.Consent{{To: "photographs of injuries", At: at}}},
		{Case: r.Case, Photographer: photographer, Consent: []chain.Consent{{By: "x", To: "photographs of injuries"}}},
		{Photographer: photographer, Consent: r.Consent},
		{Case: r.Case, Photographer: photographer},
	}
	for i, b := range bad {
		if _, err := seal.Refused(ctx, l, b); err == nil {
			t.Errorf("bad refusal %d recorded", i)
		}
	}
	if m, _ := l.TreeSize(ctx); m != n {
		t.Errorf("the refused refusals wrote %d records", m-n)
	}
}

// FuzzParseDeclaration: a declaration that parses marshals to one that
// parses to the same thing; nothing panics.
func FuzzParseDeclaration(f *testing.F) {
	for _, s := range declarationSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := seal.ParseDeclaration(b)
		if err != nil {
			return
		}
		if d.Format != seal.ConsentFormat || len(d.Decisions) == 0 {
			t.Fatalf("accepted %+v", d)
		}
	})
}

var declarationSeeds = []string{
	`{"format":"exhibit-consent","version":1,"case":"C-1","decisions":[{"by":"the person photographed","to":"photographs of injuries","given":false,"at":"2026-12-05T09:30:12Z"}],"recordedBy":{"name":"Jo Smith"}}`,
	`{"format":"exhibit-consent","version":2}`,
	`{"format":"exhibit-consent","version":1,"case":"C","decisions":[],"recordedBy":{}}`,
	`{"format":"exhibit-consent","version":1,"case":"C","decisions":[{"by":"a","to":"b","given":true,"at":"2026-12-05T09:30:12Z"}],"recordedBy":{},"extra":1}`,
	`{"format":"exhibit-consent","version":1,"case":"C","decisions":[{"by":"a","to":"b","given":false,"at":"2026-12-05T09:30:12Z"}],"recordedBy":{}} {}`,
}

// TestWriteDeclarationCorpus keeps the committed seed corpus of
// FuzzParseDeclaration equal to declarationSeeds; -write-corpus rewrites it.
func TestWriteDeclarationCorpus(t *testing.T) {
	var seeds [][]any
	for _, s := range declarationSeeds {
		seeds = append(seeds, []any{[]byte(s)})
	}
	fuzzseed.Write(t, "FuzzParseDeclaration", seeds)
}
