package value

import (
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// TestWriteCorpus keeps the committed seed corpus of FuzzParse equal to
// cases (internal/fuzzseed); -write-corpus rewrites it:
//
//	go test ./lab/value -run TestWriteCorpus -write-corpus
func TestWriteCorpus(t *testing.T) {
	var seeds [][]any
	for _, tc := range cases {
		seeds = append(seeds, []any{tc.raw, tc.m == Comma})
	}
	fuzzseed.Write(t, "FuzzParse", seeds)
}
