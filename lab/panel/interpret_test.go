package panel

import (
	"errors"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/lab/value"
)

func spiking(t testing.TB) *Panel {
	t.Helper()
	p, err := Lookup(DefaultName + "@1")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// interpretCases covers every outcome, censored values on each side of a
// decision point, the GHB endogenous threshold, unit conversion and the
// errors. They are also FuzzInterpret's seeds.
var interpretCases = []struct {
	name    string
	analyte string
	stage   Stage
	raw     string
	units   string
	want    Outcome
	value   string // in the analyte's units
	err     error
}{
	// Negative, presumptive and confirmed, at and around the cut-offs
	// (ketamine: screen 20, confirm 10 ng/mL).
	{"negative-screen", "ketamine", Screen, "19.9", "ng/mL", Negative, "19.9", nil},
	{"presumptive-at-cutoff", "ketamine", Screen, "20", "ng/mL", PresumptivePositive, "20", nil},
	{"negative-confirm", "ketamine", Confirm, "9.99", "ng/mL", Negative, "9.99", nil},
	{"confirmed-at-cutoff", "ketamine", Confirm, "10.0", "ng/mL", ConfirmedPositive, "10.0", nil},
	{"zero", "ketamine", Confirm, "0", "ng/mL", Negative, "0", nil},
	// Unit conversion, exact at the cut-off: 0.010 mg/L is 10 ng/mL.
	{"mg-per-l-at-cutoff", "ketamine", Confirm, "0.010", "mg/L", ConfirmedPositive, "10", nil},
	{"ug-per-l", "ketamine", Confirm, "9", "µg/L", Negative, "9", nil},
	{"ug-per-l-greek-mu", "ketamine", Confirm, "12", "μg/L", ConfirmedPositive, "12", nil},
	{"ug-per-ml-ascii", "ketamine", Screen, "0.02", "ug/mL", PresumptivePositive, "20", nil},
	{"upper-case-units", "ketamine", Screen, "25", "NG/ML", PresumptivePositive, "25", nil},
	{"ng-per-l", "fentanyl", Confirm, "999", "ng/L", Negative, "0.999", nil},
	{"pg-per-ml", "fentanyl", Confirm, "1000", "pg/mL", ConfirmedPositive, "1.000", nil},
	// Ethanol in g/L, sent in mg/dL (0.1 g/L = 10 mg/dL).
	{"ethanol-mg-per-dl", "ethanol", Confirm, "10", "mg/dL", ConfirmedPositive, "0.10", nil},
	{"ethanol-below", "ethanol", Confirm, "9.9", "mg/dL", Negative, "0.099", nil},
	{"ethanol-g-per-l-screen", "ethanol", Screen, "0.19", "g/L", Negative, "0.19", nil},
	// GHB: confirmation cut-off 6 mg/L, endogenous threshold 10 mg/L.
	{"ghb-confirmed", "ghb", Confirm, "42.0", "mg/L", ConfirmedPositive, "42.0", nil},
	{"ghb-at-endogenous", "ghb", Confirm, "10", "mg/L", ConfirmedPositive, "10", nil},
	{"ghb-below-endogenous", "ghb", Confirm, "9.9", "mg/L", BelowEndogenous, "9.9", nil},
	{"ghb-below-endogenous-at-cutoff", "ghb", Confirm, "6", "mg/L", BelowEndogenous, "6", nil},
	{"ghb-negative", "ghb", Confirm, "3.1", "mg/L", Negative, "3.1", nil},
	{"ghb-ug-per-ml", "ghb", Confirm, "7.5", "µg/mL", BelowEndogenous, "7.5", nil},
	{"ghb-ng-per-ml", "ghb", Confirm, "12000", "ng/mL", ConfirmedPositive, "12.000", nil},
	{"ghb-screen-presumptive", "ghb", Screen, "10.4", "mg/L", PresumptivePositive, "10.4", nil},
	{"ghb-screen-negative", "ghb", Screen, "9", "mg/L", Negative, "9", nil},
	// Censored values: only a range that lies wholly on one side of every
	// decision point gives an outcome.
	{"censored-below-cutoff", "ketamine", Confirm, "<0.5", "ng/mL", Negative, "<0.5", nil},
	{"censored-below-at-cutoff", "ketamine", Confirm, "<10", "ng/mL", Negative, "<10", nil},
	{"censored-below-above-cutoff", "ketamine", Confirm, "<50", "ng/mL", Inconclusive, "", nil},
	{"censored-le-at-cutoff", "ketamine", Confirm, "<=10", "ng/mL", Inconclusive, "", nil},
	{"censored-le-below", "ketamine", Confirm, "<=9", "ng/mL", Negative, "<=9", nil},
	{"censored-above", "ketamine", Confirm, ">800", "ng/mL", ConfirmedPositive, ">800", nil},
	{"censored-above-screen", "ketamine", Screen, ">1000", "ng/mL", PresumptivePositive, ">1000", nil},
	{"censored-above-below-cutoff", "ketamine", Confirm, ">5", "ng/mL", Inconclusive, "", nil},
	{"censored-ge-at-cutoff", "ketamine", Confirm, ">=10", "ng/mL", ConfirmedPositive, ">=10", nil},
	{"censored-converted", "ketamine", Confirm, "<0.005", "mg/L", Negative, "<5", nil},
	{"ghb-censored-in-grey-zone", "ghb", Confirm, ">7", "mg/L", Inconclusive, "", nil},
	{"ghb-censored-grey-zone-only", "ghb", Confirm, "<10", "mg/L", Inconclusive, "", nil},
	{"ghb-censored-ge-cutoff-below-endo", "ghb", Confirm, ">=6", "mg/L", Inconclusive, "", nil},
	{"ghb-censored-over-endogenous", "ghb", Confirm, ">10", "mg/L", ConfirmedPositive, ">10", nil},
	{"ghb-censored-under-cutoff", "ghb", Confirm, "<5", "mg/L", Negative, "<5", nil},
	// Values that are not numbers.
	{"qualitative", "thc-cooh", Screen, "NEG", "", Inconclusive, "", nil},
	{"qualitative-positive", "thc-cooh", Confirm, "POS", "ng/mL", Inconclusive, "", nil},
	{"empty", "thc-cooh", Screen, "", "", Inconclusive, "", nil},
	{"negative-number", "ketamine", Confirm, "-3", "ng/mL", Inconclusive, "", nil},
	{"censored-below-zero", "ketamine", Confirm, "<0", "ng/mL", Inconclusive, "", nil},
	{"exponent", "ketamine", Confirm, "1e3", "ng/mL", Inconclusive, "", nil},
	// Refused.
	{"unknown-unit", "ketamine", Confirm, "12", "ng/dL", 0, "", ErrUnit},
	{"molar-unit", "ketamine", Confirm, "12", "nmol/L", 0, "", ErrUnit},
	{"percent", "ethanol", Confirm, "0.08", "%", 0, "", ErrUnit},
	{"no-units", "ketamine", Confirm, "12", "", 0, "", ErrUnit},
	{"unknown-analyte", "unobtainium", Confirm, "12", "ng/mL", 0, "", ErrUnknownAnalyte},
}

func TestInterpret(t *testing.T) {
	p := spiking(t)
	seen := map[Outcome]bool{}
	for _, tc := range interpretCases {
		t.Run(tc.name, func(t *testing.T) {
			in, err := p.Interpret(tc.analyte, tc.stage, value.Parse(tc.raw, value.Point), tc.units)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("error %v, want one wrapping %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			seen[in.Outcome] = true
			if in.Outcome != tc.want {
				t.Fatalf("%s %s %q %s: %v (%s), want %v", tc.analyte, tc.stage, tc.raw, tc.units, in.Outcome, in.Reason, tc.want)
			}
			if tc.value != "" && in.Value != tc.value {
				t.Errorf("value %q, want %q", in.Value, tc.value)
			}
			a, _ := p.Analyte(tc.analyte)
			if in.Units != a.Units || in.Analyte != tc.analyte || in.Stage != tc.stage || in.Panel != "spiking-panel@1" || in.Reason == "" {
				t.Errorf("interpretation %+v", in)
			}
			if in.Outcome == BelowEndogenous && !strings.Contains(in.Reason, "not evidence of ingestion") {
				t.Errorf("reason %q", in.Reason)
			}
		})
	}
	for o := Negative; o <= Inconclusive; o++ {
		if !seen[o] {
			t.Errorf("no case gives %v", o)
		}
	}
}

// FuzzInterpret: any result gives an outcome that fits its stage or a
// unit or analyte error; a number never becomes Inconclusive unless it is
// negative; and the same concentration written in another unit gives the
// same outcome.
func FuzzInterpret(f *testing.F) {
	for _, tc := range interpretCases {
		f.Add(tc.analyte, tc.stage == Confirm, tc.raw, tc.units)
	}
	p := spiking(f)
	f.Fuzz(func(t *testing.T, analyte string, confirm bool, raw, units string) {
		st := Screen
		if confirm {
			st = Confirm
		}
		v := value.Parse(raw, value.Point)
		in, err := p.Interpret(analyte, st, v, units)
		if err != nil {
			if !errors.Is(err, ErrUnit) && !errors.Is(err, ErrUnknownAnalyte) {
				t.Fatalf("error %v wraps neither ErrUnit nor ErrUnknownAnalyte", err)
			}
			return
		}
		switch in.Outcome {
		case Negative, BelowEndogenous, Inconclusive:
		case PresumptivePositive:
			if st != Screen {
				t.Fatalf("presumptive positive from a confirmation")
			}
		case ConfirmedPositive:
			if st != Confirm {
				t.Fatalf("confirmed positive from a screen")
			}
		default:
			t.Fatalf("outcome %v", in.Outcome)
		}
		if in.Reason == "" {
			t.Fatal("no reason")
		}
		if v.Kind != value.Number && v.Kind != value.Censored {
			if in.Outcome != Inconclusive {
				t.Fatalf("%q (%v) gave %v", raw, v.Kind, in.Outcome)
			}
			return
		}
		if v.Kind == value.Number && in.Outcome == Inconclusive && !strings.HasPrefix(v.Decimal, "-") {
			t.Fatalf("number %q gave inconclusive: %s", raw, in.Reason)
		}
		// The same concentration a thousand times larger in a unit a
		// thousand times smaller.
		u, _ := ParseUnit(units)
		var other string
		for name, e := range units1000 {
			if e == u.exp-3 {
				other = name
			}
		}
		if other == "" {
			return
		}
		w := value.Parse(v.Comparator+shiftDecimal(v.Decimal, 3), value.Point)
		in2, err := p.Interpret(analyte, st, w, other)
		if err != nil {
			t.Fatalf("%s in %s: %v", w.Raw, other, err)
		}
		if in2.Outcome != in.Outcome || !sameAmount(in2.Value, in.Value) {
			t.Fatalf("%s %s: %v %s; %s %s: %v %s", raw, units, in.Outcome, in.Value, w.Raw, other, in2.Outcome, in2.Value)
		}
	})
}

// units1000 names one unit for each power of ten FuzzInterpret converts to.
var units1000 = map[string]int{"mg/mL": 0, "mg/L": -3, "ng/mL": -6, "ng/L": -9}

// sameAmount compares two values in the same unit as numbers, comparator
// and all ("10" and "10.000" are the same).
func sameAmount(a, b string) bool {
	va, vb := value.Parse(a, value.Point), value.Parse(b, value.Point)
	if va.Kind != vb.Kind || va.Comparator != vb.Comparator {
		return false
	}
	if va.Kind != value.Number && va.Kind != value.Censored {
		return a == b
	}
	return rat(va.Decimal).Cmp(rat(vb.Decimal)) == 0
}
