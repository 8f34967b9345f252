package bagit

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCoreutilsInterop extracts a bag and checks its manifests with GNU
// coreutils, an implementation that shares no code with this package:
// `sha256sum -c manifest-sha256.txt` and friends, run in the base
// directory. Extraction uses Info-ZIP unzip when present (a second
// independent implementation), else this package's reader.
func TestCoreutilsInterop(t *testing.T) {
	for _, tool := range []string{"sha256sum", "sha512sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping: %s not found in PATH (GNU coreutils needed for the interoperability check)", tool)
		}
	}
	files := append(samplePayload(),
		payloadFile{"data/with space/and 'quotes'.txt", []byte("spaces\n"), false},
		payloadFile{"data/ünïcödé/日本語.txt", []byte("unicode\n"), true},
	)
	zipBytes := writeBag(t, files, func(w *ZipWriter) {
		must(t, w.AddTagFile("exhibit/profile.txt", []byte("exhibit bundle v1\n")))
	})
	dir := t.TempDir()
	if _, err := exec.LookPath("unzip"); err == nil {
		zp := filepath.Join(dir, "bundle.zip")
		must(t, os.WriteFile(zp, zipBytes, 0o644))
		run(t, dir, "unzip", "-tq", "bundle.zip")
		run(t, dir, "unzip", "-q", "bundle.zip", "-d", "x")
		dir = filepath.Join(dir, "x")
	} else {
		t.Log("unzip not found; extracting with this package")
		extract(t, zipBytes, dir)
	}
	ents, err := os.ReadDir(dir)
	must(t, err)
	if len(ents) != 1 || ents[0].Name() != "bundle-24-0815" || !ents[0].IsDir() {
		t.Fatalf("extraction produced %v, want the single base directory", ents)
	}
	baseDir := filepath.Join(dir, "bundle-24-0815")
	for _, c := range [][]string{
		{"sha256sum", "--strict", "-c", "manifest-sha256.txt"},
		{"sha512sum", "--strict", "-c", "manifest-sha512.txt"},
		{"sha256sum", "--strict", "-c", "tagmanifest-sha256.txt"},
		{"sha512sum", "--strict", "-c", "tagmanifest-sha512.txt"},
	} {
		out := run(t, baseDir, c[0], c[1:]...)
		m, err := os.ReadFile(filepath.Join(baseDir, c[3]))
		must(t, err)
		if lines := strings.Count(string(m), "\n"); strings.Count(out, ": OK\n") != lines || lines < 4 {
			t.Errorf("%v: want %d OK lines:\n%s", c, lines, out)
		}
	}
	// And the check fails when a payload file changes.
	p := filepath.Join(baseDir, "data", "keys", "kiosk-1.pub")
	must(t, os.WriteFile(p, []byte("tampered\n"), 0o644))
	cmd := exec.Command("sha256sum", "-c", "manifest-sha256.txt")
	cmd.Dir = baseDir
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "data/keys/kiosk-1.pub: FAILED") {
		t.Errorf("sha256sum -c did not catch tampering: %v\n%s", err, out)
	}
}

func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out.String())
	}
	return out.String()
}

func extract(t *testing.T, zipBytes []byte, dir string) {
	t.Helper()
	bag, err := openBytes(zipBytes, Limits{})
	must(t, err)
	for _, f := range bag.Files() {
		dst := filepath.Join(dir, bag.BaseDir(), filepath.FromSlash(f.Path))
		must(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		rc, err := bag.Open(f.Path)
		must(t, err)
		out, err := os.Create(dst)
		must(t, err)
		_, err = io.Copy(out, rc)
		must(t, err)
		must(t, out.Close())
		rc.Close()
	}
}
