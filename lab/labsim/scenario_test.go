package labsim

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

var scenarioCases = []struct {
	name, in string
	err      string // substring of the error; empty: valid
}{
	{"minimal", "analyser-scenario v1\nspecimen S1\nresult GHB 1\n", ""},
	{"crlf", "analyser-scenario v1\r\nspecimen S1\r\nresult GHB 1\r\n", ""},
	{"quoted", "analyser-scenario v1\nanalyser \"Tox Sim^2\"\nspecimen S1 patient=\"CASE-1\"\nresult GHB \"not detected\" range=\"a=b\"\n", ""},
	{"equals in value", "analyser-scenario v1\nspecimen S1\nresult GHB \"a=b\"\n", ""},
	{"query", "analyser-scenario v1\nquery yes\nrack A\nspecimen S1\nresult GHB 1\nrack B\ncontrol Q1 lot=L level=2\nresult GHB 10 target=10 sd=0.5\n", ""},
	{"comment", "analyser-scenario v1\n# nothing\nspecimen S1 # the first\nresult GHB 1 mg/L # trailing\n", ""},
	{"empty", "", "empty input"},
	{"header", "analyser-scenario v2\nspecimen S1\nresult GHB 1\n", "first line"},
	{"no tubes", "analyser-scenario v1\n", "no tubes"},
	{"empty rack", "analyser-scenario v1\nrack R1\n", "holds no tubes"},
	{"no results", "analyser-scenario v1\nspecimen S1\nspecimen S2\nresult X 1\n", "S1 has no results"},
	{"no results at end", "analyser-scenario v1\nspecimen S1\n", "S1 has no results"},
	{"result first", "analyser-scenario v1\nresult GHB 1\n", "before any specimen"},
	{"dup tube", "analyser-scenario v1\nspecimen S1\nresult A 1\ncontrol S1\nresult A 1\n", "given twice"},
	{"dup code", "analyser-scenario v1\nspecimen S1\nresult A 1\nresult A 2\n", "twice"},
	{"dup rack", "analyser-scenario v1\nrack R\nspecimen S1\nresult A 1\nrack R\n", "given twice"},
	{"dup key", "analyser-scenario v1\nspecimen S1\nresult A 1 range=1 range=2\n", "given twice"},
	{"late analyser", "analyser-scenario v1\nspecimen S1\nresult A 1\nanalyser X\n", "before the first"},
	{"bad query", "analyser-scenario v1\nquery maybe\n", "query yes|no"},
	{"download", "analyser-scenario v1\ndownload yes\nrack A\nspecimen S1\nresult GHB 1\n", ""},
	{"bad download", "analyser-scenario v1\ndownload sometimes\n", "download yes|no"},
	{"query and download", "analyser-scenario v1\nquery yes\ndownload yes\nspecimen S1\nresult GHB 1\n", "exclude each other"},
	{"download twice", "analyser-scenario v1\ndownload no\ndownload yes\n", "download must come once"},
	{"delimiter in value", "analyser-scenario v1\nspecimen S1\nresult A 1|2\n", "printable ASCII"},
	{"space in id", "analyser-scenario v1\nspecimen \"S 1\"\nresult A 1\n", "letters, digits"},
	{"control key on specimen", "analyser-scenario v1\nspecimen S1 lot=3\nresult A 1\n", "takes no lot="},
	{"target on specimen", "analyser-scenario v1\nspecimen S1\nresult A 1 target=3\n", "belongs to a control"},
	{"bad sd", "analyser-scenario v1\ncontrol Q\nresult A 1 sd=0\n", "more than zero"},
	{"bad target", "analyser-scenario v1\ncontrol Q\nresult A 1 target=1e3\n", "decimal"},
	{"bad status", "analyser-scenario v1\nspecimen S1\nresult A 1 status=Z\n", "status"},
	{"bad flags", "analyser-scenario v1\nspecimen S1\nresult A 1 flags=H,,L\n", "flags"},
	{"positional after kv", "analyser-scenario v1\nspecimen S1\nresult A 1 range=2 mg/L\n", "after key=value"},
	{"too many words", "analyser-scenario v1\nspecimen S1\nresult A 1 mg/L extra\n", "want: result"},
	{"bad quote", "analyser-scenario v1\nspecimen \"S1\nresult A 1\n", "quoted"},
	{"only key", "analyser-scenario v1\na=", "begins with a word"},
	{"unknown verb", "analyser-scenario v1\nsample S1\n", "unknown line"},
	{"unknown key", "analyser-scenario v1\nspecimen S1\nresult A 1 colour=red\n", "takes no colour="},
	{"long line", "analyser-scenario v1\nspecimen S1\nresult A " + strings.Repeat("1", 5000) + "\n", "longer than"},
	{"control chars", "analyser-scenario v1\nspecimen S1\nresult A \"1\\x02\"\n", "printable ASCII"},
	{"leading space value", "analyser-scenario v1\nspecimen S1\nresult A \" 1\"\n", "leading or trailing"},
	{"malformed", "analyser-scenario v1\nspecimen S1 malformed=escape\nresult A 1\ncontrol Q1 malformed=escape\nresult A 1\n", ""},
	{"malformed how", "analyser-scenario v1\nspecimen S1 malformed=checksum\nresult A 1\n", "malformed=escape"},
}

func TestParseScenario(t *testing.T) {
	for _, tc := range scenarioCases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseScenario([]byte(tc.in))
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				again, err := ParseScenario(s.Format())
				if err != nil || !reflect.DeepEqual(again, s) {
					t.Fatalf("round trip: %v\n%s", err, s.Format())
				}
				return
			}
			if err == nil || !errors.Is(err, ErrScenario) || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			}
		})
	}
}

func TestExampleScenario(t *testing.T) {
	data, err := os.ReadFile("testdata/example.scenario")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseScenario(data)
	if err != nil {
		t.Fatal(err)
	}
	want := &Scenario{Analyser: "ToxSim^2.1", Racks: []Rack{{ID: "R1", Tubes: []Tube{
		{ID: "S240612-0001", Patient: "CASE-0001", Type: "URINE", Results: []Result{
			{Code: "GHB", Value: "42.0", Units: "mg/L", Range: "0-10", Flags: []string{"H"}, Status: "F"},
			{Code: "BENZ", Value: "<0.5", Units: "ng/mL", Status: "F"},
			{Code: "THC", Value: "NEG", Status: "F"},
			{Code: "ETG", Value: "not detected", Status: "F"},
		}},
		{ID: "S240612-0002", Patient: "CASE-0001", Type: "URINE", Results: []Result{
			{Code: "GHB", Value: "3.1", Units: "mg/L", Range: "0-10", Status: "P"}}},
		{ID: "QC-GHB-L1", Control: true, Lot: "L2406", Level: "1", Results: []Result{
			{Code: "GHB", Value: "10.4", Units: "mg/L", Range: "7-13", Status: "F", Target: "10.0", SD: "1.5"}}},
	}}}}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("got %+v", s)
	}
	if tubes, results := s.Counts(); tubes != 3 || results != 6 {
		t.Fatalf("counts %d %d", tubes, results)
	}
}

func TestGenerate(t *testing.T) {
	s := Generate(1000, 7, "T")
	tubes, results := s.Counts()
	if results < 1000 || results > 1008 || tubes < 1000/8 {
		t.Fatalf("%d tubes, %d results", tubes, results)
	}
	again, err := ParseScenario(s.Format())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, s) {
		t.Fatal("generated scenario does not round-trip")
	}
	if !bytes.Equal(Generate(1000, 7, "T").Format(), s.Format()) {
		t.Fatal("Generate is not deterministic")
	}
	controls, censored := 0, 0
	for _, r := range s.Racks {
		for _, tb := range r.Tubes {
			if tb.Control {
				controls++
			}
			for _, x := range tb.Results {
				if strings.HasPrefix(x.Value, "<") || strings.HasPrefix(x.Value, ">") {
					censored++
				}
			}
		}
	}
	if controls == 0 || censored == 0 {
		t.Fatalf("%d controls, %d censored values", controls, censored)
	}
}

// TestWriteCorpus keeps the committed seed corpus equal to scenarioCases
// (internal/fuzzseed); -write-corpus rewrites it.
func TestWriteCorpus(t *testing.T) {
	var entries [][]any
	for _, tc := range scenarioCases {
		entries = append(entries, []any{[]byte(tc.in)})
	}
	fuzzseed.Write(t, "FuzzParseScenario", entries)
}

// Parsing never panics; an error wraps ErrScenario; what parses formats
// to text that parses to the same scenario.
func FuzzParseScenario(f *testing.F) {
	for _, tc := range scenarioCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := ParseScenario(in)
		if err != nil {
			if !errors.Is(err, ErrScenario) {
				t.Fatalf("error %v does not wrap ErrScenario", err)
			}
			return
		}
		out := s.Format()
		again, err := ParseScenario(out)
		if err != nil {
			t.Fatalf("formatted scenario does not parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(again, s) {
			t.Fatalf("round trip changed the scenario:\n%s", out)
		}
	})
}
