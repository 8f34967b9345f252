package streamtest

import (
	"bytes"
	"strings"
	"testing"
)

// notationCases double as the seed corpus of FuzzNotation: enc is the
// notation, raw the bytes it stands for. Encode(raw) must be enc unless
// decodeOnly (a spelling Decode accepts but Encode does not write).
var notationCases = []struct {
	name       string
	enc        string
	raw        string
	decodeOnly bool
}{
	{"astm frame", "<STX>1H|\\^&<CR><ETX>FF<CR><LF>", "\x021H|\\^&\r\x03FF\r\n", false},
	{"every name", "<STX><ETX><EOT><ENQ><ACK><LF><VT><CR><NAK><ETB><FS>", "\x02\x03\x04\x05\x06\n\x0b\r\x15\x17\x1c", false},
	{"other bytes", "<x00><x01><x7F><x80><xE9><xFF>", "\x00\x01\x7f\x80\xe9\xff", false},
	{"lower-case hex", "<xe9>", "\xe9", true},
	{"name for a byte", "<x02>", "\x02", true},
	{"literal angle", "<5.0|mg/L|<18|umol/L<CR>", "<5.0|mg/L|<18|umol/L\r", false},
	{"not a name", "<notaname>", "<notaname>", false},
	{"lower-case name", "<stx>", "<stx>", false},
	{"unclosed", "<STX", "<STX", false},
	{"angle before a name", "<x3C>CR>", "<CR>", false},
	{"angle before a byte", "<x3C>x41>", "<x41>", false},
	{"angle before bad hex", "<x3C>xZZ>", "<xZZ>", false},
	{"angle with a byte inside", "<x<STX>>", "<x\x02>", false},
	{"trailing space", "ok<x20>", "ok ", false},
	{"inner space", "a b", "a b", false},
	{"empty", "", "", false},
}

func TestNotation(t *testing.T) {
	for _, tc := range notationCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.enc)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.raw {
				t.Fatalf("Decode(%q) = %q, want %q", tc.enc, got, tc.raw)
			}
			if enc := Encode([]byte(tc.raw)); !tc.decodeOnly && enc != tc.enc {
				t.Fatalf("Encode(%q) = %q, want %q", tc.raw, enc, tc.enc)
			}
		})
	}
	for _, bad := range []string{"<xZZ>", "<x+1>", "ok<xG0>", "<x-1>"} {
		if _, err := Decode(bad); err == nil {
			t.Errorf("Decode(%q) succeeded", bad)
		}
	}
}

// TestEncodeIsOneLine: whatever the bytes, the notation is one line of
// printable ASCII that does not end in a space.
func TestEncodeIsOneLine(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	enc := Encode(append(all, ' '))
	if strings.ContainsAny(enc, "\r\n") || strings.HasSuffix(enc, " ") {
		t.Fatalf("Encode gave %q", enc)
	}
	for _, c := range []byte(enc) {
		if c < 0x20 || c > 0x7e {
			t.Fatalf("Encode wrote byte %#x", c)
		}
	}
}

// FuzzNotation: Encode is undone by Decode for any bytes, and Decode of
// any text either fails or gives bytes that survive the same round trip.
func FuzzNotation(f *testing.F) {
	for _, tc := range notationCases {
		f.Add([]byte(tc.enc))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if back, err := Decode(Encode(data)); err != nil || !bytes.Equal(back, data) {
			t.Fatalf("Decode(Encode(%q)) = %q, %v", data, back, err)
		}
		raw, err := Decode(string(data))
		if err != nil {
			return
		}
		if back, err := Decode(Encode(raw)); err != nil || !bytes.Equal(back, raw) {
			t.Fatalf("Decode(Encode(%q)) = %q, %v", raw, back, err)
		}
	})
}
