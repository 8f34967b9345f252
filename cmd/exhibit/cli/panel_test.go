package cli

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/lab/panel"
)

var updatePanel = flag.Bool("update-panel", false, "rewrite testdata/panel/*.golden")

func panelGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "panel", name)
	if *updatePanel {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update-panel)", err, t.Name())
	}
	if string(want) != got {
		t.Errorf("%s differs (run with -update-panel to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestPanelList: `exhibit panel list` prints one line per analyte of the
// built-in panel, --json the analytes with the fields issue 11 names and
// the source of each figure; both pinned by golden files, which change
// only when a panel version is added (released panels never change:
// lab/panel's TestReleased).
func TestPanelList(t *testing.T) {
	text := mustRun(t, "panel", "list")
	panelGolden(t, "list.golden", text)
	out := mustRun(t, "panel", "list", "--json")
	panelGolden(t, "list.json.golden", out)

	p, err := panel.Lookup(panel.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(text, "\n"); lines != len(p.Analytes) || lines < 150 {
		t.Errorf("%d lines for %d analytes", lines, len(p.Analytes))
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(p.Analytes) {
		t.Fatalf("%d analytes in JSON, %d in the panel", len(got), len(p.Analytes))
	}
	for i, a := range p.Analytes {
		g := got[i]
		for _, k := range []string{"name", "class", "units", "screen_cutoff", "confirm_cutoff", "endogenous_threshold", "window_hours", "source"} {
			if _, ok := g[k]; !ok {
				t.Fatalf("%s: no %q in %v", a.ID, k, g)
			}
		}
		if g["id"] != a.ID || g["name"] != a.Name || g["class"] != a.Class || g["units"] != a.Units || g["window_hours"] != float64(a.WindowHours) {
			t.Errorf("%s: %v", a.ID, g)
		}
		// Cut-offs are JSON numbers with the file's digits.
		if n, ok := g["confirm_cutoff"].(float64); !ok || n <= 0 {
			t.Errorf("%s: confirm_cutoff %v", a.ID, g["confirm_cutoff"])
		}
		if (a.Endogenous == "") != (g["endogenous_threshold"] == nil) {
			t.Errorf("%s: endogenous_threshold %v, panel %q", a.ID, g["endogenous_threshold"], a.Endogenous)
		}
		srcs, _ := g["sources"].([]any)
		if len(srcs) < 3 || !strings.Contains(g["source"].(string), "confirm_cutoff: "+a.Sources.Confirm) {
			t.Errorf("%s: source %v, sources %v", a.ID, g["source"], srcs)
		}
		for _, s := range srcs {
			if c, _ := s.(map[string]any)["citation"].(string); c == "" {
				t.Errorf("%s: source without a citation: %v", a.ID, s)
			}
		}
	}
	if !strings.Contains(out, `"endogenous_threshold": 10,`) || !strings.Contains(text, "ghb ") {
		t.Error("GHB's endogenous threshold is not listed")
	}
	// An older version is named the same way, and the default is the latest.
	if mustRun(t, "panel", "list", "--panel", "spiking-panel@1") != text {
		t.Error("--panel spiking-panel@1 differs from the default")
	}
}

func TestPanelUsage(t *testing.T) {
	for _, tt := range []struct {
		args     []string
		msg, use string
	}{
		{[]string{"panel"}, "which action? (list, coverage)", "panel list|coverage"},
		{[]string{"panel", "show"}, `unknown action "show" (list, coverage)`, "panel list|coverage"},
		{[]string{"panel", "list", "ghb"}, "unexpected arguments", "panel list [--panel NAME[@VERSION]] [--json]"},
		{[]string{"panel", "list", "--yaml"}, "flag provided but not defined: -yaml", "panel list [--panel"},
		{[]string{"panel", "list", "--panel", "workplace"}, `panel "workplace": no such panel`, "panel list [--panel"},
		{[]string{"panel", "coverage"}, "--data, --kit and --stage are required", "panel coverage --data DIR --kit FILE --stage screen|confirm"},
		{[]string{"panel", "coverage", "--data", "d", "--kit", "k", "--stage", "final"}, `stage "final": want screen or confirm`, "panel coverage"},
		{[]string{"panel", "coverage", "--data", "d", "--kit", "k", "--stage", "confirm", "extra"}, "unexpected arguments", "panel coverage"},
	} {
		code, out, errs := run(t, "", tt.args...)
		if code != exitUsage || out != "" || !strings.Contains(errs, tt.msg) || !strings.Contains(errs, "usage: exhibit "+tt.use) {
			t.Errorf("exhibit %v: exit %d, stdout %q, stderr %q; want exit 2 mentioning %q and the usage", tt.args, code, out, errs, tt.msg)
		}
	}
	if code, out, _ := run(t, "", "help"); code != 0 || !strings.Contains(out, "  panel     panel list|coverage: ") {
		t.Errorf("help: exit %d, %q", code, out)
	}
	// Files that are not there or not kits fail (exit 1) and say which.
	data := initData(t)
	bad := filepath.Join(t.TempDir(), "bad.kit")
	os.WriteFile(bad, []byte("exhibit-kit v1\nname k\nclaim benzos 300 ng/mL\n"), 0o644)
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--data", data, "--kit", filepath.Join(t.TempDir(), "none.kit"), "--stage", "confirm"}, "none.kit: no such file"},
		{[]string{"--data", data, "--kit", bad, "--stage", "confirm"}, `bad.kit: panel: invalid kit file: line 3: analyte "benzos" is not in spiking-panel@1`},
		{[]string{"--data", filepath.Join(t.TempDir(), "none"), "--kit", panelKit, "--stage", "confirm"}, "not an Exhibit data directory"},
	} {
		code, out, errs := run(t, "", append([]string{"panel", "coverage"}, tt.args...)...)
		if code != exitFail || out != "" || !strings.Contains(errs, tt.msg) {
			t.Errorf("coverage %v: exit %d, stdout %q, stderr %q; want exit 1 mentioning %q", tt.args, code, out, errs, tt.msg)
		}
	}
}

// panelKit is one of lab/panel's illustrative kit files: GHB 10 µg/mL,
// ketamine 1000 ng/mL, diazepam 300 ng/mL.
const panelKit = "../../../lab/panel/testdata/kits/illustrative-drink-strip.kit"

// TestPanelCoverage: a confirmation rack goes from the simulated analyser
// over a pseudo-terminal into the data directory (as in
// TestLabReceiveOverPTY), and `exhibit panel coverage` reads it back:
// every positive is interpreted against the panel — units converted,
// censored values kept censored, GHB under its endogenous threshold not a
// positive — and set against the kit's claims.
func TestPanelCoverage(t *testing.T) {
	data := initData(t)
	link := filepath.Join(t.TempDir(), "analyser")
	rcv := startLab(t, runLab, "receive", "--data", data, "--protocol", "astm", "--transport", "serial", "--link", link,
		"--baud", "115200", "--codes", "testdata/panel/lcmsms.testcode", "--case", "SPIKE-1", "--log-level", "error")
	rcv.waitLine(regexp.MustCompile(`^receiving astm \(lis2a2\) over serial`))
	sim := startLab(t, runSimAnalyser, "--protocol", "astm", "--transport", "pty", "--link", link,
		"--scenario", "testdata/panel/confirm.scenario", "--time", "2024-06-12T10:30:00Z", "--baud", "115200", "--reply-timer", "500ms")
	if code := sim.wait(); code != 0 {
		t.Fatalf("sim exit %d\n%s\n%s", code, sim.output(), sim.stderr)
	}
	if out := sim.drain(); !strings.Contains(out, "done: 4 of 4 tubes acknowledged") {
		t.Fatalf("sim output:\n%s", out)
	}
	for i := 0; i < 4; i++ {
		rcv.waitLine(labStored)
	}
	if code := rcv.stop(); code != 0 {
		t.Fatalf("receive exit %d\n%s", code, rcv.stderr)
	}
	rcv.drain()

	args := []string{"panel", "coverage", "--data", data, "--kit", panelKit, "--stage", "confirm", "--exclude", "QC-GHB-L1"}
	text := mustRun(t, args...)
	panelGolden(t, "coverage.golden", strings.Replace(text, data, "DATA", 1))
	var rep panelCoverageReport
	if err := json.Unmarshal([]byte(mustRun(t, append(args, "--json")...)), &rep); err != nil {
		t.Fatal(err)
	}
	type row struct{ specimen, analyte, value, outcome, detection, kitValue string }
	var got []row
	for _, c := range rep.Positives {
		got = append(got, row{c.Specimen, c.Analyte, c.Value, c.Outcome, c.Detection, c.KitValue})
	}
	want := []row{
		{"S1", "ghb", "42.0", "confirmed-positive", "detected", "42.0"},
		{"S1", "diazepam", "45", "confirmed-positive", "missed-below-cutoff", "45"},
		{"S2", "ketamine", ">800", "confirmed-positive", "undetermined", ">800"},
		{"S2", "etizolam", "12", "confirmed-positive", "missed-not-claimed", ""},
		{"S3", "ketamine", "1500", "confirmed-positive", "detected", "1500"},
		{"S3", "temazepam", "5000", "confirmed-positive", "missed-not-claimed", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("positives %v\nwant %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("positive %d: %v, want %v", i, got[i], want[i])
		}
	}
	// Not positive: alprazolam <0.5 ng/mL (negative) and GHB 7.5 µg/mL
	// (under the endogenous threshold). Skipped: a code outside the map
	// and a molar unit.
	if rep.Detected != 2 || rep.BelowCutoff != 1 || rep.NotClaimed != 2 || rep.Undetermined != 1 || rep.NotPositive != 2 ||
		len(rep.Skipped) != 2 || !rep.Illustrative || rep.Panel != "spiking-panel@1" || rep.Stage != "confirm" {
		t.Errorf("report %+v", rep)
	}
	if !strings.Contains(rep.Skipped[0].Reason, `test code "ETG"`) || !strings.Contains(rep.Skipped[1].Reason, "molar unit") {
		t.Errorf("skipped %+v", rep.Skipped)
	}
	// Without --exclude the control counts as a positive: the records do
	// not mark control specimens.
	var all panelCoverageReport
	if err := json.Unmarshal([]byte(mustRun(t, "panel", "coverage", "--data", data, "--kit", panelKit, "--stage", "confirm", "--json")), &all); err != nil {
		t.Fatal(err)
	}
	if len(all.Positives) != 7 || all.Positives[6].Specimen != "QC-GHB-L1" {
		t.Errorf("without --exclude: %+v", all.Positives)
	}
	// As screening results, the same numbers meet the higher screening
	// cut-offs: diazepam 45 ng/mL is still positive (screen 20), GHB 42
	// mg/L is presumptive.
	var scr panelCoverageReport
	if err := json.Unmarshal([]byte(mustRun(t, append(args[:len(args)-2], "--stage", "screen", "--exclude", "QC-GHB-L1", "--json")...)), &scr); err != nil {
		t.Fatal(err)
	}
	if len(scr.Positives) != 6 || scr.Positives[0].Outcome != "presumptive-positive" {
		t.Errorf("screen: %+v", scr.Positives)
	}
	// Another case has nothing.
	if out := mustRun(t, append(args, "--case", "OTHER")...); !strings.Contains(out, "0 positives: 0 detected") {
		t.Errorf("other case: %q", out)
	}
}
