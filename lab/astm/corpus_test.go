package astm

import (
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// TestWriteCorpus keeps the committed seed corpus of FuzzParseDialect equal to
// dialectCases (internal/fuzzseed); -write-corpus rewrites it:
//
//	go test ./lab/astm -run TestWriteCorpus -write-corpus
func TestWriteCorpus(t *testing.T) {
	var seeds [][]any
	for _, tc := range dialectCases {
		seeds = append(seeds, []any{[]byte(tc.in)})
	}
	fuzzseed.Write(t, "FuzzParseDialect", seeds)
}
