package testcode

import (
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// TestWriteCorpus keeps the committed seed corpus of FuzzParse equal to
// cases (internal/fuzzseed); -write-corpus rewrites it:
//
//	go test ./lab/testcode -run TestWriteCorpus -write-corpus
func TestWriteCorpus(t *testing.T) {
	var seeds [][]any
	for _, tc := range cases {
		seeds = append(seeds, []any{[]byte(tc.in)})
	}
	fuzzseed.Write(t, "FuzzParse", seeds)
}
