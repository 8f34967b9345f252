package lcms

import (
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// TestWriteCorpus keeps the committed seed corpus of FuzzParse equal to
// cases (internal/fuzzseed); -write-corpus rewrites it:
//
//	go test ./lab/lcms -run TestWriteCorpus -write-corpus
func TestWriteCorpus(t *testing.T) {
	var seeds []fuzzseed.Seed
	for _, tc := range cases {
		seeds = append(seeds, fuzzseed.Seed{Name: tc.name, Args: []any{[]byte(tc.in)}})
	}
	fuzzseed.Sync(t, "FuzzParse", seeds)
}
