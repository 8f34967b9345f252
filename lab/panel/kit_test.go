package panel

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/lab/value"
)

// kitCases are ParseKit's table and FuzzParseKit's seeds.
var kitCases = []struct {
	name string
	in   string
	err  string // "" for a kit that parses
}{
	{"ok", "exhibit-kit v1\nname k\ndescription a kit\nillustrative\n# comment\n\nclaim ghb 10 mg/L\nclaim ketamine 1000 ng/mL\n", ""},
	{"crlf", "exhibit-kit v1\r\nname k\r\nclaim ghb 10 mg/L\r\n", ""},
	{"spaces", "exhibit-kit v1\nname k\n  claim   ghb \t 0.5   ug/mL  \n", ""},
	{"empty", "", "empty file"},
	{"wrong-header", "exhibit-kit v2\nname k\nclaim ghb 10 mg/L\n", `line 1: the first line must be "exhibit-kit v1"`},
	{"no-name", "exhibit-kit v1\nclaim ghb 10 mg/L\n", "no name line"},
	{"no-claims", "exhibit-kit v1\nname k\n", "no claim lines"},
	{"name-twice", "exhibit-kit v1\nname k\nname j\n", "line 3: name given twice"},
	{"bad-name", "exhibit-kit v1\nname Kit One\n", `line 2: name "Kit One"`},
	{"description-twice", "exhibit-kit v1\nname k\ndescription a\ndescription b\n", "description given twice"},
	{"empty-description", "exhibit-kit v1\nname k\ndescription\n", "empty description"},
	{"illustrative-twice", "exhibit-kit v1\nname k\nillustrative\nillustrative\n", `"illustrative" stands alone`},
	{"illustrative-arg", "exhibit-kit v1\nname k\nillustrative yes\n", `"illustrative" stands alone`},
	{"unknown-keyword", "exhibit-kit v1\nname k\ndetects ghb 10 mg/L\n", `unknown keyword "detects"`},
	{"claim-fields", "exhibit-kit v1\nname k\nclaim ghb 10\n", "want: claim ANALYTE CUTOFF UNITS"},
	{"claim-unknown-analyte", "exhibit-kit v1\nname k\nclaim benzos 300 ng/mL\n", `analyte "benzos" is not in spiking-panel@1`},
	{"claim-twice", "exhibit-kit v1\nname k\nclaim ghb 10 mg/L\nclaim ghb 5 mg/L\n", "line 4: analyte ghb claimed twice"},
	{"claim-bad-cutoff", "exhibit-kit v1\nname k\nclaim ghb ten mg/L\n", `cut-off "ten"`},
	{"claim-zero-cutoff", "exhibit-kit v1\nname k\nclaim ghb 0 mg/L\n", "want more than 0"},
	{"claim-bad-units", "exhibit-kit v1\nname k\nclaim ghb 10 mmol/L\n", "molar unit"},
	{"not-utf8", "exhibit-kit v1\nname k\nclaim ghb 10 \xb5g/mL\n", "not UTF-8"},
}

func TestParseKit(t *testing.T) {
	p := spiking(t)
	for _, tc := range kitCases {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseKit([]byte(tc.in), p)
			if tc.err != "" {
				if err == nil || !errors.Is(err, ErrKit) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want ErrKit with %q", err, tc.err)
				}
				if k != nil {
					t.Fatal("kit returned with the error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.Name != "k" || len(k.Claims) == 0 {
				t.Fatalf("%+v", k)
			}
			if c, ok := k.Claim("ghb"); !ok || c.Analyte != "ghb" {
				t.Fatalf("claim ghb: %+v", c)
			}
		})
	}
	if _, err := ParseKit(make([]byte, MaxKitSize+1), p); !errors.Is(err, ErrKit) {
		t.Errorf("oversized: %v", err)
	}
}

// TestExampleKits: the kit files in testdata parse against the panel and
// say they are illustrative.
func TestExampleKits(t *testing.T) {
	files, err := filepath.Glob("testdata/kits/*.kit")
	if err != nil || len(files) < 2 {
		t.Fatalf("%v %v", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		k, err := ParseKit(b, spiking(t))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !k.Illustrative || !strings.Contains(k.Description, "not a real product") || k.Name+".kit" != filepath.Base(f) {
			t.Errorf("%s: %+v", f, k)
		}
	}
}

func readKit(t *testing.T, name string) *Kit {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "kits", name))
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseKit(b, spiking(t))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestCoverage(t *testing.T) {
	k := readKit(t, "illustrative-drink-strip.kit") // ghb 10 µg/mL, ketamine 1000 ng/mL, diazepam 300 ng/mL
	findings := []struct {
		f        Finding
		want     Detection
		kitValue string
	}{
		{Finding{"S1", "ghb", value.Parse("42.0", value.Point), "mg/L"}, Detected, "42.0"},
		{Finding{"S2", "ghb", value.Parse("10", value.Point), "mg/L"}, Detected, "10"},
		{Finding{"S3", "ghb", value.Parse("9999", value.Point), "ng/mL"}, BelowKitCutoff, "9.999"},
		{Finding{"S4", "ketamine", value.Parse(">800", value.Point), "ng/mL"}, Undetermined, ">800"},
		{Finding{"S5", "ketamine", value.Parse(">1000", value.Point), "ng/mL"}, Detected, ">1000"},
		{Finding{"S6", "ketamine", value.Parse("<900", value.Point), "ng/mL"}, BelowKitCutoff, "<900"},
		{Finding{"S7", "diazepam", value.Parse("0.45", value.Point), "mg/L"}, Detected, "450"},
		{Finding{"S8", "diazepam", value.Parse("45", value.Point), "ng/mL"}, BelowKitCutoff, "45"},
		{Finding{"S9", "temazepam", value.Parse("5000", value.Point), "ng/mL"}, NotClaimed, ""},
		{Finding{"S10", "etizolam", value.Parse("12", value.Point), "ng/mL"}, NotClaimed, ""},
		{Finding{"S11", "ghb", value.Parse("POS", value.Point), ""}, Undetermined, ""},
		{Finding{"S12", "ghb", value.Parse("-1", value.Point), "mg/L"}, Undetermined, "-1"},
	}
	var in []Finding
	for _, f := range findings {
		in = append(in, f.f)
	}
	got, err := k.Coverage(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(findings) {
		t.Fatalf("%d results for %d findings", len(got), len(findings))
	}
	missed := 0
	for i, f := range findings {
		c := got[i]
		if c.Label != f.f.Label || c.Detection != f.want || c.KitValue != f.kitValue || c.Reason == "" {
			t.Errorf("%s %s %s: %v %q (%s), want %v %q", f.f.Label, f.f.Analyte, f.f.Value.Raw, c.Detection, c.KitValue, c.Reason, f.want, f.kitValue)
		}
		if c.Detection.Missed() {
			missed++
		}
	}
	if missed != 5 {
		t.Errorf("%d missed, want 5", missed)
	}
	if _, err := k.Coverage([]Finding{{"S1", "ghb", value.Parse("42", value.Point), "mmol/L"}}); !errors.Is(err, ErrUnit) || !strings.Contains(err.Error(), "S1") {
		t.Errorf("molar finding: %v", err)
	}
}

// FuzzParseKit: ParseKit never panics; a kit it accepts has a name, claims
// only panel analytes once each, and every claim's cut-off decides a
// finding at it as detected.
func FuzzParseKit(f *testing.F) {
	for _, tc := range kitCases {
		f.Add([]byte(tc.in))
	}
	p := spiking(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseKit(data, p)
		if err != nil {
			if k != nil || (!errors.Is(err, ErrKit)) {
				t.Fatalf("error %v, kit %v", err, k)
			}
			return
		}
		if !validID(k.Name) || len(k.Claims) == 0 {
			t.Fatalf("kit %+v", k)
		}
		var fs []Finding
		for _, c := range k.Claims {
			if _, ok := p.Analyte(c.Analyte); !ok {
				t.Fatalf("claim %s not in the panel", c.Analyte)
			}
			fs = append(fs, Finding{Analyte: c.Analyte, Value: value.Parse(c.Cutoff, value.Point), Units: c.Units})
		}
		cov, err := k.Coverage(fs)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cov {
			if c.Detection != Detected {
				t.Fatalf("%s at its own cut-off: %v (%s)", c.Analyte, c.Detection, c.Reason)
			}
		}
	})
}
