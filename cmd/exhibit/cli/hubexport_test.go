package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/creack/pty"

	"github.com/exhibit-forensics/exhibit/api/hub/hubexport"
	"github.com/exhibit-forensics/exhibit/api/hub/hubexport/hubexporttest"
	"github.com/exhibit-forensics/exhibit/chain/witness"
)

// withHub makes `exhibit hub export` read an in-memory hub: two agents,
// their mirrors, the witness and the hub's own log (hubexporttest).
func withHub(t *testing.T) *hubexporttest.Scenario {
	t.Helper()
	s := hubexporttest.NewScenario(t)
	old := hubMirrors
	hubMirrors = func(e *env, data string, _ hubStores) (hubexport.Source, func(), error) {
		if data != "HUBDATA" {
			t.Errorf("hub export opened %q", data)
		}
		return s.Source(), func() {}, nil
	}
	t.Cleanup(func() { hubMirrors = old })
	return s
}

func TestHubExportVerify(t *testing.T) {
	s := withHub(t)
	dir := t.TempDir()
	zip := filepath.Join(dir, "case.zip")
	out := mustRun(t, "hub", "export", "--data", "HUBDATA", "--case", "CASE-1", "--out", zip)
	if !strings.Contains(out, "wrote "+zip) || !strings.Contains(out, "device "+s.A.ID()) || !strings.Contains(out, "2 exhibits") {
		t.Fatalf("hub export printed %q", out)
	}
	if fi, err := os.Stat(zip); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("bundle: %v %v", fi, err)
	}

	// Without --witness: valid, the witness key named and not trusted.
	out = mustRun(t, "verify", zip)
	if !strings.Contains(out, "VALID") || !strings.Contains(out, "co-signed by witness "+s.VKey+" (not checked against a trusted key)") || !strings.Contains(out, "--witness") {
		t.Fatalf("verify printed %q", out)
	}
	// With it, as the vkey and as a file holding it.
	vfile := filepath.Join(dir, "witness.vkey")
	os.WriteFile(vfile, []byte(s.VKey+"\n"), 0o644)
	for _, w := range []string{s.VKey, vfile} {
		out = mustRun(t, "verify", "--witness", w, zip)
		if !strings.Contains(out, "("+"trusted)") {
			t.Fatalf("verify --witness %s printed %q", w, out)
		}
	}
	// Another hub's key: invalid (exit 1), located.
	other := witness.VerifierKey(hubexporttest.WitnessName, ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32)).Public().(ed25519.PublicKey))
	code, out, _ := run(t, "", "verify", "--witness", other, zip)
	if code != exitInvalid || !strings.Contains(out, "data/log/witness-vkey.txt") {
		t.Fatalf("verify with another witness key: exit %d %q", code, out)
	}
	code, _, errs := run(t, "", "verify", "--witness", "not-a-key", zip)
	if code != exitUsage || !strings.Contains(errs, "witness") {
		t.Fatalf("verify --witness not-a-key: exit %d %q", code, errs)
	}

	// A bundle is never overwritten.
	before, _ := os.ReadFile(zip)
	code, _, errs = run(t, "", "hub", "export", "--data", "HUBDATA", "--case", "CASE-1", "--out", zip)
	if after, _ := os.ReadFile(zip); code != 1 || !strings.Contains(errs, "already exists") || !bytes.Equal(before, after) {
		t.Fatalf("export over a bundle: exit %d %q", code, errs)
	}
}

// A case on two agents' logs is refused, naming both devices and --device;
// --device chooses one. A failed export leaves no file.
func TestHubExportSeveralDevices(t *testing.T) {
	s := withHub(t)
	dir := t.TempDir()
	zip := filepath.Join(dir, "shared.zip")
	code, _, errs := run(t, "", "hub", "export", "--data", "HUBDATA", "--case", "SHARED", "--out", zip)
	if code != 1 || !strings.Contains(errs, s.A.ID()) || !strings.Contains(errs, s.B.ID()) || !strings.Contains(errs, "--device") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if es, _ := os.ReadDir(dir); len(es) != 0 {
		t.Fatalf("a refused export left %v", es)
	}
	mustRun(t, "hub", "export", "--data", "HUBDATA", "--case", "SHARED", "--device", s.B.ID(), "--out", zip)
	if out := mustRun(t, "verify", "--witness", s.VKey, zip); !strings.Contains(out, s.B.L.Identity().Origin) {
		t.Fatalf("verify printed %q", out)
	}
	for _, args := range [][]string{
		{"hub", "export", "--data", "HUBDATA", "--case", "CASE-1"},
		{"hub", "export", "--data", "HUBDATA", "--case", " bad", "--out", zip + "2"},
	} {
		if code, _, _ := run(t, "", args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

// hub export draws its progress on a terminal and erases it; in a script
// (stderr not a terminal) it draws nothing.
func TestHubExportProgress(t *testing.T) {
	withHub(t)
	zip := filepath.Join(t.TempDir(), "case.zip")
	code, _, errs := run(t, "", "hub", "export", "--data", "HUBDATA", "--case", "CASE-1", "--out", zip)
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	var stdout bytes.Buffer
	code = Main(context.Background(), []string{"hub", "export", "--data", "HUBDATA", "--case", "CASE-1", "--out", zip + "2"}, strings.NewReader(""), &stdout, tty)
	tty.Close()
	drawn, _ := io.ReadAll(ptmx)
	ptmx.Close()
	if code != 0 || !regexp.MustCompile(`^\rexport case\.zip2  .*100%\x1b\[K\r\x1b\[K$`).Match(drawn) {
		t.Fatalf("exit %d, terminal %q", code, drawn)
	}
}
