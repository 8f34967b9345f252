package camsim

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

func corpus() [][]any {
	var e [][]any
	for _, b := range captureBodies {
		e = append(e, []any{[]byte(b)})
	}
	return e
}

// TestWriteCorpus rewrites testdata/fuzz/FuzzCaptureRequest:
//
//	go test ./devices/camera/camsim -run TestWriteCorpus -write-corpus
func TestWriteCorpus(t *testing.T) { fuzzseed.Write(t, "FuzzCaptureRequest", corpus()) }

func TestFuzzCorpusIsCommitted(t *testing.T) {
	for _, e := range corpus() {
		want, err := fuzzseed.Encode(e...)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(want)
		path := filepath.Join("testdata", "fuzz", "FuzzCaptureRequest", hex.EncodeToString(sum[:8]))
		if got, err := os.ReadFile(path); err != nil || string(got) != string(want) {
			t.Errorf("corpus entry %s missing or stale (run TestWriteCorpus with -write-corpus)", path)
		}
	}
}
