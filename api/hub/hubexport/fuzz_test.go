package hubexport_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/api/hub/hubexport"
	"github.com/exhibit-forensics/exhibit/api/hub/hubexport/hubexporttest"
	"github.com/exhibit-forensics/exhibit/chain/bundle"
	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// fuzzSeeds are a bundle a hub exported (a small case, so that the corpus
// stays small) and the tamperings of the table above, each with the
// manifests recomputed. The world is deterministic (fixed clock, seeded
// entropy), so the corpus is the same on every run.
func fuzzSeeds(t testing.TB) []fuzzseed.Seed {
	t.Helper()
	s := hubexporttest.NewScenario(t)
	_, b, err := s.Export("CASE-2", hubexport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	seeds := []fuzzseed.Seed{{Name: "hub-valid", Args: []any{b}}}
	entries := unzip(t, b)
	for _, tt := range tamperings {
		seeds = append(seeds, fuzzseed.Seed{Name: "hub-" + strings.ReplaceAll(tt.name, " ", "-"), Args: []any{tamper(t, s, entries, tt)}})
	}
	return seeds
}

// FuzzVerifyHub runs Verify, with a trusted witness key, on hub bundles
// and mutations of them: it must return a result, never fail or panic,
// and a result is valid exactly when it lists no problem.
func FuzzVerifyHub(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s.Args[0].([]byte))
	}
	vkey := hubexporttest.NewWorld(f).VKey
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := bundle.Verify(context.Background(), bytes.NewReader(b), int64(len(b)), bundle.Options{Witnesses: []string{vkey}})
		if err != nil {
			if !errors.Is(err, bundle.ErrUnreadable) || res != nil {
				t.Fatalf("Verify returned an error instead of a result: %v", err)
			}
			return
		}
		if res.Valid != (len(res.Problems) == 0) {
			t.Fatalf("valid %v with %d problems", res.Valid, len(res.Problems))
		}
	})
}

// TestWriteCorpus keeps testdata/fuzz/FuzzVerifyHub in step with
// fuzzSeeds; -write-corpus rewrites it.
func TestWriteCorpus(t *testing.T) {
	fuzzseed.Sync(t, "FuzzVerifyHub", fuzzSeeds(t))
}
