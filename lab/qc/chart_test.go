package qc

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden SVG files in testdata/ from this run")

// exampleRuns is a month of GHB control runs, LOW-1 and HIGH-1 (level 1 and
// 2), with a 1-2s warning, a 1-3s rejection, a 2-2s across runs and a
// shift that 4-1s catches.
var exampleRuns = strings.Join([]string{
	"1:+0.3 2:-0.4", "1:-0.8 2:+0.6", "1:+1.2 2:-0.1", "1:-0.2 2:+2.4", // R4: 1-2s warning on HIGH-1
	"1:+0.5 2:+0.9", "1:-1.1 2:-0.7", "1:+0.1 2:+3.4", // R7: 1-3s on HIGH-1
	"1:+0.6 2:-0.3", "1:-0.4 2:+2.3", "1:+0.2 2:+2.6", // R9 warns, R10: 2-2s across runs
	"1:-0.3 2:+0.4", "1:+0.7 2:-1.2", "1:+0.2 2:+1.3", "1:+0.9 2:+1.6", // shift starts
	"1:+0.4 2:+1.4", "1:+1.1 2:+1.2", // R16: 4-1s on HIGH-1
	"1:-0.6 2:+0.2", "1:+0.3 2:-0.5", "1:-0.9 2:-2.2", "1:+0.1 2:+0.8",
}, " | ")

func renderChart(t *testing.T, m Material, evs []Evaluation) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Chart(&b, m, evs); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// wellFormed parses the SVG with encoding/xml and returns its character
// data, so that a test can look for text as a reader would see it.
func wellFormed(t *testing.T, svg []byte) string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(svg))
	var text strings.Builder
	depth, roots := 0, 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				if tok.Name.Local != "svg" || tok.Name.Space != "http://www.w3.org/2000/svg" {
					t.Fatalf("root element %v, want svg in the SVG namespace", tok.Name)
				}
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			text.Write(tok)
			text.WriteByte('\n')
		}
	}
	if roots != 1 || depth != 0 {
		t.Fatalf("%d root elements, depth %d at the end", roots, depth)
	}
	return text.String()
}

func TestChartGolden(t *testing.T) {
	evs := evaluateVector(t, exampleRuns)
	for _, tc := range []struct {
		file string
		m    Material
		evs  []Evaluation
	}{
		{"levey-jennings-HIGH-1.svg", testMaterials[1], evs},
		{"levey-jennings-LOW-1.svg", testMaterials[0], evs},
		{"levey-jennings-empty.svg", testMaterials[3], evs},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got := renderChart(t, tc.m, tc.evs)
			wellFormed(t, got)
			if again := renderChart(t, tc.m, tc.evs); !bytes.Equal(again, got) {
				t.Fatal("two renderings of the same chart differ")
			}
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test ./lab/qc -run TestChartGolden -update writes it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("the chart differs from %s; look at both, then rerun with -update if the change is meant", path)
			}
		})
	}
}

// TestChartContent checks what the example chart shows, independently of
// the golden file: one point per run, each in its status's shape, rules
// named above rejected points.
func TestChartContent(t *testing.T) {
	evs := evaluateVector(t, exampleRuns)
	svg := string(renderChart(t, testMaterials[1], evs))
	text := wellFormed(t, []byte(svg))
	rejected, warned := 0, 0
	for _, e := range evs {
		for _, p := range e.Points {
			if p.Level != 2 {
				continue
			}
			switch {
			case e.State == Reject:
				rejected++
			case abs(p.Z) > 2:
				warned++
			}
		}
	}
	if rejected != 3 || warned != 3 {
		t.Fatalf("the example has %d rejected and %d warned HIGH-1 points; the test expects 3 and 3", rejected, warned)
	}
	// Each marker is drawn once more in the legend.
	for _, c := range []struct {
		what   string
		marker string
		want   int
	}{
		{"circles", `<circle `, 20 - rejected - warned + 1},
		{"triangles", `fill="` + colourWarn + `"/>`, warned + 1},
		{"crosses", `stroke="` + colourReject + `" stroke-width="2.6"`, rejected + 1},
	} {
		if got := strings.Count(svg, c.marker); got != c.want {
			t.Errorf("%d %s, want %d", got, c.what, c.want)
		}
	}
	for _, s := range []string{"Levey-Jennings chart: control HIGH-1 lot 2231", "GHB (mg/L)", "run, in time order",
		"mean", "+3 SD", "−3 SD", "112", "88", "1-3s", "2-2s", "4-1s", "20 runs, 3 rejected"} {
		if !strings.Contains(text, s) {
			t.Errorf("the chart does not show %q", s)
		}
	}
}

func TestChartEscapes(t *testing.T) {
	m := Material{Name: `<HIGH & "1">`, Analyte: "GHB </text><script>", Lot: "22'31", Level: 1, Mean: 10, SD: 1, Unit: "µg/L"}
	rs := []Result{{Run: "R<1>&", Time: vectorBase, Level: 1, Lot: "22'31", Value: 13.5}}
	evs, err := Evaluate([]Material{m}, rs)
	if err != nil {
		t.Fatal(err)
	}
	svg := renderChart(t, m, evs)
	text := wellFormed(t, svg)
	for _, s := range []string{m.Name, m.Analyte, "R<1>&", "µg/L"} {
		if !strings.Contains(text, s) {
			t.Errorf("the chart's text does not contain %q", s)
		}
	}
	if bytes.Contains(svg, []byte("<script")) {
		t.Error("a name reached the SVG unescaped")
	}
	// Bytes that are not XML characters cannot break the document.
	m.Name = "bad \x00\x1b\xff name"
	wellFormed(t, renderChart(t, m, evs))
}

func TestChartRefuses(t *testing.T) {
	var b bytes.Buffer
	err := Chart(&b, Material{Name: "X", Analyte: "GHB", SD: 0}, nil)
	if !errors.Is(err, ErrInvalid) || b.Len() != 0 {
		t.Errorf("a material without an SD: %v, %d bytes written", err, b.Len())
	}
}

// TestChartAxisValues: the value labels are rounded to the SD's precision,
// without a "-0" where the mean minus 3 SD is zero within rounding.
func TestChartAxisValues(t *testing.T) {
	m := Material{Name: "LOW-0", Analyte: "EtG", Lot: "7", Level: 1, Mean: 0.3, SD: 0.1, Unit: "mg/L"}
	text := wellFormed(t, renderChart(t, m, nil))
	for _, want := range []string{"\n0.6\n", "\n0.3\n", "\n0\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("no axis label %q in %q", strings.TrimSpace(want), text)
		}
	}
	if strings.Contains(text, "-0\n") {
		t.Error("an axis label reads -0")
	}
}

func TestFindingStringZero(t *testing.T) {
	if s := (Finding{Rule: Rule13s}).String(); s != "1-3s" {
		t.Errorf("a finding without points reads %q", s)
	}
}
