package bundle

import (
	"bytes"
	"context"
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// fuzzSeeds are the valid fixture bundle and broken variants of it.
func fuzzSeeds(t testing.TB) [][]byte {
	f := newFixture(t)
	seeds := [][]byte{f.zip, f.zip[:len(f.zip)/2], nil, []byte("PK\x05\x06" + string(make([]byte, 18)))}
	mut := append([]entry(nil), f.entries...)
	mut[1].data = []byte("changed")
	seeds = append(seeds, rezip(t, remanifest(mut)))
	return seeds
}

func FuzzVerify(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
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

func TestWriteCorpus(t *testing.T) {
	var entries [][]any
	for _, s := range fuzzSeeds(t) {
		entries = append(entries, []any{s})
	}
	fuzzseed.Write(t, "FuzzVerify", entries)
}
