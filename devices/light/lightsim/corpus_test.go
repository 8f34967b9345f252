package lightsim

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the committed fuzz seed corpus")

// TestFuzzCorpusIsCommitted keeps testdata/fuzz/FuzzHandle in step with
// handleCases. Run with -update-corpus to rewrite it.
func TestFuzzCorpusIsCommitted(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzHandle")
	for i, tc := range handleCases {
		path := filepath.Join(dir, fmt.Sprintf("seed-%02d", i))
		want := fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", tc.line)
		if *updateCorpus {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("seed corpus file missing (go test -run TestFuzzCorpusIsCommitted -update-corpus): %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is out of date (run with -update-corpus)", path)
		}
	}
}
