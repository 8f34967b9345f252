package serialtest

import (
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// TestWriteCorpus keeps the committed seed corpus of FuzzParseTranscript
// equal to transcriptCases (internal/fuzzseed); -write-corpus rewrites it:
//
//	go test ./devices/serialport/serialtest -run TestWriteCorpus -write-corpus
func TestWriteCorpus(t *testing.T) {
	var seeds []fuzzseed.Seed
	for _, tc := range transcriptCases {
		seeds = append(seeds, fuzzseed.Seed{Name: strings.ReplaceAll(tc.name, " ", "-"), Args: []any{[]byte(tc.in)}})
	}
	fuzzseed.Sync(t, "FuzzParseTranscript", seeds)
}
