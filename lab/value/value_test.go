package value

import (
	"testing"
)

var cases = []struct {
	raw  string
	m    Mark
	kind Kind
	cmp  string
	dec  string
}{
	{"42.0", Point, Number, "", "42.0"},
	{"0.50", Point, Number, "", "0.50"},
	{"-3", Point, Number, "", "-3"},
	{"+3.5", Point, Number, "", "3.5"},
	{" 12 ", Point, Number, "", "12"},
	{"7,41", Comma, Number, "", "7.41"},
	{"7,41", Point, Text, "", ""},    // comma where a point is expected: ambiguous
	{"1.234", Comma, Text, "", ""},   // point where a comma is expected: maybe thousands
	{"1,234.5", Point, Text, "", ""}, // thousands separator
	{"<0.5", Point, Censored, "<", "0.5"},
	{"<0,5", Comma, Censored, "<", "0.5"},
	{">8", Point, Censored, ">", "8"},
	{"> 8", Point, Censored, ">", "8"},
	{"<=10", Point, Censored, "<=", "10"},
	{">=1.0", Point, Censored, ">=", "1.0"},
	{"<", Point, Text, "", ""},
	{"<<1", Point, Text, "", ""},
	{"=5", Point, Text, "", ""},
	{".5", Point, Text, "", ""},
	{"5.", Point, Text, "", ""},
	{"1e3", Point, Text, "", ""},
	{"NEG", Point, Text, "", ""},
	{"****", Point, Text, "", ""},
	{"", Point, Empty, "", ""},
	{"   ", Point, Empty, "", ""},
	{"١٢", Point, Text, "", ""}, // non-ASCII digits are not digits here
}

func TestParse(t *testing.T) {
	for _, tc := range cases {
		v := Parse(tc.raw, tc.m)
		if v.Kind != tc.kind || v.Comparator != tc.cmp || v.Decimal != tc.dec || v.Raw != tc.raw {
			t.Errorf("Parse(%q, %c) = %+v, want kind %v cmp %q dec %q", tc.raw, tc.m, v, tc.kind, tc.cmp, tc.dec)
		}
		f, ok := v.Float64()
		if ok != (tc.kind == Number) {
			t.Errorf("Parse(%q).Float64 ok = %v for kind %v", tc.raw, ok, v.Kind)
		}
		if ok && tc.dec == "42.0" && f != 42 {
			t.Errorf("Float64 = %v", f)
		}
	}
}

func TestCensoredHasNoNumber(t *testing.T) {
	v := Parse("<0.5", Point)
	if _, ok := v.Float64(); ok {
		t.Fatal("a censored value turned into a number")
	}
	if v.String() != "<0.5" {
		t.Fatalf("String = %q", v.String())
	}
}

func TestFromParts(t *testing.T) {
	for _, tc := range []struct {
		cmp, num string
		kind     Kind
		dec      string
	}{
		{"<", "0.5", Censored, "0.5"},
		{">=", "8", Censored, "8"},
		{"", "4.2", Number, "4.2"},
		{"=", "4.2", Number, "4.2"},
		{"~", "4.2", Text, ""},
		{"<", "abc", Text, ""},
	} {
		v := FromParts(tc.cmp+"^"+tc.num, tc.cmp, tc.num, Point)
		if v.Kind != tc.kind || v.Decimal != tc.dec {
			t.Errorf("FromParts(%q, %q) = %+v", tc.cmp, tc.num, v)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, tc := range cases {
		f.Add(tc.raw, tc.m == Comma)
	}
	f.Fuzz(func(t *testing.T, raw string, comma bool) {
		m := Point
		if comma {
			m = Comma
		}
		v := Parse(raw, m)
		if v.Raw != raw {
			t.Fatalf("Raw changed: %q -> %q", raw, v.Raw)
		}
		switch v.Kind {
		case Number, Censored:
			// The decimal re-parses to itself under a point.
			w := Parse(v.Decimal, Point)
			if w.Kind != Number || w.Decimal != v.Decimal {
				t.Fatalf("decimal %q of %q does not re-parse", v.Decimal, raw)
			}
			if v.Kind == Censored {
				if _, ok := v.Float64(); ok {
					t.Fatal("censored value gave a float")
				}
			}
		}
	})
}
