package record

import (
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
	"github.com/exhibit-forensics/exhibit/lab/value"
)

// TestWriteCorpus keeps the committed seed corpus of FuzzParseMessage equal to
// messageCases (internal/fuzzseed); -write-corpus rewrites it:
//
//	go test ./lab/astm/record -run TestWriteCorpus -write-corpus
func TestWriteCorpus(t *testing.T) {
	var msgs [][]any
	for _, tc := range messageCases {
		msgs = append(msgs, []any{[]byte(tc.in), int(tc.opt.Charset), tc.opt.DecimalMark == value.Comma, tc.opt.Declaration})
	}
	fuzzseed.Write(t, "FuzzParseMessage", msgs)
}
