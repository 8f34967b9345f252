package sample_test

import (
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// TestWriteFormCorpus keeps FuzzParseForm's committed seed corpus equal to
// formSeeds; -write-corpus rewrites it.
func TestWriteFormCorpus(t *testing.T) {
	var seeds [][]any
	for _, s := range formSeeds {
		seeds = append(seeds, []any{[]byte(s)})
	}
	fuzzseed.Write(t, "FuzzParseForm", seeds)
}

// TestWriteAliquotCorpus keeps FuzzParseAliquotForm's committed seed corpus
// equal to aliquotSeeds; -write-corpus rewrites it.
func TestWriteAliquotCorpus(t *testing.T) {
	var seeds [][]any
	for _, s := range aliquotSeeds {
		seeds = append(seeds, []any{[]byte(s)})
	}
	fuzzseed.Write(t, "FuzzParseAliquotForm", seeds)
}
