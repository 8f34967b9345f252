package scannersim

import (
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// TestWriteCorpus keeps the committed seed corpus of FuzzParseLabels equal
// to labelCases (internal/fuzzseed); -write-corpus rewrites it:
//
//	go test ./devices/scanner/scannersim -run TestWriteCorpus -write-corpus
func TestWriteCorpus(t *testing.T) {
	var seeds []fuzzseed.Seed
	for _, tc := range labelCases {
		seeds = append(seeds, fuzzseed.Seed{Name: strings.ReplaceAll(tc.name, " ", "-"), Args: []any{[]byte(tc.in)}})
	}
	fuzzseed.Sync(t, "FuzzParseLabels", seeds)
}
