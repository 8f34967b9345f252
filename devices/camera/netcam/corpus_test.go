package netcam

import (
	"crypto/sha256"
	"encoding/hex"
	"hash/crc32"
	"os"
	"path/filepath"
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
	return map[string][][]any{"FuzzParseResponse": resp, "FuzzParseStatus": st}
}

// TestWriteCorpus rewrites the committed seed corpora from the test tables:
//
//	go test ./devices/camera/netcam -run TestWriteCorpus -write-corpus
func TestWriteCorpus(t *testing.T) {
	for target, entries := range corpora() {
		fuzzseed.Write(t, target, entries)
	}
}

// TestFuzzCorpusIsCommitted fails if a table entry is missing from the
// committed corpus (run TestWriteCorpus with -write-corpus).
func TestFuzzCorpusIsCommitted(t *testing.T) {
	for target, entries := range corpora() {
		for _, e := range entries {
			want, err := fuzzseed.Encode(e...)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(want)
			path := filepath.Join("testdata", "fuzz", target, hex.EncodeToString(sum[:8]))
			got, err := os.ReadFile(path)
			if err != nil || string(got) != string(want) {
				t.Errorf("%s: corpus entry %s missing or stale (run TestWriteCorpus with -write-corpus)", target, path)
			}
		}
	}
}
