package lcms

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/lab/panel"
	"github.com/exhibit-forensics/exhibit/lab/testcode"
	"github.com/exhibit-forensics/exhibit/lab/value"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// A case is one export: it either parses, and its parse is compared with
// testdata/golden/NAME.json, or fails with an error containing err. The
// inputs are also FuzzParse's seed corpus (TestWriteCorpus).
type parseCase struct {
	name string
	in   string
	err  string // "" : parses
}

// multiQuant is a results table as MultiQuant/SCIEX OS export it: tab
// delimited, one row per sample and component, internal-standard
// components as rows of their own (IS = True).
const multiQuant = "Sample Name\tSample ID\tSample Type\tComponent Name\tIS Name\tIS\tArea\tRetention Time\tActual Concentration\tCalculated Concentration\tAccuracy\tAcquisition Date\n" +
	"Blank 1\t\tDouble Blank\tGHB\tGHB-d6\tFalse\t0\tN/A\tN/A\tNo Peak\tN/A\t2026-12-04 21:02:11\n" +
	"Cal 1\tCAL-1\tStandard\tGHB\tGHB-d6\tFalse\t10234\t1.61\t1.00\t1.03\t103.0\t2026-12-04 21:09:40\n" +
	"QC Low\tQC-GHB-L1\tQuality Control\tGHB\tGHB-d6\tFalse\t30112\t1.62\t3.00\t2.91\t97.0\t2026-12-04 21:17:05\n" +
	"S240612-0001\tS240612-0001\tUnknown\tGHB\tGHB-d6\tFalse\t412230\t1.61\tN/A\t42.0\tN/A\t2026-12-04 21:24:33\n" +
	"S240612-0001\tS240612-0001\tUnknown\tGHB-d6\t\tTrue\t99120\t1.60\tN/A\tN/A\tN/A\t2026-12-04 21:24:33\n" +
	"S240612-0001\tS240612-0001\tUnknown\tAlprazolam\tAlprazolam-d5\tFalse\t0\tN/A\tN/A\t<LLOQ\tN/A\t2026-12-04 21:24:33\n"

// Units for the MultiQuant table: its concentration header carries none,
// so the Analyte Units column does.
const multiQuantUnits = "Sample Name\tSample Type\tAnalyte Peak Name\tAnalyte Units\tAnalyte Concentration\tCalculated Concentration\n" +
	"S1\tUnknown\tGHB\tmg/L\tN/A\t12.5\n" +
	"S1\tUnknown\tMDMA\tng/mL\tN/A\t>1000\n"

// traceFinderDE is a TraceFinder-like export from a German-locale PC: a
// UTF-8 BOM, CRLF, ';' delimiter, decimal comma, quoted fields, trailing
// empty columns, and thousands separators.
const traceFinderDE = "\ufeffSample Name;Sample ID;Sample Type;Compound;Calculated Amt;Units;Flags;Acquisition Date;Batch;;\r\n" +
	"\"QC Hoch\";\"QC-H1\";QC;Alprazolam;48,7;ng/mL;;04.12.2026 22:01;\"Lauf 12; Tox\";;\r\n" +
	"\"Probe 7\";\"S-0007\";Unknown;Alprazolam;1.234,5;ng/mL;\"Ion Ratio, RT\";04.12.2026 22:09;\"Lauf 12; Tox\";;\r\n" +
	"\"Probe 7\";\"S-0007\";Unknown;Diazepam;ND;ng/mL;;04.12.2026 22:09;\"Lauf 12; Tox\";;\r\n" +
	"\r\n"

// massHunter is a long-form MassHunter-like export, comma delimited with
// the unit in the concentration header, Windows-1252 text (µ as 0xB5).
const massHunter = "Name,Data File,Type,Compound,Final Conc. (\xb5g/L),Acq. Date-Time,Batch ID\n" +
	"Cal 3,cal3.d,Cal,Ketamine,50.0,12/4/2026 10:01 PM,B-77\n" +
	"Blank,blk.d,MatrixBlank,Ketamine,0.00,12/4/2026 10:07 PM,B-77\n" +
	"\"Case, 14\",c14.d,Sample,Ketamine,\"1,250.5\",12/4/2026 10:13 PM,B-77\n" +
	"Case 15,c15.d,Sample,Ketamine,<0.5,12/4/2026 10:19 PM,B-77\n"

var cases = []parseCase{
	{name: "multiquant", in: multiQuant},
	{name: "multiquant-units", in: multiQuantUnits},
	{name: "tracefinder-de", in: traceFinderDE},
	{name: "masshunter-cp1252", in: massHunter},
	{name: "component-type", in: "Sample ID,Sample Type,Compound,Compound Type,Calculated Concentration (ng/mL)\n" +
		"S2,Unknown,Ketamine,Target Compound,3.2\nS2,Unknown,Ketamine-d4,Internal Standard,N/A\n"},
	{name: "ambiguous-thousands-settled", in: "Sample ID;Sample Type;Compound;Calc. Conc. (ng/mL)\nS3;Unknown;A;1.234\nS3;Unknown;B;0,5\n"},

	{name: "empty", in: "", err: "empty"},
	{name: "blank-lines", in: "\r\n\r\n  \n", err: "empty"},
	{name: "utf16", in: "\xff\xfeS\x00", err: "UTF-16"},
	{name: "bom-not-utf8", in: "\ufeffSample ID,Sample Type,Compound,Calculated Concentration\n\xffA,Unknown,GHB,1\n", err: "not UTF-8"},
	{name: "nul", in: "Sample ID,Sample Type,Compound,Calculated Concentration\n\x00,Unknown,GHB,1\n", err: "NUL"},
	{name: "header-only", in: "Sample ID,Sample Type,Compound,Calculated Concentration (ng/mL)\n", err: "no rows"},
	{name: "no-conc", in: "Sample ID,Sample Type,Compound,Area\nS1,Unknown,GHB,123\n", err: "no calculated concentration column"},
	{name: "no-type", in: "Sample ID,Compound,Calculated Concentration (ng/mL)\nS1,GHB,1\n", err: "no sample type column"},
	{name: "two-conc", in: "Name,Type,Compound,Calc. Conc. (ng/mL),Final Conc. (ng/mL)\nS1,Sample,GHB,1,2\n", err: "two calculated concentration columns"},
	{name: "unknown-type", in: "Sample ID,Sample Type,Compound,Calculated Concentration (ng/mL)\nS1,Matrix Spike,GHB,1\n", err: "sample type \"Matrix Spike\""},
	{name: "text-value", in: "Sample ID,Sample Type,Compound,Calculated Concentration (ng/mL)\nS1,Unknown,GHB,positive\n", err: "not a number"},
	{name: "exponent", in: "Sample ID,Sample Type,Compound,Calculated Concentration (ng/mL)\nS1,Unknown,GHB,1.2E+03\n", err: "not a number"},
	{name: "ambiguous-mark", in: "Sample ID;Sample Type;Compound;Calculated Concentration (ng/mL)\nS1;Unknown;GHB;1,234\n", err: "decimal or a thousands separator"},
	{name: "mixed-marks", in: "Sample ID;Sample Type;Compound;Calculated Concentration (ng/mL)\nS1;Unknown;GHB;1,5\nS1;Unknown;GBL;2.25\n", err: "decimal mark"},
	{name: "bad-grouping", in: "Sample ID,Sample Type,Compound,Calculated Concentration (ng/mL)\nS1,Unknown,GHB,\"12,34.5\"\n", err: "group digits by three"},
	{name: "cut-short", in: "Sample ID,Sample Type,Compound,Calculated Concentration (ng/mL),Acquisition Date\nS1,Unknown,GHB,1,2026-12-04\nS2,Unknown,GHB\n", err: "cut short"},
	{name: "extra-data", in: "Sample ID,Sample Type,Compound,Calculated Concentration (ng/mL)\nS1,Unknown,GHB,1,oops\n", err: "past the header"},
	{name: "duplicate", in: "Sample ID,Sample Type,Compound,Calculated Concentration (ng/mL)\nS1,Unknown,GHB,1\nS1,Unknown,GHB,2\n", err: "again"},
	{name: "no-units", in: "Sample ID,Sample Type,Compound,Calculated Concentration\nS1,Unknown,Cocaine,1\n", err: "no units"},
	{name: "units-conflict", in: "Sample ID,Sample Type,Compound,Calculated Concentration (ng/mL),Units\nS1,Unknown,GHB,1,mg/L\n", err: "header says"},
	{name: "bare-quote", in: "Sample ID,Sample Type,Compound,Calculated Concentration (ng/mL)\nS1 \"x,Unknown,GHB,1\n", err: "line 2"},
	{name: "no-specimen", in: "Sample ID,Sample Name,Sample Type,Compound,Calculated Concentration (ng/mL)\n,,Unknown,GHB,1\n", err: "no sample id or name"},
	{name: "is-not-bool", in: "Sample ID,Sample Type,Compound,IS,Calculated Concentration (ng/mL)\nS1,Unknown,GHB,maybe,1\n", err: "True or False"},
	{name: "only-istd", in: "Sample ID,Sample Type,Compound,IS,Calculated Concentration (ng/mL)\nS1,Unknown,GHB-d6,True,N/A\n", err: "no result rows"},
	{name: "targetlynx-blocks", in: "Compound 1:  GHB\n\n\tName\tType\tConc.\n1\tS1\tAnalyte\t1.0\n", err: "no sample"},
	{name: "ambiguous-delimiter", in: "Sample ID\tSample Type\tCompound\tResult\tX;Sample ID;Sample Type;Compound;Calc Conc\nS1\tUnknown\tGHB\t1\n", err: "more than one delimiter"},
	{name: "one-column", in: "hello\nworld\n", err: "header"},
}

func codes(t testing.TB) *testcode.Map {
	t.Helper()
	m, err := testcode.Parse([]byte("testcode v1\nanalyser lcms-1\nGHB ghb mg/L\nKetamine ketamine\n"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func builtinPanel(t testing.TB) *panel.Panel {
	t.Helper()
	p, err := panel.Lookup("spiking-panel")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// golden is the readable form of a parse.
type golden struct {
	Dialect string      `json:"dialect"`
	BOM     bool        `json:"bom,omitempty"`
	Skipped int         `json:"skipped,omitempty"`
	Rows    []goldenRow `json:"rows"`
}

type goldenRow struct {
	Line       int      `json:"line"`
	Specimen   string   `json:"specimen"`
	SampleName string   `json:"sampleName,omitempty"`
	Type       string   `json:"type"`
	TypeText   string   `json:"typeText"`
	Compound   string   `json:"compound"`
	Analyte    string   `json:"analyte,omitempty"`
	Known      bool     `json:"known"`
	Raw        string   `json:"raw"`
	Kind       string   `json:"kind"`
	Comparator string   `json:"comparator,omitempty"`
	Decimal    string   `json:"decimal,omitempty"`
	Reading    string   `json:"reading"`
	Units      string   `json:"units,omitempty"`
	Flags      []string `json:"flags,omitempty"`
	Acquired   string   `json:"acquired,omitempty"`
	Batch      string   `json:"batch,omitempty"`
}

func goldenOf(f *File) golden {
	g := golden{Dialect: f.Dialect(), BOM: f.BOM, Skipped: f.Skipped}
	for _, r := range f.Rows {
		g.Rows = append(g.Rows, goldenRow{Line: r.Line, Specimen: r.Specimen, SampleName: r.SampleName, Type: string(r.Type),
			TypeText: r.TypeText, Compound: r.Compound, Analyte: r.Analyte, Known: r.Known, Raw: r.Value.Raw,
			Kind: r.Value.Kind.String(), Comparator: r.Value.Comparator, Decimal: r.Value.Decimal, Reading: string(r.Reading),
			Units: r.Units, Flags: r.Flags, Acquired: r.Acquired, Batch: r.Batch})
	}
	return g
}

func TestParse(t *testing.T) {
	opt := Options{Codes: codes(t), Panel: builtinPanel(t)}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse([]byte(tc.in), opt)
			if tc.err != "" {
				if err == nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want ErrMalformed containing %q", err, tc.err)
				}
				if f != nil {
					t.Fatalf("a file with an error: %+v", f)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(goldenOf(f), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "golden", tc.name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./lab/lcms -run TestParse -update)", err)
			}
			if string(got) != string(want) {
				t.Errorf("parse of %s differs from %s (run with -update if the change is meant):\n%s", tc.name, path, got)
			}
		})
	}
}

// TestParseMeaning checks, beyond the golden files, the facts the format
// document promises about the examples.
func TestParseMeaning(t *testing.T) {
	opt := Options{Codes: codes(t), Panel: builtinPanel(t)}
	parse := func(in string) *File {
		t.Helper()
		f, err := Parse([]byte(in), opt)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	mq := parse(multiQuant)
	if mq.Skipped != 1 || len(mq.Rows) != 5 {
		t.Fatalf("multiquant: %d rows, %d skipped", len(mq.Rows), mq.Skipped)
	}
	types := []SampleType{Blank, Calibrator, QC, Unknown, Unknown}
	for i, r := range mq.Rows {
		if r.Type != types[i] {
			t.Errorf("row %d: type %s, want %s", i, r.Type, types[i])
		}
	}
	if r := mq.Rows[0]; r.Specimen != "Blank 1" || r.Reading != NotDetected || r.Value.Kind != value.Text {
		t.Errorf("blank with no id: %+v", r)
	}
	if r := mq.Rows[3]; r.Specimen != "S240612-0001" || r.Analyte != "ghb" || r.Value.Decimal != "42.0" || r.Units != "" && r.Reading != Measured {
		t.Errorf("case sample: %+v", r)
	}
	if r := mq.Rows[4]; r.Reading != BelowLLOQ || r.Value.Kind == value.Number || r.Analyte != "alprazolam" {
		t.Errorf("<LLOQ: %+v", r)
	}
	de := parse(traceFinderDE)
	if de.Mark != value.Comma || de.Delimiter != ';' || !de.BOM {
		t.Errorf("tracefinder: %s", de.Dialect())
	}
	if r := de.Rows[1]; r.Value.Decimal != "1234.5" || r.Value.Raw != "1.234,5" || len(r.Flags) != 2 || r.Batch != "Lauf 12; Tox" {
		t.Errorf("thousands and decimal comma: %+v", r)
	}
	mh := parse(massHunter)
	if mh.Rows[0].Units != "µg/L" || mh.Rows[2].Specimen != "Case, 14" || mh.Rows[2].Value.Decimal != "1250.5" {
		t.Errorf("masshunter: %+v", mh.Rows)
	}
	if r := mh.Rows[3]; r.Value.Kind != value.Censored || r.Value.Comparator != "<" || r.Value.Decimal != "0.5" {
		t.Errorf("censored: %+v", r)
	}
	// Without maps, every analyte is kept and flagged unknown.
	bare, err := Parse([]byte(multiQuantUnits), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if u := bare.Unknown(); len(u) != 2 || u[0] != "GHB" || u[1] != "MDMA" {
		t.Errorf("unknown: %q", u)
	}
}

// FuzzParse: Parse never panics; it returns a file or an ErrMalformed,
// never both; a file has rows that keep what the format document promises;
// and the parse does not depend on anything but the bytes.
func FuzzParse(f *testing.F) {
	for _, tc := range cases {
		f.Add([]byte(tc.in))
	}
	opt := Options{Codes: codes(f), Panel: builtinPanel(f)}
	f.Fuzz(func(t *testing.T, in []byte) {
		file, err := Parse(in, opt)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || file != nil {
				t.Fatalf("error %v with file %v", err, file != nil)
			}
			return
		}
		if len(file.Rows) == 0 {
			t.Fatal("a file with no rows")
		}
		seen := map[[3]string]bool{}
		for _, r := range file.Rows {
			if r.Specimen == "" || r.Compound == "" {
				t.Fatalf("row without specimen or analyte: %+v", r)
			}
			switch r.Type {
			case Unknown, QC, Calibrator, Blank:
			default:
				t.Fatalf("type %q", r.Type)
			}
			k := [3]string{r.Specimen, r.Compound, r.Acquired}
			if seen[k] {
				t.Fatalf("duplicate row %v", k)
			}
			seen[k] = true
			switch r.Value.Kind {
			case value.Number, value.Censored:
				if r.Reading != Measured || r.Units == "" {
					t.Fatalf("a number that is not measured, or without units: %+v", r)
				}
				if v := value.Parse(r.Value.String(), value.Point); v.Kind != r.Value.Kind || v.Decimal != r.Value.Decimal {
					t.Fatalf("decimal %q does not read back: %+v", r.Value.String(), v)
				}
			default:
				if r.Reading == Measured {
					t.Fatalf("a measured value that is not a number: %+v", r)
				}
			}
			if r.Known != (r.Analyte != "") {
				t.Fatalf("known %v, analyte %q", r.Known, r.Analyte)
			}
		}
		res := Results(file)
		if len(res) != len(file.Rows) {
			t.Fatalf("%d results of %d rows", len(res), len(file.Rows))
		}
		again, err := Parse(in, opt)
		if err != nil || len(again.Rows) != len(file.Rows) {
			t.Fatalf("a second parse differs: %v", err)
		}
	})
}
