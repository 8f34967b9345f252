package astm

import (
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// TestWriteCorpus keeps the committed seed corpora of FuzzParseDialect and
// FuzzAssemble equal to dialectCases and assembleCases (internal/fuzzseed);
// -write-corpus rewrites them:
//
//	go test ./lab/astm -run TestWriteCorpus -write-corpus
func TestWriteCorpus(t *testing.T) {
	var seeds [][]any
	for _, tc := range dialectCases {
		seeds = append(seeds, []any{[]byte(tc.in)})
	}
	fuzzseed.Write(t, "FuzzParseDialect", seeds)
	var asm [][]any
	for _, tc := range assembleCases {
		asm = append(asm, []any{[]byte(tc.text), tc.size, tc.lastEvery, tc.max, tc.failEvery})
	}
	fuzzseed.Write(t, "FuzzAssemble", asm)
}
