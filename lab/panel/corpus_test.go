package panel

import (
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// TestWriteCorpus keeps the committed seed corpora of the fuzz targets
// equal to their tables (internal/fuzzseed); -write-corpus rewrites them:
//
//	go test ./lab/panel -run TestWriteCorpus -write-corpus
func TestWriteCorpus(t *testing.T) {
	var parse, kit, interp []fuzzseed.Seed
	for _, tc := range parseCases {
		parse = append(parse, fuzzseed.Seed{Name: tc.name, Args: []any{caseFile(tc.old, tc.new)}})
	}
	for _, tc := range kitCases {
		kit = append(kit, fuzzseed.Seed{Name: tc.name, Args: []any{[]byte(tc.in)}})
	}
	for _, tc := range interpretCases {
		interp = append(interp, fuzzseed.Seed{Name: tc.name, Args: []any{tc.analyte, tc.stage == Confirm, tc.raw, tc.units}})
	}
	fuzzseed.Sync(t, "FuzzParse", parse)
	fuzzseed.Sync(t, "FuzzParseKit", kit)
	fuzzseed.Sync(t, "FuzzInterpret", interp)
}
