package streamtest

import (
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// TestWriteCorpus keeps the committed seed corpora of FuzzParseTranscript
// and FuzzNotation equal to transcriptCases and notationCases
// (internal/fuzzseed); -write-corpus rewrites them:
//
//	go test ./internal/streamtest -run TestWriteCorpus -write-corpus
func TestWriteCorpus(t *testing.T) {
	var seeds []fuzzseed.Seed
	for _, tc := range transcriptCases {
		seeds = append(seeds, fuzzseed.Seed{Name: strings.ReplaceAll(tc.name, " ", "-"), Args: []any{[]byte(tc.in)}})
	}
	fuzzseed.Sync(t, "FuzzParseTranscript", seeds)
	seeds = nil
	for _, tc := range notationCases {
		seeds = append(seeds, fuzzseed.Seed{Name: strings.ReplaceAll(tc.name, " ", "-"), Args: []any{[]byte(tc.enc)}})
	}
	fuzzseed.Sync(t, "FuzzNotation", seeds)
}
