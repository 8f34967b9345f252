package order

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// decodeCases are book files, good and bad; the fuzz seed corpus is made
// from them (TestWriteCorpus).
var decodeCases = []struct {
	name string
	in   string
	ok   bool
}{
	{"empty book", `{"format":"exhibit-orders v1","orders":[],"unmatched":[]}`, true},
	{"one of each state", `{"format":"exhibit-orders v1","orders":[
 {"specimen":"S1","tests":["GHB"],"priority":"R","ordered":"2026-12-05T09:00:00Z","state":"pending"},
 {"specimen":"S2","tests":["GHB","THC"],"priority":"S","ref":"LB/1-A","patient":"CASE-1","ordered":"2026-12-05T09:00:00Z","state":"sent","sent":"2026-12-05T09:01:00Z"},
 {"specimen":"S3","tests":["ETG"],"priority":"A","ordered":"2026-12-05T09:00:00Z","state":"queried","queried":"2026-12-05T09:02:00Z"},
 {"specimen":"S4","tests":["ETG"],"priority":"R","ordered":"2026-12-05T09:00:00Z","state":"resulted","resulted":"2026-12-05T09:03:00Z",
  "results":[{"capture":"LB/9","messageId":"sha256:00","codes":["ETG"],"matched":"2026-12-05T09:03:00Z"}]}],
 "unmatched":[{"specimen":"X1","capture":"LB/10","messageId":"sha256:01","codes":["GHB"],"matched":"2026-12-05T09:04:00Z"}]}`, true},
	{"wrong format", `{"format":"exhibit-orders v2","orders":[]}`, false},
	{"unknown field", `{"format":"exhibit-orders v1","orders":[],"extra":1}`, false},
	{"bad state", `{"format":"exhibit-orders v1","orders":[{"specimen":"S1","tests":["GHB"],"priority":"R","state":"lost"}]}`, false},
	{"specimen twice", `{"format":"exhibit-orders v1","orders":[{"specimen":"S1","tests":["GHB"],"priority":"R","state":"pending"},{"specimen":"S1","tests":["THC"],"priority":"R","state":"pending"}]}`, false},
	{"delimiter", `{"format":"exhibit-orders v1","orders":[{"specimen":"S|1","tests":["GHB"],"priority":"R","state":"pending"}]}`, false},
	{"trailing data", `{"format":"exhibit-orders v1"} {}`, false},
	{"truncated", `{"format":"exhibit-orders v1","orders":[`, false},
	{"not json", "H|\\^&\r", false},
}

func TestDecode(t *testing.T) {
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("Decode: %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
		})
	}
}

// TestWriteCorpus keeps FuzzDecode's committed seed corpus equal to
// decodeCases; -write-corpus rewrites it.
func TestWriteCorpus(t *testing.T) {
	var seeds [][]any
	for _, tc := range decodeCases {
		seeds = append(seeds, []any{[]byte(tc.in)})
	}
	fuzzseed.Write(t, "FuzzDecode", seeds)
}

// FuzzDecode: a book file either is refused with ErrFormat or decodes to
// a book that encodes and decodes to itself.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := Decode(out)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", out, err)
		}
		if !reflect.DeepEqual(s, s2) {
			t.Fatalf("round trip changed the book:\n%+v\n%+v", s, s2)
		}
	})
}
