package syncwire

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

const root = `"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"`

var batchTests = []struct {
	name, body string
	ok         bool
}{
	{"one", `{"from":0,"records":["eyJ9"]}`, true},
	{"two", `{"from":41,"records":["eyJ9","e30="]}`, true},
	{"empty", `{"from":0,"records":[]}`, false},
	{"null-records", `{"from":0,"records":null}`, false},
	{"empty-record", `{"from":0,"records":[""]}`, false},
	{"unknown-member", `{"from":0,"records":["eyJ9"],"x":1}`, false},
	{"duplicate-member", `{"from":0,"from":1,"records":["eyJ9"]}`, false},
	{"case-variant", `{"From":0,"records":["eyJ9"]}`, false},
	{"negative", `{"from":-1,"records":["eyJ9"]}`, false},
	{"overflow", `{"from":18446744073709551615,"records":["eyJ9","e30="]}`, false},
	{"not-base64", `{"from":0,"records":["***"]}`, false},
	{"trailing", `{"from":0,"records":["eyJ9"]} {}`, false},
	{"not-json", `from=0`, false},
}

func TestParseBatch(t *testing.T) {
	for _, tt := range batchTests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseBatch([]byte(tt.body))
			if tt.ok != (err == nil) {
				t.Fatalf("ParseBatch(%s) = %v, want ok=%v", tt.body, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not match ErrMalformed", err)
			}
			if err == nil {
				// What parses marshals back to something that parses the same.
				b2, err := ParseBatch(Marshal(b))
				if err != nil || b2.From != b.From || len(b2.Records) != len(b.Records) {
					t.Errorf("round trip: %v %+v", err, b2)
				}
			}
		})
	}
}

func TestBatchLimits(t *testing.T) {
	rec := bytes.Repeat([]byte("x"), 1<<20)
	many := Batch{From: 0}
	for range MaxBatch + 1 {
		many.Records = append(many.Records, []byte("{}"))
	}
	if err := many.Check(); err == nil {
		t.Errorf("%d records accepted", len(many.Records))
	}
	if err := (&Batch{Records: [][]byte{rec}}).Check(); err != nil {
		t.Errorf("one record of the largest size refused: %v", err)
	}
	if err := (&Batch{Records: [][]byte{append(rec, 'x')}}).Check(); err == nil {
		t.Errorf("a record over chain.MaxRecordSize accepted")
	}
	big := Batch{}
	for range MaxBatchBytes/len(rec) + 1 {
		big.Records = append(big.Records, rec)
	}
	if err := big.Check(); err == nil {
		t.Errorf("%d bytes of records accepted", len(big.Records)*len(rec))
	}
	big.Records = big.Records[:MaxBatchBytes/len(rec)]
	if len(Marshal(big)) > MaxBody {
		t.Errorf("a batch at the byte limit marshals to %d bytes, over MaxBody %d", len(Marshal(big)), MaxBody)
	}
	if _, err := ParseBatch(Marshal(big)); err != nil {
		t.Errorf("a batch at the byte limit: %v", err)
	}
}

var stateTests = []struct {
	name, body string
	ok         bool
}{
	{"empty-log", `{"size":0,"root":` + root + `,"witnessed":0}`, true},
	{"witnessed", `{"size":12,"root":` + root + `,"witnessed":12}`, true},
	{"witnessed-past-size", `{"size":3,"root":` + root + `,"witnessed":4}`, false},
	{"bad-root", `{"size":3,"root":"sha256:00","witnessed":0}`, false},
	{"upper-hex", `{"size":3,"root":"sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855","witnessed":0}`, false},
	{"extra", `{"size":3,"root":` + root + `,"witnessed":0,"more":true}`, false},
}

func TestParseState(t *testing.T) {
	for _, tt := range stateTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseState([]byte(tt.body))
			if tt.ok != (err == nil) {
				t.Fatalf("ParseState(%s) = %v, want ok=%v", tt.body, err, tt.ok)
			}
		})
	}
}

var refusalTests = []struct {
	name, body string
	ok         bool
}{
	{"gap", `{"error":"send from 4","code":"gap","size":4}`, true},
	{"fork", `{"error":"fork","code":"fork","index":7}`, true},
	{"no-code", `{"error":"x"}`, false},
	{"html", `<html>502 Bad Gateway</html>`, false},
}

func TestParseRefusal(t *testing.T) {
	for _, tt := range refusalTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRefusal([]byte(tt.body))
			if tt.ok != (err == nil) {
				t.Fatalf("ParseRefusal(%s) = %v, want ok=%v", tt.body, err, tt.ok)
			}
		})
	}
}

func TestReadLimited(t *testing.T) {
	if b, err := ReadLimited(strings.NewReader("abc"), 3); err != nil || string(b) != "abc" {
		t.Errorf("at the limit: %q %v", b, err)
	}
	if _, err := ReadLimited(strings.NewReader("abcd"), 3); !errors.Is(err, ErrMalformed) {
		t.Errorf("over the limit: %v", err)
	}
}

func seeds() (batch, state, refusal [][]any) {
	for _, tt := range batchTests {
		batch = append(batch, []any{[]byte(tt.body)})
	}
	for _, tt := range stateTests {
		state = append(state, []any{[]byte(tt.body)})
	}
	for _, tt := range refusalTests {
		refusal = append(refusal, []any{[]byte(tt.body)})
	}
	return
}

func TestWriteCorpus(t *testing.T) {
	b, s, r := seeds()
	fuzzseed.Write(t, "FuzzParseBatch", b)
	fuzzseed.Write(t, "FuzzParseState", s)
	fuzzseed.Write(t, "FuzzParseRefusal", r)
}

// FuzzParseBatch: no input panics; what is accepted keeps its limits and
// survives a round trip.
func FuzzParseBatch(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := ParseBatch(body)
		if err != nil {
			return
		}
		if err := b.Check(); err != nil {
			t.Fatalf("accepted a batch that fails Check: %v", err)
		}
		b2, err := ParseBatch(Marshal(b))
		if err != nil || b2.From != b.From || len(b2.Records) != len(b.Records) {
			t.Fatalf("round trip: %v", err)
		}
		for i := range b.Records {
			if !bytes.Equal(b.Records[i], b2.Records[i]) {
				t.Fatalf("record %d changed in a round trip", i)
			}
		}
	})
}

func FuzzParseState(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := ParseState(body)
		if err != nil {
			return
		}
		if s.Witnessed > s.Size {
			t.Fatalf("accepted witnessed %d > size %d", s.Witnessed, s.Size)
		}
		if s2, err := ParseState(Marshal(s)); err != nil || *s2 != *s {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzParseRefusal(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseRefusal(body)
		if err != nil {
			return
		}
		if _, err := ParseRefusal(Marshal(r)); err != nil {
			t.Fatalf("round trip: %v", err)
		}
	})
}
