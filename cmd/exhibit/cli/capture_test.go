package cli

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var totalLine = regexp.MustCompile(`^total \d+\.\d\d s$`)

// TestCaptureCommand: `exhibit capture` against the simulated rig prints a
// REF HASH line per picture and one for the image set, then the timing
// breakdown ending in "total N.NN s"; the case then exports and verifies.
func TestCaptureCommand(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "light-engine")
	lines, stop := startSimRig(t, "--light-link", link, "--camera-addr", "127.0.0.1:0", "--seed", "3",
		"--skin", "6", "--sensor", "800x600", "--camera-timeout-rate", "0")
	defer stop()
	var url string
	for _, l := range lines {
		if m := cameraLine.FindStringSubmatch(l); m != nil {
			url = m[1]
		}
	}
	data := initData(t)
	pw := "correct horse battery"
	if code, _, errs := run(t, pw+"\n"+pw+"\n", "user", "add", "--data", data, "--id", "ph1", "--name", "Pat Photographer", "--role", "photographer"); code != 0 {
		t.Fatalf("user add: %s", errs)
	}
	out := mustRun(t, "capture", "--data", data, "--case", "01/123456/26", "--profile", "injury-quick",
		"--light", link, "--camera", url, "--site", "left forearm", "--photographer", "ph1")
	t.Logf("capture printed:\n%s", out)
	got := strings.Split(strings.TrimSpace(out), "\n")
	// injury-quick: white (locator and reference), 415 + yellow, 450 +
	// orange: three pictures and the set.
	if len(got) < 5 {
		t.Fatalf("capture printed:\n%s", out)
	}
	for _, l := range got[:4] {
		if !refLine.MatchString(l) {
			t.Errorf("not a REF HASH line: %q", l)
		}
	}
	for _, want := range []string{"light settle", "exposure", "capture", "write+hash", "quality", "register", "enhance", "seal", "software"} {
		if !strings.Contains(out, want) {
			t.Errorf("timing breakdown lacks %q:\n%s", want, out)
		}
	}
	if last := got[len(got)-1]; !totalLine.MatchString(last) {
		t.Errorf("last line %q, want total N.NN s", last)
	}
	show := mustRun(t, "show", "--data", data, "--case", "01/123456/26")
	for _, want := range []string{"image-set", "image", "sealed", "Pat Photographer"} {
		if !strings.Contains(show, want) {
			t.Errorf("show lacks %q:\n%s", want, show)
		}
	}
	// Every derivative (the lines after the set and its three pictures)
	// is reproduced from the sealed originals, byte for byte; a picture
	// has no recipe.
	var derived int
	for _, l := range got[4:] {
		if !refLine.MatchString(l) {
			break
		}
		derived++
		ref := strings.Fields(l)[0]
		rep := mustRun(t, "imaging", "reproduce", "--data", data, "--ref", ref)
		f := strings.Fields(rep)
		if !strings.HasSuffix(strings.TrimSpace(rep), "IDENTICAL") || f[1] != strings.Fields(l)[1] || f[4] != f[1] {
			t.Errorf("reproduce %s:\n%s", ref, rep)
		}
	}
	if derived != 4 { // CLAHE of 415 and 450, the composite, the outline
		t.Errorf("%d derivatives, want 4", derived)
	}
	if code, _, errs := run(t, "", "imaging", "reproduce", "--data", data, "--ref", "JS/2"); code != 1 || !strings.Contains(errs, "not a derivative") {
		t.Errorf("reproduce of a picture: exit %d, %s", code, errs)
	}
	zip := filepath.Join(dir, "case.zip")
	mustRun(t, "export", "--data", data, "--case", "01/123456/26", "--out", zip)
	if v := mustRun(t, "verify", zip); !strings.HasPrefix(v, "VALID") {
		t.Errorf("verify:\n%s", v)
	}
}

// TestCaptureUsage: missing devices, an unknown profile or user are usage
// errors (exit 2) that name the flag.
func TestCaptureUsage(t *testing.T) {
	data := initData(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"capture", "--data", data, "--case", "C1"}, "--light and --camera are required"},
		{[]string{"capture", "--data", data, "--case", "C1", "--light", "/nonexistent", "--camera", "http://127.0.0.1:1", "--profile", "nope"}, "--profile"},
		{[]string{"capture", "--data", data, "--case", "C1", "--light", "/nonexistent", "--camera", "http://127.0.0.1:1", "--photographer", "ghost"}, "--photographer"},
		{[]string{"capture", "--data", data, "--case", " bad", "--light", "/x", "--camera", "http://x"}, "--case"},
	} {
		code, _, errs := run(t, "", tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q (want 2 mentioning %q)", tc.args, code, errs, tc.want)
		}
	}
}
