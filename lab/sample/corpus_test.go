package sample

import (
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// TestWriteCorpus keeps FuzzParseScan's committed seed corpus equal to
// scanCases; -write-corpus rewrites it.
func TestWriteCorpus(t *testing.T) {
	var seeds [][]any
	for _, tc := range scanCases {
		seeds = append(seeds, []any{tc.raw})
	}
	fuzzseed.Write(t, "FuzzParseScan", seeds)
}
