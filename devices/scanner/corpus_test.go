package scanner

import (
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// TestWriteCorpus keeps the committed seed corpus of FuzzFramer equal to
// frameCases (internal/fuzzseed); -write-corpus rewrites it:
//
//	go test ./devices/scanner -run TestWriteCorpus -write-corpus
func TestWriteCorpus(t *testing.T) {
	var seeds []fuzzseed.Seed
	for i, tc := range frameCases {
		seeds = append(seeds, fuzzseed.Seed{Name: strings.ReplaceAll(tc.name, " ", "-"),
			Args: []any{[]byte(tc.in), []byte(tc.prefix), uint16(i)}})
	}
	fuzzseed.Sync(t, "FuzzFramer", seeds)
}
