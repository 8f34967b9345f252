package camsim

import (
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

func queryCorpus() [][]any {
	var e [][]any
	for _, c := range previewQueries {
		e = append(e, []any{c.query})
	}
	return e
}

func corpus() [][]any {
	var e [][]any
	for _, b := range captureBodies {
		e = append(e, []any{[]byte(b)})
	}
	return e
}

// TestWriteCorpus keeps testdata/fuzz/FuzzCaptureRequest equal to
// captureBodies and FuzzPreviewQuery to previewQueries
// (internal/fuzzseed); -write-corpus rewrites them:
//
//	go test ./devices/camera/camsim -run TestWriteCorpus -write-corpus
func TestWriteCorpus(t *testing.T) {
	fuzzseed.Write(t, "FuzzCaptureRequest", corpus())
	fuzzseed.Write(t, "FuzzPreviewQuery", queryCorpus())
}
