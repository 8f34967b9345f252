package bundle

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// fuzzSeeds are a valid bundle and broken variants of it: cut in half,
// empty, a lone end-of-central-directory record, and one file changed with
// every manifest recomputed to match (as an attacker who knows BagIt would).
func fuzzSeeds(t testing.TB, valid []byte) []fuzzseed.Seed {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(valid), int64(len(valid)))
	if err != nil {
		t.Fatalf("the valid seed is not a zip: %v", err)
	}
	var mut []entry
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		mut = append(mut, entry{zf.Name, b})
	}
	mut[1].data = []byte("changed")
	return []fuzzseed.Seed{
		{Name: "valid", Args: []any{valid}},
		{Name: "half", Args: []any{valid[:len(valid)/2]}},
		{Name: "empty", Args: []any{[]byte(nil)}},
		{Name: "end-record-only", Args: []any{[]byte("PK\x05\x06" + string(make([]byte, 18)))}},
		{Name: "file-changed-manifests-recomputed", Args: []any{rezip(t, remanifest(mut))}},
	}
}

func FuzzVerify(f *testing.F) {
	for _, s := range fuzzSeeds(f, newFixture(f).zip) {
		f.Add(s.Args[0].([]byte))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := Verify(context.Background(), bytes.NewReader(b), int64(len(b)), Options{})
		if err != nil {
			t.Fatalf("Verify returned an error instead of a result: %v", err)
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
//
// The test fixture's bundle differs from run to run — the ledger's exhibit
// and device ids are UUIDv7 stamped with the wall clock, not with the
// injected Options.Now — so the committed seed-valid cannot be compared with
// a fresh fixture. -write-corpus writes the fixture's bundle; an ordinary
// run derives the other seeds from the committed seed-valid and requires
// that it still verifies, so a change of format that breaks it asks for a
// rewrite too.
func TestWriteCorpus(t *testing.T) {
	valid := newFixture(t).zip
	if !*fuzzseed.Enabled {
		if b, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzVerify", fuzzseed.Prefix+"valid")); err == nil {
			args, err := fuzzseed.Decode(b)
			if err != nil || len(args) != 1 {
				t.Fatalf("testdata/fuzz/FuzzVerify/seed-valid: %v (run go test ./chain/bundle -run TestWriteCorpus -write-corpus)", err)
			}
			valid, _ = args[0].([]byte)
		}
		res, err := Verify(context.Background(), bytes.NewReader(valid), int64(len(valid)), Options{})
		if err != nil || !res.Valid {
			t.Fatalf("the committed valid seed no longer verifies (%v, %+v); run go test ./chain/bundle -run TestWriteCorpus -write-corpus", err, res)
		}
	}
	fuzzseed.Sync(t, "FuzzVerify", fuzzSeeds(t, valid))
}
