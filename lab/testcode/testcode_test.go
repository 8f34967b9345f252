package testcode

import (
	"bytes"
	"errors"
	"testing"
)

var cases = []struct {
	name string
	in   string
	ok   bool
}{
	{"good", "testcode v1\nanalyser cobas-c111\n# comment\nGHB ghb mg/L\nBENZ benzodiazepines\n\n", true},
	{"crlf", "testcode v1\r\nGHB ghb\r\n", true},
	{"empty-map", "testcode v1\n", true},
	{"no-header", "GHB ghb\n", false},
	{"wrong-version", "testcode v2\nGHB ghb\n", false},
	{"empty", "", false},
	{"duplicate", "testcode v1\nGHB ghb\nGHB ghb-2\n", false},
	{"bad-analyte", "testcode v1\nGHB GHB\n", false},
	{"too-many-fields", "testcode v1\nGHB ghb mg/L extra\n", false},
	{"one-field", "testcode v1\nGHB\n", false},
	{"two-analysers", "testcode v1\nanalyser a\nanalyser b\n", false},
}

func TestParse(t *testing.T) {
	for _, tc := range cases {
		m, err := Parse([]byte(tc.in))
		if tc.ok != (err == nil) {
			t.Errorf("%s: err = %v", tc.name, err)
			continue
		}
		if err != nil && !errors.Is(err, ErrSyntax) {
			t.Errorf("%s: %v does not wrap ErrSyntax", tc.name, err)
		}
		if m == nil {
			continue
		}
		again, err := Parse(m.Format())
		if err != nil || !bytes.Equal(again.Format(), m.Format()) {
			t.Errorf("%s: round trip failed: %v", tc.name, err)
		}
	}
	m, _ := Parse([]byte(cases[0].in))
	if a, ok := m.Analyte("GHB"); !ok || a != "ghb" {
		t.Errorf("GHB -> %q %v", a, ok)
	}
	if e, _ := m.Lookup("GHB"); e.Unit != "mg/L" {
		t.Errorf("unit %q", e.Unit)
	}
	if _, ok := m.Analyte("ghb"); ok {
		t.Error("codes must be case-sensitive")
	}
	if _, ok := m.Analyte("THC"); ok {
		t.Error("unknown code mapped")
	}
	if m.Analyser != "cobas-c111" {
		t.Errorf("analyser %q", m.Analyser)
	}
	var zero Map
	if _, ok := zero.Analyte("X"); ok {
		t.Error("zero map knows a code")
	}
}

func FuzzParse(f *testing.F) {
	for _, tc := range cases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := Parse(in)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error %v does not wrap ErrSyntax", err)
			}
			return
		}
		again, err := Parse(m.Format())
		if err != nil {
			t.Fatalf("formatted map does not parse: %v\n%s", err, m.Format())
		}
		if !bytes.Equal(again.Format(), m.Format()) {
			t.Fatal("format is not stable")
		}
	})
}
