package lightsim

import (
	"fmt"
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// TestWriteCorpus keeps the committed seed corpus of FuzzHandle equal to
// handleCases (internal/fuzzseed); -write-corpus rewrites it:
//
//	go test ./devices/light/lightsim -run TestWriteCorpus -write-corpus
func TestWriteCorpus(t *testing.T) {
	var seeds []fuzzseed.Seed
	for i, tc := range handleCases {
		seeds = append(seeds, fuzzseed.Seed{Name: fmt.Sprintf("%02d", i), Args: []any{[]byte(tc.line)}})
	}
	fuzzseed.Sync(t, "FuzzHandle", seeds)
}
