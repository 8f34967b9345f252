package hl7

import (
	"errors"
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
	"github.com/exhibit-forensics/exhibit/lab/charset"
)

// escapeCases: one text subcomponent with escapes, and what it decodes to
// (or the error). Delimiters are the standard ones with truncation '#'
// where the case says so.
var escapeCases = []struct {
	name  string
	in    string
	trunc bool
	want  string
	err   error
}{
	{"delimiters", `a\F\b\S\c\R\d\E\e\T\f`, false, "a|b^c~d\\e&f", nil},
	{"hex-letter", `\X41\`, false, "A", nil},
	{"hex-cr", `a\X0D\b`, false, "a\rb", nil},
	{"hex-crlf", `line1\X0D0A\line2`, false, "line1\r\nline2", nil},
	{"hex-lower-digits", `\X0d0a\`, false, "\r\n", nil},
	{"lower-x", `C:\x0d\`, false, "", ErrEscape},
	{"line-break", `line1\.br\line2`, false, "line1\nline2", nil},
	{"highlight", `\H\bold\N\ plain`, false, `\H\bold\N\ plain`, nil},
	{"formatting", `a\.sp2\b\.in+4\c\.ti-2\d\.sk3\e\.ce\f\.fi\g\.nf\`, false, `a\.sp2\b\.in+4\c\.ti-2\d\.sk3\e\.ce\f\.fi\g\.nf\`, nil},
	{"local", `\Zvendor7\x`, false, `\Zvendor7\x`, nil},
	{"truncation", `a\P\b`, true, "a#b", nil},
	{"p-without-truncation", `a\P\b`, false, `a\P\b`, nil},
	{"open", `a\F`, false, "", ErrEscape},
	{"empty", `a\\b`, false, "", ErrEscape},
	{"unknown", `C:\Q\dir`, false, "", ErrEscape},
	{"bad-hex", `\XZZ\`, false, "", ErrEscape},
	{"odd-hex", `\X414\`, false, "", ErrEscape},
	{"empty-hex", `\X\`, false, "", ErrEscape},
	{"charset-switch", `\C2842\abc`, false, "", ErrEscape},
	{"multibyte-switch", `\M2442\abc`, false, "", ErrEscape},
	{"raw-control", "a\x01b", false, "", ErrControl},
}

// TestEscapes: every standard escape is decoded into the value, formatting
// commands stay as documented text, and only what is not an escape at all
// is refused (issue 8, item 12).
func TestEscapes(t *testing.T) {
	for _, tc := range escapeCases {
		t.Run(tc.name, func(t *testing.T) {
			d := Standard
			if tc.trunc {
				d.Truncation = '#'
			}
			p := &parser{d: d, cs: charset.UTF8}
			got, err := p.text([]byte(tc.in), 0)
			if tc.err != nil {
				if err == nil || !errors.Is(err, tc.err) {
					t.Fatalf("%q: %q, %v; want %v", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("%q decodes to %q, %v; want %q", tc.in, got, err, tc.want)
			}
			// What was decoded encodes to text that decodes the same.
			enc, eerr := appendText(nil, got, d, charset.UTF8)
			if eerr != nil {
				t.Fatalf("encoding %q: %v", got, eerr)
			}
			if again, err := p.text(enc, 0); err != nil || again != got {
				t.Fatalf("%q re-encoded as %q decodes to %q, %v", got, enc, again, err)
			}
		})
	}
}

// TestEscapedValuesAreDecoded: OBX-5 text values and whole messages with
// the escapes that used to reject them.
func TestEscapedValuesAreDecoded(t *testing.T) {
	in := msg("MSH|^~\\&|A|B|||20240612||ORU^R01|1|P|2.5.1",
		"OBR|1|S||GHB",
		"OBX|1|ST|A||10\\F\\20",
		"OBX|2|TX|B||line1\\.br\\line2",
		"OBX|3|ST|C||\\X41\\BC",
		"OBX|4|FT|D||\\H\\HIGH\\N\\ then \\X0D0A\\next",
		"OBX|5|CE|E||POS^Pos\\S\\itive^L",
		"NTE|1||a\\X0D\\b")
	m, err := Parse(in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	o, err := ParseORU(m)
	if err != nil {
		t.Fatal(err)
	}
	obs := o.Patients[0].Orders[0].Observations
	for i, want := range []string{"10|20", "line1\nline2", "ABC", "\\H\\HIGH\\N\\ then \r\nnext", "POS^Pos\\S\\itive^L"} {
		if got := obs[i].Value.Raw; got != want {
			t.Errorf("OBX %d value %q, want %q", i+1, got, want)
		}
	}
	if n := obs[4].Notes; len(n) != 1 || n[0] != "a\rb" {
		t.Errorf("note %q", n)
	}
}

func TestWriteCorpusEscapes(t *testing.T) {
	var entries [][]any
	for _, tc := range escapeCases {
		tr := 0
		if tc.trunc {
			tr = 1
		}
		entries = append(entries, []any{[]byte(tc.in), tr})
	}
	fuzzseed.Write(t, "FuzzEscapes", entries)
}

// FuzzEscapes: decoding one text value never panics, fails only with
// ErrEscape, ErrControl or ErrCharset, and what decodes re-encodes to text
// that decodes to the same value.
func FuzzEscapes(f *testing.F) {
	for _, tc := range escapeCases {
		tr := 0
		if tc.trunc {
			tr = 1
		}
		f.Add([]byte(tc.in), tr)
	}
	f.Fuzz(func(t *testing.T, in []byte, trunc int) {
		d := Standard
		if trunc%2 == 1 {
			d.Truncation = '#'
		}
		for _, cs := range []charset.Charset{charset.ASCII, charset.Latin1, charset.UTF8} {
			p := &parser{d: d, cs: cs}
			got, err := p.text(in, 0)
			if err != nil {
				if !errors.Is(err, ErrEscape) && !errors.Is(err, ErrControl) && !errors.Is(err, ErrCharset) {
					t.Fatalf("%q: unexpected error %v", in, err)
				}
				continue
			}
			enc, eerr := appendText(nil, got, d, cs)
			if eerr != nil {
				t.Fatalf("%q decoded to %q, which does not encode in %v: %v", in, got, cs, eerr)
			}
			if again, err := p.text(enc, 0); err != nil || again != got {
				t.Fatalf("%q -> %q -> %q -> %q, %v", in, got, enc, again, err)
			}
		}
	})
}
