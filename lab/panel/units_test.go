package panel

import (
	"errors"
	"strings"
	"testing"
)

func TestParseUnit(t *testing.T) {
	for _, tc := range []struct {
		in  string
		exp int
		err string // "" for none
	}{
		{"ng/mL", -6, ""}, {"NG/ML", -6, ""}, {"ng/ml", -6, ""}, {"µg/L", -6, ""}, {"μg/L", -6, ""}, {"ug/L", -6, ""}, {"mcg/L", -6, ""},
		{"mg/L", -3, ""}, {"µg/mL", -3, ""}, {"ug/mL", -3, ""}, {"mcg/mL", -3, ""}, {"mg/dL", -2, ""}, {"mg/100mL", -2, ""},
		{"mg/100 mL", -2, ""}, {"g/L", 0, ""}, {"mg/mL", 0, ""}, {"ng/L", -9, ""}, {"pg/mL", -9, ""},
		{"", 0, "no units"}, {"  ", 0, "no units"}, {"µmol/L", 0, "molar unit"}, {"nmol/L", 0, "molar unit"},
		{"%", 0, "percentage"}, {"g%", 0, "percentage"}, {"ng/dL", 0, `"ng/dL"`}, {"mg", 0, `"mg"`}, {"ppm", 0, `"ppm"`},
	} {
		u, err := ParseUnit(tc.in)
		if tc.err != "" {
			if !errors.Is(err, ErrUnit) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseUnit(%q) error %v, want ErrUnit with %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || u.exp != tc.exp || u.Name != tc.in {
			t.Errorf("ParseUnit(%q) = %+v, %v; want 10^%d g/L", tc.in, u, err, tc.exp)
		}
	}
	a, _ := ParseUnit("ng/mL")
	b, _ := ParseUnit("µg/L")
	if !a.Same(b) {
		t.Error("ng/mL and µg/L differ")
	}
}

func TestShiftDecimal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"42.0", 0, "42.0"}, {"42.0", -3, "0.0420"}, {"0.15", 3, "150"}, {"1.50", 3, "1500"}, {"1.5", 1, "15"},
		{"12", 3, "12000"}, {"12", -1, "1.2"}, {"12", -2, "0.12"}, {"12", -5, "0.00012"}, {"0", 3, "0"}, {"0.0", -2, "0.000"},
		{"-3", 3, "-3000"}, {"-0.5", 1, "-5"}, {"007", 0, "7"}, {"0.010", 3, "10"}, {"9.99", 6, "9990000"},
	} {
		if got := shiftDecimal(tc.in, tc.n); got != tc.want {
			t.Errorf("shiftDecimal(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
		// Exact: the shifted decimal is the original times 10^n.
		got, want := rat(shiftDecimal(tc.in, tc.n)), rat(tc.in)
		for i := 0; i < tc.n; i++ {
			want.Mul(want, rat("10"))
		}
		for i := 0; i > tc.n; i-- {
			want.Quo(want, rat("10"))
		}
		if got.Cmp(want) != 0 {
			t.Errorf("shiftDecimal(%q, %d) = %v, want %v", tc.in, tc.n, got, want)
		}
	}
}
