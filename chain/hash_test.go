package chain

import (
	"errors"
	"strings"
	"testing"
)

var hashTests = []struct {
	in   string
	ok   bool
	want string // Hex, when ok
}{
	{"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", true, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	{"sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", false, ""},
	{"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", false, ""},
	{"sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", false, ""},
	{"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85", false, ""},
	{"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555", false, ""},
	{"sha256:g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", false, ""},
	{"sha256:", false, ""},
	{"", false, ""},
}

func TestParseHash(t *testing.T) {
	for _, tt := range hashTests {
		h, err := ParseHash(tt.in)
		if tt.ok != (err == nil) {
			t.Errorf("ParseHash(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrBadHash) {
				t.Errorf("ParseHash(%q) error %v is not ErrBadHash", tt.in, err)
			}
			continue
		}
		if h.Hex() != tt.want || h.String() != tt.in {
			t.Errorf("ParseHash(%q) = %s", tt.in, h)
		}
	}
}

func TestSumAndText(t *testing.T) {
	h := Sum(nil)
	if got := h.Hex(); got != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatalf("Sum(nil) = %s", got)
	}
	hh := NewHasher()
	hh.Write([]byte("abc"))
	if HashOf(hh) != Sum([]byte("abc")) {
		t.Fatal("HashOf(NewHasher) differs from Sum")
	}
	b, _ := h.MarshalText()
	var back Hash
	if err := back.UnmarshalText(b); err != nil || back != h {
		t.Fatalf("text round trip: %v %s", err, back)
	}
	if !(Hash{}).IsZero() || h.IsZero() {
		t.Fatal("IsZero wrong")
	}
	m := map[Hash]int{h: 1}
	if m[Sum(nil)] != 1 {
		t.Fatal("Hash not usable as map key")
	}
}

func FuzzParseHash(f *testing.F) {
	for _, tt := range hashTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHash(s)
		if err != nil {
			return
		}
		if h.String() != s {
			t.Fatalf("ParseHash(%q) round trips to %q", s, h.String())
		}
		if !strings.HasPrefix(s, "sha256:") {
			t.Fatal("accepted without prefix")
		}
	})
}
