package mllp

import (
	"fmt"
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// TestWriteCorpus keeps the committed seed corpus of FuzzReader equal to
// cases (internal/fuzzseed); -write-corpus rewrites it:
//
//	go test ./lab/hl7/mllp -run TestWriteCorpus -write-corpus
func TestWriteCorpus(t *testing.T) {
	var seeds []fuzzseed.Seed
	for i, tc := range cases {
		seeds = append(seeds, fuzzseed.Seed{Name: fmt.Sprintf("%02d-%s", i, tc.name), Args: []any{[]byte(tc.in)}})
	}
	fuzzseed.Sync(t, "FuzzReader", seeds)
}
