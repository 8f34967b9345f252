package review

import (
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

var setupSeeds = []string{
	`{"format":"exhibit-lab-setup","version":1,"lab":"Test Lab","controls":[{"specimen":"QC-GHB-L1","name":"GHB-LOW","analyte":"ghb","lot":"L23","level":1,"mean":5,"sd":0.5,"unit":"mg/L"}],"stages":{"astm":"screen","lcms-csv":"confirm"}}`,
	`{"format":"exhibit-lab-setup","version":1,"lab":"","controls":[]}`,
	`{"format":"exhibit-lab-setup","version":1,"lab":"L","controls":[{"specimen":"Q","name":"N","analyte":"ghb","lot":"1","level":0,"mean":5,"sd":0.5,"unit":"mg/L"}]}`,
	`{"format":"exhibit-lab-setup","version":1,"lab":"L","controls":[],"stages":{"hl7":"maybe"}}`,
	`{"format":"exhibit-lab-setup","version":2}`,
	`{"format":"exhibit-lab-setup","version":1,"lab":"L","controls":[],"extra":true}`,
}

// TestParseSetup: the valid seed reads; each broken one is refused.
func TestParseSetup(t *testing.T) {
	s, err := ParseSetup([]byte(setupSeeds[0]))
	if err != nil || s.Lab != "Test Lab" || len(s.Controls) != 1 || s.Stage("lcms-csv", "x").String() != "confirm" || s.Stage("hl7", "x").String() != "screen" {
		t.Fatalf("%+v, %v", s, err)
	}
	for _, b := range setupSeeds[1:] {
		if _, err := ParseSetup([]byte(b)); err == nil {
			t.Errorf("accepted %s", b)
		}
	}
}

// FuzzParseSetup: a setup that parses has a name and usable controls.
func FuzzParseSetup(f *testing.F) {
	for _, s := range setupSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSetup(b)
		if err != nil {
			return
		}
		for _, c := range s.Controls {
			if c.SD <= 0 || c.Level < 1 {
				t.Fatalf("accepted control %+v", c)
			}
			_ = c.Material()
		}
	})
}

// TestWriteSetupCorpus keeps FuzzParseSetup's committed seed corpus equal
// to setupSeeds; -write-corpus rewrites it.
func TestWriteSetupCorpus(t *testing.T) {
	var seeds [][]any
	for _, s := range setupSeeds {
		seeds = append(seeds, []any{[]byte(s)})
	}
	fuzzseed.Write(t, "FuzzParseSetup", seeds)
}
