package chain

import (
	"errors"
	"strings"
	"testing"
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
	good := []string{"CASE-1", "01/23456/26", "Op Lester 2026-11"}
	good[1] = "01-23456-26"
	for _, s := range good {
		if err := ValidCaseRef(s); err != nil {
			t.Errorf("ValidCaseRef(%q): %v", s, err)
		}
	}
	for _, bad := range []string{"", "a\nb", "a\x00b", "tab\there", "\x1b[31mred", strings.Repeat("x", 65), " lead", "trail ", "a/b", "a\\b", "bad\xffutf8", "a\u2028b", "a\u0085b"} {
		if err := ValidCaseRef(bad); !errors.Is(err, ErrBadRef) {
			t.Errorf("ValidCaseRef(%q) accepted", bad)
		}
	}
	if err := ValidCaseRef(strings.Repeat("é", 64)); err != nil {
		t.Errorf("64 two-byte characters refused: %v", err)
	}
}
