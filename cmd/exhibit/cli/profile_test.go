package cli

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/imaging/profile"
)

var updateProfile = flag.Bool("update-profile", false, "rewrite testdata/profile/*.golden")

func profileGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "profile", name)
	if *updateProfile {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update-profile)", err, t.Name())
	}
	if string(want) != got {
		t.Errorf("%s differs (run with -update-profile to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestProfileList: `exhibit profile list` prints one line per built-in
// profile version, --json the profiles with their shots; both pinned by
// golden files, which change only when a profile is added (released
// profiles never change: imaging/profile's TestReleased).
func TestProfileList(t *testing.T) {
	profileGolden(t, "list.golden", mustRun(t, "profile", "list"))
	out := mustRun(t, "profile", "list", "--json")
	profileGolden(t, "list.json.golden", out)

	// The JSON is the library's: every profile, every shot, with the
	// file's digest.
	var got []struct {
		Name    string `json:"name"`
		Version int    `json:"version"`
		Digest  string `json:"digest"`
		Shots   []struct {
			ID, Band, Filter string
			ExposureUs       float64 `json:"exposure_us"`
		} `json:"shots"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	all := profile.All()
	if len(got) != len(all) {
		t.Fatalf("%d profiles in JSON, %d built in", len(got), len(all))
	}
	for i, p := range all {
		g := got[i]
		if g.Name != p.Name || g.Version != p.Version || g.Digest != p.Digest || len(g.Shots) != len(p.Shots) {
			t.Errorf("profile %d: %+v, want %s with %d shots", i, g, p.ID(), len(p.Shots))
			continue
		}
		for j, s := range p.Shots {
			if gs := g.Shots[j]; gs.ID != s.ID || gs.Band != s.Band.Token() || gs.Filter != s.Filter.Token() ||
				gs.ExposureUs != float64(s.Camera.Exposure.Microseconds()) {
				t.Errorf("%s shot %d: %+v, want %+v", p.ID(), j, gs, s)
			}
		}
	}
	if lines := strings.Count(mustRun(t, "profile", "list"), "\n"); lines != len(all) {
		t.Errorf("%d lines for %d profiles", lines, len(all))
	}
}

func TestProfileUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"profile"}, "which action? (list)"},
		{[]string{"profile", "show"}, `unknown action "show" (list)`},
		{[]string{"profile", "list", "injury-standard"}, "unexpected arguments"},
		{[]string{"profile", "list", "--yaml"}, "flag provided but not defined: -yaml"},
	} {
		code, out, errs := run(t, "", tt.args...)
		if code != exitUsage || out != "" || !strings.Contains(errs, tt.msg) || !strings.Contains(errs, "usage: exhibit profile list [--json]") {
			t.Errorf("exhibit %v: exit %d, stdout %q, stderr %q; want exit 2 mentioning %q and the usage", tt.args, code, out, errs, tt.msg)
		}
	}
	if code, out, _ := run(t, "", "help"); code != 0 || !strings.Contains(out, "  profile   profile list: ") {
		t.Errorf("help: exit %d, %q", code, out)
	}
}
