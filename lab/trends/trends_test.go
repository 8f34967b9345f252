package trends

import (
	"bytes"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden chart")

func at(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 12, 0, 0, 0, time.UTC) }

func TestCount(t *testing.T) {
	fs := []Finding{
		{"S1", "ghb", "ghb", at(2026, 10, 3)},
		{"S1", "ghb", "ghb", at(2026, 10, 4)}, // a re-run: counted once
		{"S1", "diazepam", "benzodiazepines", at(2026, 10, 3)},
		{"S2", "ketamine", "dissociatives", at(2026, 12, 31)},
		{"S3", "ketamine", "dissociatives", at(2026, 12, 1)},
	}
	got := Count(fs)
	if len(got) != 3 || got[0].Month != "2026-10" || got[1].Month != "2026-11" || got[2].Month != "2026-12" {
		t.Fatalf("months %+v", got)
	}
	if got[0].Total != 2 || got[0].ByClass["ghb"] != 1 || got[1].Total != 0 || got[2].ByClass["dissociatives"] != 2 {
		t.Errorf("counts %+v", got)
	}
	if Count(nil) != nil {
		t.Error("no findings, some months")
	}
}

// TestChart: the chart is well-formed SVG, escapes names, is the same
// bytes twice, and matches the golden file (-update rewrites it).
func TestChart(t *testing.T) {
	classes := []string{"ghb", "benzodiazepines", "z-drugs", "dissociatives", "opioids", "antihistamines", "cannabinoids", "stimulants", "alcohol", "hallucinogens", "sedatives", "<script>"}
	var fs []Finding
	for m := 0; m < 8; m++ {
		for i, c := range classes {
			for k := 0; k < (i*7+m*3)%5; k++ {
				fs = append(fs, Finding{Sample: "S" + string(rune('a'+m)) + string(rune('a'+k)), Analyte: c, Class: c, When: at(2026, time.Month(3+m), 10)})
			}
		}
	}
	var a, b bytes.Buffer
	if err := Chart(&a, "Confirmed substances by class & month", Count(fs)); err != nil {
		t.Fatal(err)
	}
	Chart(&b, "Confirmed substances by class & month", Count(fs))
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two renderings differ")
	}
	if strings.Contains(a.String(), "<script>") {
		t.Error("a class name was not escaped")
	}
	dec := xml.NewDecoder(bytes.NewReader(a.Bytes()))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("not well-formed: %v", err)
		}
	}
	golden := filepath.Join("testdata", "trends.svg")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, a.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, a.Bytes()) {
		t.Errorf("chart differs from %s (go test -update to rewrite it after checking)", golden)
	}
	var empty bytes.Buffer
	if err := Chart(&empty, "none", nil); err != nil || !strings.Contains(empty.String(), "no confirmed findings") {
		t.Errorf("empty chart: %v", err)
	}
}
