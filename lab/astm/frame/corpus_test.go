package frame

import (
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// TestWriteCorpus keeps the committed seed corpus of FuzzParse and FuzzScanner equal to
// frameCases (internal/fuzzseed); -write-corpus rewrites it:
//
//	go test ./lab/astm/frame -run TestWriteCorpus -write-corpus
func TestWriteCorpus(t *testing.T) {
	var parse, scan [][]any
	for _, tc := range frameCases {
		parse = append(parse, []any{wire(tc.in), tc.opt.NoFrameNumbers, tc.opt.NoChecksum, tc.opt.NoTrailer})
		scan = append(scan, []any{wire(tc.in), 7})
	}
	fuzzseed.Write(t, "FuzzParse", parse)
	fuzzseed.Write(t, "FuzzScanner", scan)
}
