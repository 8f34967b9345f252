package report

import (
	"strings"
	"testing"
	"unicode/utf8"

	"codeberg.org/go-pdf/fpdf"
	"golang.org/x/text/encoding/charmap"
)

func newDoc() *pdfDoc {
	f := fpdf.New("P", "mm", "A4", "")
	f.AddPage()
	f.SetFont("Helvetica", "", 8)
	return &pdfDoc{f: f, tr: f.UnicodeTranslatorFromDescriptor("cp1252")}
}

// TestText: the characters a toxicology report uses come out as their
// Windows-1252 bytes, the few it lacks as their ASCII forms, and anything
// else is marked as replaced.
func TestText(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		replaced bool
	}{
		{"85 µg/L", "85 \xb5g/L", false},
		{"85 μg/L", "85 \xb5g/L", false}, // Greek mu
		{"m²", "m\xb2", false},
		{"a — b – c", "a \x97 b \x96 c", false},
		{"A → B", "A -> B", false},
		{"≥ 10, ≤ 2, −3", ">= 10, <= 2, -3", false},
		{"Müller", "M\xfcller", false},
		{"Dvořák", "Dvor\xe1k", true},
		{"Łucja", "?ucja", true},
		{"✓", "?", true},
		{"a\x00b", "a?b", true},
	} {
		d := newDoc()
		if got := d.text(tc.in); got != tc.want || d.replaced != tc.replaced {
			t.Errorf("text(%q) = %q (replaced %v), want %q (%v)", tc.in, got, d.replaced, tc.want, tc.replaced)
		}
	}
}

// TestWrap: lines fit, break at spaces and hyphens, and lose nothing.
func TestWrap(t *testing.T) {
	d := newDoc()
	for _, tc := range []struct {
		in   string
		w    float64
		want []string
	}{
		{"designer-benzodiazepines", 25, []string{"designer-", "benzodiazepines"}},
		{"a b c", 100, []string{"a b c"}},
		{"", 10, []string{""}},
		{"-5 and 3-", 100, []string{"-5 and 3-"}},
	} {
		if got := d.wrap(tc.in, tc.w); strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("wrap(%q, %v) = %q, want %q", tc.in, tc.w, got, tc.want)
		}
	}
}

// FuzzWrap: every line fits its width (unless one character alone does
// not), and the lines hold all the text but the spaces at the breaks.
func FuzzWrap(f *testing.F) {
	f.Add("designer-benzodiazepines and 7-aminoclonazepam", 20.0)
	f.Add("sha256:76153e845c98c405d2bfe29e07f9c5af84f9aa4e805ca3b9377a8be97f53863f", 30.0)
	f.Add("  a  - -b ", 1.0)
	f.Fuzz(func(t *testing.T, s string, w float64) {
		if !utf8.ValidString(s) || w != w || w < 0.5 || w > 500 {
			return
		}
		d := newDoc()
		in := d.text(s)
		lines := d.wrap(in, w)
		for _, l := range lines {
			if len(l) > 1 && d.f.GetStringWidth(l) > w+1e-9 {
				t.Fatalf("line %q is %.2f mm wide, over %.2f", l, d.f.GetStringWidth(l), w)
			}
			for i := 0; i < len(l); i++ {
				if l[i] >= 0x80 {
					if _, err := charmap.Windows1252.NewDecoder().Bytes([]byte{l[i]}); err != nil {
						t.Fatalf("byte %#x is not Windows-1252", l[i])
					}
				}
			}
		}
		strip := func(s string) string { return strings.ReplaceAll(s, " ", "") }
		if strip(strings.Join(lines, "")) != strip(in) {
			t.Fatalf("wrapping lost text: %q -> %q", in, lines)
		}
	})
}
