package bagit

import (
	"fmt"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// TestWriteCorpus keeps the committed seed corpora of FuzzOpenZip and
// FuzzParseManifest equal to their seed generators (internal/fuzzseed);
// -write-corpus rewrites them:
//
//	go test ./chain/bagit -run TestWriteCorpus -write-corpus
func TestWriteCorpus(t *testing.T) {
	var zips []fuzzseed.Seed
	for _, s := range zipSeeds(t) {
		zips = append(zips, fuzzseed.Seed{Name: s.name, Args: []any{s.data}})
	}
	fuzzseed.Sync(t, "FuzzOpenZip", zips)

	var lines []fuzzseed.Seed
	for i, tt := range manifestLineTests {
		lines = append(lines, fuzzseed.Seed{Name: fmt.Sprintf("line-%02d", i), Args: []any{tt.line + "\n"}})
	}
	for _, m := range []struct{ name, text string }{
		{"manifest-crlf", h64 + "  data/a\r\n" + h64 + "\tdata/b\r\n"},
		{"manifest-mixed", h64 + "  data/a\r" + strings.Repeat("cd", 64) + "  data/b%0A\n\n"},
		{"manifest-bom", "\ufeff" + h64 + "  data/a\n"},
	} {
		lines = append(lines, fuzzseed.Seed{Name: m.name, Args: []any{m.text}})
	}
	fuzzseed.Sync(t, "FuzzParseManifest", lines)
}
