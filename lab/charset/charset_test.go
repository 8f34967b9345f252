package charset

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"unicode/utf8"
)

// decodeCases are also FuzzDecode's seeds (corpus_test.go). at is the
// offset of the refused byte, -1 when the bytes decode to want.
var decodeCases = []struct {
	name string
	cs   Charset
	in   string
	want string
	at   int
}{
	{"empty", ASCII, "", "", -1},
	{"ascii", ASCII, "GHB 42.0 mg/L", "GHB 42.0 mg/L", -1},
	{"ascii-in-every-charset", Windows1252, "a\tb", "a\tb", -1},
	{"ascii-high", ASCII, "Ren\xe9e", "", 3},
	{"latin1", Latin1, "Ren\xe9e M\xfcller", "Renée Müller", -1},
	{"latin1-c1", Latin1, "ok\x80", "", 2},
	{"latin1-c1-last", Latin1, "\xe9\x9f", "", 1},
	{"latin1-nbsp", Latin1, "\xa0\xff", "\u00a0ÿ", -1},
	{"latin9-euro", Latin9, "5 \xa4", "5 €", -1},
	{"latin9-c1", Latin9, "\x85", "", 0},
	{"cp1252-euro", Windows1252, "\x80 5", "€ 5", -1},
	{"cp1252-quotes", Windows1252, "\x93x\x94", "“x”", -1},
	{"cp1252-undefined-81", Windows1252, "a\x81", "", 1},
	{"cp1252-undefined-8d", Windows1252, "\x8d", "", 0},
	{"cp1252-undefined-8f", Windows1252, "\x8f", "", 0},
	{"cp1252-undefined-90", Windows1252, "\x90", "", 0},
	{"cp1252-undefined-9d", Windows1252, "\x9d", "", 0},
	{"utf8", UTF8, "Ren\xc3\xa9e", "Renée", -1},
	{"utf8-replacement-char", UTF8, "\xef\xbf\xbd", "\ufffd", -1},
	{"utf8-stray-continuation", UTF8, "a\xa9", "", 1},
	{"utf8-truncated", UTF8, "ok\xc3", "", 2},
	{"utf8-latin1-bytes", UTF8, "Ren\xe9e", "", 3},
	{"utf8-overlong", UTF8, "\xc0\xaf", "", 0},
	{"utf8-surrogate", UTF8, "x\xed\xa0\x80", "", 1},
	{"utf8-after-replacement", UTF8, "\xef\xbf\xbd\xff", "", 3},
}

func TestDecode(t *testing.T) {
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cs.Decode([]byte(tc.in))
			app, aerr := tc.cs.AppendDecoded([]byte("pre:"), []byte(tc.in))
			if tc.at < 0 {
				if err != nil || got != tc.want || aerr != nil || string(app) != "pre:"+tc.want {
					t.Fatalf("Decode = %q, %v; AppendDecoded = %q, %v; want %q", got, err, app, aerr, tc.want)
				}
				return
			}
			var de *DecodeError
			if !errors.As(err, &de) || de.Offset != tc.at || de.Byte != tc.in[tc.at] || de.Charset != tc.cs || got != "" {
				t.Fatalf("Decode = %q, %#v; want a DecodeError at %d", got, err, tc.at)
			}
			if aerr == nil || aerr.Error() != err.Error() || string(app) != "pre:" {
				t.Fatalf("AppendDecoded = %q, %v; want %q unchanged and %v", app, aerr, "pre:", err)
			}
		})
	}
}

// TestRefusedBytes checks every byte of every single-byte charset against
// the rules in the package doc, and that every byte decoded encodes back to
// itself.
func TestRefusedBytes(t *testing.T) {
	refused := map[Charset]func(b byte) bool{
		ASCII:       func(b byte) bool { return b >= 0x80 },
		Latin1:      func(b byte) bool { return b >= 0x80 && b <= 0x9F },
		Latin9:      func(b byte) bool { return b >= 0x80 && b <= 0x9F },
		Windows1252: func(b byte) bool { return bytes.IndexByte([]byte{0x81, 0x8D, 0x8F, 0x90, 0x9D}, b) >= 0 },
	}
	for cs, want := range refused {
		for i := 0; i < 256; i++ {
			b := []byte{byte(i)}
			s, err := cs.Decode(b)
			if (err != nil) != want(byte(i)) {
				t.Errorf("%v: byte 0x%02X: Decode = %q, %v", cs, i, s, err)
				continue
			}
			if err != nil {
				continue
			}
			back, err := cs.Append(nil, s)
			if err != nil || !bytes.Equal(back, b) {
				t.Errorf("%v: byte 0x%02X decodes to %q, which encodes to % X, %v", cs, i, s, back, err)
			}
		}
	}
}

var encodeCases = []struct {
	name string
	cs   Charset
	in   string
	want string
	at   int // offset of the refused character; -1 when in encodes to want
}{
	{"ascii", ASCII, "GHB", "GHB", -1},
	{"ascii-umlaut", ASCII, "Müller", "", 1},
	{"latin1", Latin1, "Müller", "M\xfcller", -1},
	{"latin1-euro", Latin1, "5 €", "", 2},
	{"latin1-c1", Latin1, "a\u0085", "", 1},
	{"latin9-euro", Latin9, "5 €", "5 \xa4", -1},
	{"latin9-currency-sign", Latin9, "¤", "", 0},
	{"cp1252-euro", Windows1252, "€", "\x80", -1},
	{"cp1252-c1", Windows1252, "\u0081", "", 0},
	{"cp1252-no-byte", Windows1252, "xő", "", 1},
	{"utf8", UTF8, "Müller €", "Müller €", -1},
	{"utf8-replacement-char", UTF8, "\ufffd", "\ufffd", -1},
	{"utf8-invalid", UTF8, "\ufffda\xffb", "", 4},
	{"latin1-invalid-utf8", Latin1, "a\xffb", "", 1},
}

func TestAppend(t *testing.T) {
	for _, tc := range encodeCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cs.Append([]byte("pre:"), tc.in)
			if tc.at < 0 {
				if err != nil || string(got) != "pre:"+tc.want {
					t.Fatalf("Append = %q, %v; want %q", got, err, "pre:"+tc.want)
				}
				return
			}
			var ee *EncodeError
			if !errors.As(err, &ee) || ee.Offset != tc.at || ee.Charset != tc.cs || string(got) != "pre:" {
				t.Fatalf("Append = %q, %#v; want dst unchanged and an EncodeError at %d", got, err, tc.at)
			}
			if r, _ := utf8.DecodeRuneInString(tc.in[tc.at:]); ee.Rune != r {
				t.Errorf("EncodeError.Rune = %q, want %q", ee.Rune, r)
			}
		})
	}
}

func TestErrorWords(t *testing.T) {
	for _, tc := range []struct {
		err  interface{ Describe(string) string }
		name string
		want string
	}{
		{&DecodeError{Charset: Latin1, Byte: 0x80}, "", "byte 0x80 has no character in iso-8859-1"},
		{&DecodeError{Charset: Latin1, Byte: 0x80}, "8859/1", "byte 0x80 has no character in 8859/1"},
		{&DecodeError{Charset: ASCII, Byte: 0xE9}, "", "byte 0xE9 is not ASCII"},
		{&DecodeError{Charset: UTF8, Byte: 0xC3}, "", "byte 0xC3 is not valid UTF-8"},
		{&EncodeError{Charset: Windows1252, Rune: 'ő'}, "", "'ő' has no byte in windows-1252"},
		{&EncodeError{Charset: Latin9, Rune: '¤'}, "8859/15", "'¤' has no byte in 8859/15"},
		{&EncodeError{Charset: ASCII, Rune: 'ü'}, "", "'ü' is not ASCII"},
		{&EncodeError{Charset: UTF8, Rune: utf8.RuneError}, "", "text is not valid UTF-8"},
	} {
		got := tc.err.Describe(tc.name)
		if tc.name == "" {
			got = tc.err.(error).Error()
		}
		if got != tc.want {
			t.Errorf("%#v: %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestInvalidCharset(t *testing.T) {
	bad := Charset(numCharsets)
	if bad.Valid() || bad.String() != "Charset(5)" {
		t.Errorf("Charset(5): Valid %v, String %q", bad.Valid(), bad)
	}
	if _, err := bad.Decode([]byte("\xe9")); !errors.Is(err, ErrUnknown) {
		t.Errorf("Decode in an invalid charset: %v", err)
	}
	if _, err := bad.Append(nil, "é"); !errors.Is(err, ErrUnknown) {
		t.Errorf("Append in an invalid charset: %v", err)
	}
}

// parseCases are also FuzzParse's seeds.
var parseCases = []struct {
	in   string
	want Charset
	ok   bool
}{
	{"ascii", ASCII, true},
	{"US-ASCII", ASCII, true},
	{"iso-8859-1", Latin1, true},
	{"Latin1", Latin1, true},
	{"iso8859-1", Latin1, true},
	{"ISO-8859-15", Latin9, true},
	{"latin9", Latin9, true},
	{"iso8859-15", Latin9, true},
	{"utf-8", UTF8, true},
	{"UTF8", UTF8, true},
	{"windows-1252", Windows1252, true},
	{"cp1252", Windows1252, true},
	{"", 0, false},
	{"ebcdic", 0, false},
	{"8859/1", 0, false}, // HL7's name: lab/hl7 reads MSH-18
	{" utf-8", 0, false},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		got, err := Parse(tc.in)
		if tc.ok != (err == nil) || tc.ok && got != tc.want || !tc.ok && !errors.Is(err, ErrUnknown) {
			t.Errorf("Parse(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	for c := range numCharsets {
		if got, err := Parse(c.String()); err != nil || got != c {
			t.Errorf("Parse(%q) = %v, %v", c, got, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add([]byte(tc.in), int(tc.cs))
	}
	f.Fuzz(func(t *testing.T, in []byte, n int) {
		cs := Charset(uint(n) % uint(numCharsets))
		s, err := cs.Decode(in)
		app, aerr := cs.AppendDecoded(nil, in)
		if (err == nil) != (aerr == nil) || err == nil && s != string(app) {
			t.Fatalf("%v: Decode = %q, %v but AppendDecoded = %q, %v", cs, s, err, app, aerr)
		}
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || de.Offset < 0 || de.Offset >= len(in) || in[de.Offset] != de.Byte {
				t.Fatalf("%v: % X: %#v", cs, in, err)
			}
			if _, err := cs.Decode(in[:de.Offset]); err != nil {
				t.Fatalf("%v: % X refused at %d, but what comes before it is refused too: %v", cs, in, de.Offset, err)
			}
			return
		}
		if !utf8.ValidString(s) {
			t.Fatalf("%v: % X decodes to invalid UTF-8 %q", cs, in, s)
		}
		back, err := cs.Append(nil, s)
		if err != nil || !bytes.Equal(back, in) {
			t.Fatalf("%v: % X decodes to %q, which encodes to % X, %v", cs, in, s, back, err)
		}
	})
}

func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrUnknown) {
				t.Fatalf("Parse(%q): %v", s, err)
			}
			return
		}
		if !c.Valid() {
			t.Fatalf("Parse(%q) = invalid %v", s, c)
		}
		if back, err := Parse(c.String()); err != nil || back != c {
			t.Fatalf("Parse(%q) = %v, whose name parses to %v, %v", s, c, back, err)
		}
	})
}

func ExampleCharset_Decode() {
	s, err := Latin1.Decode([]byte("M\xfcller"))
	fmt.Println(s, err)
	_, err = Latin1.Decode([]byte("5 \x80"))
	fmt.Println(err)
	// Output:
	// Müller <nil>
	// byte 0x80 has no character in iso-8859-1
}
