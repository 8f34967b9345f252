package netcam

import (
	"hash/crc32"
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

func crc32IEEE(b []byte) uint32 { return crc32.ChecksumIEEE(b) }

func corpora() map[string][][]any {
	resp := make([][]any, 0, len(responseCases))
	for _, c := range responseCases {
		resp = append(resp, []any{c.resp.bytes()})
	}
	st := make([][]any, 0, len(statusCases))
	for _, c := range statusCases {
		st = append(st, []any{[]byte(c.body)})
	}
	prev := make([][]any, 0, len(previewCases))
	for _, c := range previewCases {
		prev = append(prev, []any{[]byte(c.body)})
	}
	return map[string][][]any{"FuzzParseResponse": resp, "FuzzParseStatus": st, "FuzzPreviewReader": prev}
}

// TestWriteCorpus keeps the committed seed corpora equal to the test tables
// (internal/fuzzseed); -write-corpus rewrites them:
//
//	go test ./devices/camera/netcam -run TestWriteCorpus -write-corpus
func TestWriteCorpus(t *testing.T) {
	for target, entries := range corpora() {
		fuzzseed.Write(t, target, entries)
	}
}
