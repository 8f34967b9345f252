package charset

import (
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// TestWriteCorpus keeps the committed seed corpora of FuzzDecode and
// FuzzParse equal to decodeCases and parseCases (internal/fuzzseed);
// -write-corpus rewrites them:
//
//	go test ./lab/charset -run TestWriteCorpus -write-corpus
func TestWriteCorpus(t *testing.T) {
	var dec []fuzzseed.Seed
	for _, tc := range decodeCases {
		dec = append(dec, fuzzseed.Seed{Name: tc.name, Args: []any{[]byte(tc.in), int(tc.cs)}})
	}
	fuzzseed.Sync(t, "FuzzDecode", dec)
	var parse [][]any
	for _, tc := range parseCases {
		parse = append(parse, []any{tc.in})
	}
	fuzzseed.Write(t, "FuzzParse", parse)
}
