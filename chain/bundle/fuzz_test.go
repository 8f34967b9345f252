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

// fuzzSeeds are the valid fixture bundle, broken variants of it, input
// that is not readable as a zip, readable zips that are not bundles, and
// bundles of the cases issue 8 added: a slashed case reference, an index
// with a duplicate or case-variant member, a proof with an extra line.
func fuzzSeeds(t testing.TB) [][]byte {
	f := newFixture(t)
	seeds := [][]byte{f.zip, f.zip[:len(f.zip)/2], nil, []byte("PK\x05\x06" + string(make([]byte, 18)))}
	mut := append([]entry(nil), f.entries...)
	mut[1].data = []byte("changed")
	seeds = append(seeds, rezip(t, remanifest(mut)))
	for _, m := range []map[string][]byte{unreadableInputs(t), readableNotBundles(t)} {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			seeds = append(seeds, m[k])
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
	seeds = append(seeds, slashed, legacy,
		replaceIn(t, FileIndex, `"case": "CASE-7",`, `"case": "OTHER-CASE", "case": "CASE-7",`),
		replaceIn(t, FileIndex, `"case": "CASE-7",`, `"Case": "CASE-7",`),
		replaceIn(t, firstProof(t), "c2sp.org/tlog-proof@v1\n", "c2sp.org/tlog-proof@v1\nextra ZXhoaWJpdA==\n"))
	return seeds
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
		f.Add(s)
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

func TestWriteCorpus(t *testing.T) {
	var entries [][]any
	for _, s := range fuzzSeeds(t) {
		entries = append(entries, []any{s})
	}
	fuzzseed.Write(t, "FuzzVerify", entries)
}
