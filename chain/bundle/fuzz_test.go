package bundle

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// fuzzSeeds are the valid fixture bundle and broken variants of it, input
// that is not readable as a zip, readable zips that are not bundles, and
// bundles of the cases issue 8 added: a slashed case reference, an index
// with a duplicate or case-variant member, a proof with an extra line, and
// a bundle written by the previous version. Every one is built from fixed
// clocks and seeded entropy (the ledger's ids included), so the corpus is
// the same on every run.
func fuzzSeeds(t testing.TB) []fuzzseed.Seed {
	t.Helper()
	f := newFixture(t)
	mut := append([]entry(nil), f.entries...)
	mut[1].data = []byte("changed")
	seeds := []fuzzseed.Seed{
		{Name: "valid", Args: []any{f.zip}},
		{Name: "file-changed-manifests-recomputed", Args: []any{rezip(t, remanifest(mut))}},
	}
	for _, m := range []map[string][]byte{unreadableInputs(t), readableNotBundles(t)} {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			seeds = append(seeds, fuzzseed.Seed{Name: strings.NewReplacer(" ", "-", ",", "").Replace(k), Args: []any{m[k]}})
		}
	}
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	l := testLedger(t, func() time.Time { now = now.Add(time.Second); return now })
	importFile(t, l, "01/123456/26", "statement.pdf", "%PDF a statement")
	_, slashed := export(t, l, "01/123456/26")
	legacy, err := os.ReadFile("testdata/legacy-v1.zip")
	if err != nil {
		t.Fatal(err)
	}
	return append(seeds,
		fuzzseed.Seed{Name: "slashed-case", Args: []any{slashed}},
		fuzzseed.Seed{Name: "legacy-v1", Args: []any{legacy}},
		fuzzseed.Seed{Name: "index-duplicate-member", Args: []any{replaceIn(t, FileIndex, `"case": "CASE-7",`, `"case": "OTHER-CASE", "case": "CASE-7",`)}},
		fuzzseed.Seed{Name: "index-case-variant-member", Args: []any{replaceIn(t, FileIndex, `"case": "CASE-7",`, `"Case": "CASE-7",`)}},
		fuzzseed.Seed{Name: "proof-extra-line", Args: []any{replaceIn(t, firstProof(t), "c2sp.org/tlog-proof@v1\n", "c2sp.org/tlog-proof@v1\nextra ZXhoaWJpdA==\n")}},
	)
}

// firstProof returns the path of the fixture's first proof file.
func firstProof(t testing.TB) string {
	for _, e := range newFixture(t).entries {
		if strings.HasPrefix(rel(e.name), DirProofs) {
			return rel(e.name)
		}
	}
	t.Fatal("no proof in the fixture")
	return ""
}

func FuzzVerify(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s.Args[0].([]byte))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := Verify(context.Background(), bytes.NewReader(b), int64(len(b)), Options{})
		if err != nil {
			// Only input that is not readable as a zip at all gets an
			// error rather than a result.
			if !errors.Is(err, ErrUnreadable) || res != nil {
				t.Fatalf("Verify returned an error instead of a result: %v", err)
			}
			return
		}
		if res.Valid && len(res.Problems) > 0 {
			t.Fatal("valid with problems")
		}
		if !res.Valid && len(res.Problems) == 0 {
			t.Fatal("invalid without a problem")
		}
	})
}

// TestWriteCorpus keeps testdata/fuzz/FuzzVerify in step with fuzzSeeds
// (internal/fuzzseed); -write-corpus rewrites it.
func TestWriteCorpus(t *testing.T) {
	fuzzseed.Sync(t, "FuzzVerify", fuzzSeeds(t))
}
