package camsim

import (
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

// TestWriteCorpus keeps testdata/fuzz/FuzzCaptureRequest equal to
// captureBodies (internal/fuzzseed); -write-corpus rewrites it:
//
//	go test ./devices/camera/camsim -run TestWriteCorpus -write-corpus
func TestWriteCorpus(t *testing.T) { fuzzseed.Write(t, "FuzzCaptureRequest", corpus()) }
