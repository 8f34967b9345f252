package light

import (
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// TestWriteCorpus keeps the committed seed corpus of FuzzParseFrame equal
// to frameCases (internal/fuzzseed); -write-corpus rewrites it:
//
//	go test ./devices/light -run TestWriteCorpus -write-corpus
func TestWriteCorpus(t *testing.T) {
	var seeds []fuzzseed.Seed
	for _, tc := range frameCases {
		seeds = append(seeds, fuzzseed.Seed{Name: strings.ReplaceAll(tc.name, " ", "-"), Args: []any{[]byte(tc.line)}})
	}
	fuzzseed.Sync(t, "FuzzParseFrame", seeds)
}
