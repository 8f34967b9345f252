package chain

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

func TestRefs(t *testing.T) {
	for _, tt := range []struct {
		ref string
		ini string
		n   uint64
	}{{"JS/1", "JS", 1}, {"ABCD/12345", "ABCD", 12345}, {"J/7", "J", 7}} {
		ini, n, err := ParseRef(tt.ref)
		if err != nil || ini != tt.ini || n != tt.n || FormatRef(ini, n) != tt.ref {
			t.Errorf("ParseRef(%q) = %q %d %v", tt.ref, ini, n, err)
		}
	}
	for _, bad := range []string{"", "JS", "JS/", "JS/0", "JS/01", "js/1", "JSXYZ/1", "JS/1/2", "JS/-1", "JS/+1", "JS/ 1", "J S/1"} {
		if _, _, err := ParseRef(bad); !errors.Is(err, ErrBadRef) {
			t.Errorf("ParseRef(%q) accepted", bad)
		}
	}
}

func TestValidCaseRef(t *testing.T) {
	good := []string{
		"CASE-1", "Op Lester 2026-11", "01-23456-26",
		// UK references carry slashes: crime references, incident
		// numbers, laboratory numbers.
		"01/123456/26", "1234567/26", "CAD 1234/04DEC26", "LAB/26/00123", "/", "a//b/",
		"50% & <more>", strings.Repeat("x", 64), strings.Repeat("/", 64), strings.Repeat("é", 32), "Zeugnis Müller",
	}
	for _, s := range good {
		if err := ValidCaseRef(s); err != nil {
			t.Errorf("ValidCaseRef(%q): %v", s, err)
		}
	}
	for _, bad := range []string{"", "a\nb", "a\x00b", "tab\there", "\x1b[31mred", strings.Repeat("x", 65), " lead", "trail ", " ",
		"a\\b", "bad\xffutf8", "a\u2028b", "a\u0085b", "a\u007fb",
		// Short enough in characters, too long once escaped for a
		// folder name (192 bytes).
		strings.Repeat("é", 33), strings.Repeat("é", 64), strings.Repeat("😀", 17)} {
		if err := ValidCaseRef(bad); !errors.Is(err, ErrBadRef) {
			t.Errorf("ValidCaseRef(%q) accepted", bad)
		}
	}
}

// caseRefEscapes are case references and their folder-name form; they
// also seed FuzzUnescapeCaseRef.
var caseRefEscapes = []struct{ ref, esc string }{
	{"CASE-7", "CASE-7"},
	{"01/123456/26", "01%2F123456%2F26"},
	{"CAD 1234/04DEC26", "CAD%201234%2F04DEC26"},
	{"LAB/26/00123", "LAB%2F26%2F00123"},
	{"50% off", "50%25%20off"},
	{"a.b_c-d", "a.b_c-d"},
	{"Müller", "M%C3%BCller"},
	{"~+=:", "%7E%2B%3D%3A"},
	{"..", ".."},
}

func TestEscapeCaseRef(t *testing.T) {
	for _, tt := range caseRefEscapes {
		if got := EscapeCaseRef(tt.ref); got != tt.esc {
			t.Errorf("EscapeCaseRef(%q) = %q, want %q", tt.ref, got, tt.esc)
		}
		if got, err := UnescapeCaseRef(tt.esc); err != nil || got != tt.ref {
			t.Errorf("UnescapeCaseRef(%q) = %q, %v, want %q", tt.esc, got, err, tt.ref)
		}
	}
	// Only EscapeCaseRef's own output is accepted, so each reference has
	// exactly one folder name and each folder name one reference.
	for _, bad := range []string{"%", "%2", "%2f", "%ZZ", "%41", "%2D", "%5F", "a b", "a/b", "a%", "%C3", "%FF", "%C3%28", "é", "a~b"} {
		if got, err := UnescapeCaseRef(bad); !errors.Is(err, ErrBadRef) {
			t.Errorf("UnescapeCaseRef(%q) = %q, %v; want ErrBadRef", bad, got, err)
		}
	}
}

func FuzzUnescapeCaseRef(f *testing.F) {
	for _, tt := range caseRefEscapes {
		f.Add(tt.esc)
		f.Add(tt.ref)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := UnescapeCaseRef(s)
		if err != nil {
			if !errors.Is(err, ErrBadRef) {
				t.Fatalf("error not ErrBadRef: %v", err)
			}
		} else if EscapeCaseRef(ref) != s {
			t.Fatalf("%q unescapes to %q, which escapes to %q", s, ref, EscapeCaseRef(ref))
		}
		// Every string escapes to a name that unescapes back to it and
		// uses only the safe set and '%'.
		if !utf8.ValidString(s) {
			return
		}
		esc := EscapeCaseRef(s)
		if back, err := UnescapeCaseRef(esc); err != nil || back != s {
			t.Fatalf("%q escapes to %q, which unescapes to %q, %v", s, esc, back, err)
		}
		if strings.Trim(esc, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._%") != "" {
			t.Fatalf("%q escapes to %q, outside the safe set", s, esc)
		}
	})
}

func TestWriteCorpusCaseRef(t *testing.T) {
	var entries [][]any
	for _, tt := range caseRefEscapes {
		entries = append(entries, []any{tt.esc}, []any{tt.ref})
	}
	fuzzseed.Write(t, "FuzzUnescapeCaseRef", entries)
}
