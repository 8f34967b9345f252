package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// lcmsGood is a TraceFinder-like export from a German-locale PC: BOM,
// CRLF, ';', decimal comma.
const lcmsGood = "\ufeffSample Name;Sample ID;Sample Type;Compound;Calculated Amt;Units;Flags;Acquisition Date\r\n" +
	"QC Low;QC-GHB-L1;QC;GHB;2,91;mg/L;;04.12.2026 21:17\r\n" +
	"Probe 1;S240612-0001;Unknown;GHB;42,0;mg/L;Ion Ratio;04.12.2026 21:24\r\n" +
	"Probe 1;S240612-0001;Unknown;Alprazolam;<LLOQ;ng/mL;;04.12.2026 21:24\r\n" +
	"Probe 1;S240612-0001;Unknown;Zolpidem-X;1,5;ng/mL;;04.12.2026 21:24\r\n"

// lcmsBad has good rows and then a row cut short: none may be imported.
const lcmsBad = "Sample ID,Sample Type,Compound,Calculated Concentration (ng/mL)\n" +
	"S240612-0002,Unknown,Ketamine,3.2\n" +
	"S240612-0003,Unknown\n"

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLabWatchOnce: files dropped in a folder become results and
// quarantine entries, once each.
func TestLabWatchOnce(t *testing.T) {
	data := initData(t)
	folder := t.TempDir()
	writeFile(t, filepath.Join(folder, "a-run12.csv"), lcmsGood)
	writeFile(t, filepath.Join(folder, "b-run13.csv"), lcmsBad)
	writeFile(t, filepath.Join(folder, "c-run12-copy.csv"), lcmsGood)
	writeFile(t, filepath.Join(folder, ".hidden.csv"), lcmsGood)
	watch := []string{"lab", "watch", "--data", data, "--folder", folder, "--case", "CASE-LCMS", "--once", "--poll", "20ms", "--analyser", "qtrap-1"}
	out := mustRun(t, watch...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []*regexp.Regexp{
		regexp.MustCompile(`^imported (JS/\d+) a-run12\.csv results=4 unknown=1 skipped=0 key=lcms:sha256:[0-9a-f]{64}$`),
		regexp.MustCompile(`^quarantined JS/\d+ b-run13\.csv reason=".*line 3: 2 fields, the header has 4: a row cut short"$`),
		regexp.MustCompile(`^duplicate (JS/\d+) c-run12-copy\.csv key=lcms:sha256:[0-9a-f]{64}$`),
		regexp.MustCompile(`^checkpoint: log size \d+$`),
		regexp.MustCompile(`^stopped: 1 imported, 1 duplicates, 1 quarantined, 0 not imported$`),
	}
	if len(lines) != len(want) {
		t.Fatalf("output:\n%s", out)
	}
	for i, re := range want {
		if !re.MatchString(lines[i]) {
			t.Errorf("line %d: %q does not match %s", i+1, lines[i], re)
		}
	}
	if a, c := want[0].FindStringSubmatch(lines[0]), want[2].FindStringSubmatch(lines[2]); a == nil || c == nil || a[1] != c[1] {
		t.Errorf("the duplicate names another exhibit: %q, %q", lines[0], lines[2])
	}
	for _, p := range []string{"done/a-run12.csv", "done/c-run12-copy.csv", "quarantine/b-run13.csv", ".hidden.csv"} {
		if _, err := os.Stat(filepath.Join(folder, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}

	var results []labResult
	if err := json.Unmarshal([]byte(mustRun(t, "lab", "results", "--data", data, "--json")), &results); err != nil {
		t.Fatal(err)
	}
	if len(results) != 4 {
		t.Fatalf("%d results: %+v", len(results), results)
	}
	type row struct{ specimen, code, analyte, value, number, units, flags string }
	wantRows := []row{
		{"QC-GHB-L1", "GHB", "ghb", "2,91", "2.91", "mg/L", "sample=qc"},
		{"S240612-0001", "GHB", "ghb", "42,0", "42.0", "mg/L", "sample=unknown,Ion Ratio"},
		{"S240612-0001", "Alprazolam", "alprazolam", "<LLOQ", "", "ng/mL", "sample=unknown,result=below-lloq"},
		{"S240612-0001", "Zolpidem-X", "", "1,5", "1.5", "ng/mL", "sample=unknown"},
	}
	for i, w := range wantRows {
		r := results[i]
		got := row{r.Specimen, r.Code, r.Analyte, r.Value, r.Number, r.Units, r.Flags}
		if got != w || r.Protocol != "lcms-csv" || r.Dialect != "csv;utf-8;semicolon;comma" || r.Analyser != "qtrap-1" ||
			r.Case != "CASE-LCMS" || r.Unknown != (w.analyte == "") || r.ResultTime != "04.12.2026 21:24" && i > 0 {
			t.Errorf("result %d: %+v, want %+v", i, r, w)
		}
	}
	table := mustRun(t, "lab", "results", "--data", data)
	if !strings.Contains(table, "Zolpidem-X (unknown code)") || !strings.Contains(table, "<LLOQ") {
		t.Errorf("results table:\n%s", table)
	}

	var quar []labQuarantined
	if err := json.Unmarshal([]byte(mustRun(t, "lab", "quarantine", "--data", data, "--json")), &quar); err != nil {
		t.Fatal(err)
	}
	if len(quar) != 1 || quar[0].Protocol != "lcms-csv" || !strings.Contains(quar[0].Reason, "a row cut short") ||
		quar[0].Size != int64(len(lcmsBad)) || !strings.HasPrefix(quar[0].Preview, `"Sample ID,Sample Type`) {
		t.Fatalf("quarantine %+v", quar)
	}

	// Nothing is left to take; the same bytes dropped again are recognised.
	writeFile(t, filepath.Join(folder, "d-again.csv"), lcmsBad)
	out = mustRun(t, watch...)
	if !strings.Contains(out, "duplicate JS/") || !strings.Contains(out, "stopped: 0 imported, 1 duplicates, 0 quarantined, 0 not imported") {
		t.Fatalf("second run:\n%s", out)
	}
	if n := len(strings.Split(strings.TrimSpace(mustRun(t, "lab", "results", "--data", data)), "\n")); n != 5 {
		t.Fatalf("results table has %d lines after the second run", n)
	}
}

// TestLabWatchRuns: without --once the command watches until stopped; a
// file dropped while it runs is imported.
func TestLabWatchRuns(t *testing.T) {
	data := initData(t)
	folder := t.TempDir()
	p := startLab(t, labWatch, "--data", data, "--folder", folder, "--poll", "10ms", "--marker")
	p.waitLine(regexp.MustCompile(`^watching `))
	writeFile(t, filepath.Join(folder, "run.csv"), lcmsGood)
	writeFile(t, filepath.Join(folder, "run.csv.done"), "")
	p.waitLine(regexp.MustCompile(`^imported JS/\d+ run\.csv results=4 `))
	if code := p.stop(); code != exitOK {
		t.Fatalf("exit %d\n%s", code, p.stderr)
	}
	if out := p.drain(); !strings.Contains(out, "stopped: 1 imported, 0 duplicates, 0 quarantined, 0 not imported") {
		t.Fatalf("output:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(folder, "run.csv.done")); !os.IsNotExist(err) {
		t.Fatalf("marker left: %v", err)
	}
}

func TestLabWatchUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"lab", "watch"}, exitUsage, "--data and --folder are required"},
		{[]string{"lab", "watch", "--data", dir, "--folder", dir, "--poll", "0s"}, exitUsage, "must be positive"},
		{[]string{"lab", "watch", "--data", dir, "--folder", dir, "--panel", "nope"}, exitUsage, "--panel"},
		{[]string{"lab", "watch", "--data", dir, "--folder", dir, "extra"}, exitUsage, "unexpected"},
	} {
		code, _, errs := run(t, "", tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, errs)
		}
	}
}
