package hl7

import (
	"fmt"
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// TestWriteCorpus keeps the committed seed corpus of FuzzParse equal to
// parseCases (internal/fuzzseed); -write-corpus rewrites it:
//
//	go test ./lab/hl7 -run TestWriteCorpus -write-corpus
func TestWriteCorpus(t *testing.T) {
	var seeds []fuzzseed.Seed
	for i, tc := range parseCases {
		seeds = append(seeds, fuzzseed.Seed{Name: fmt.Sprintf("%02d-%s", i, tc.name), Args: []any{tc.in, int(tc.opt.DefaultCharset)}})
	}
	fuzzseed.Sync(t, "FuzzParse", seeds)
}
