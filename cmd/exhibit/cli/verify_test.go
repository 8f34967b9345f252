package cli

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVerifyExitStatus: exhibit verify exits 0 for a valid bundle, 1 for a
// file it could read as a zip but found not to be a valid bundle, and 2 for
// usage errors and files it could not read as a zip archive at all (empty,
// truncated, not a zip) — docs/bundle.md, "Exit status".
func TestVerifyExitStatus(t *testing.T) {
	data := initData(t)
	dir := t.TempDir()
	a := filepath.Join(dir, "a.txt")
	os.WriteFile(a, []byte("statement"), 0o644)
	mustRun(t, "import", "--data", data, "--case", "CASE-1", "--kind", "document", a)
	good := filepath.Join(dir, "case.zip")
	mustRun(t, "export", "--data", data, "--case", "CASE-1", "--out", good)
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	damaged := bytes.Clone(raw)
	damaged[bytes.Index(damaged, []byte("statement"))] ^= 1
	var notBag bytes.Buffer
	zw := zip.NewWriter(&notBag)
	w, _ := zw.Create("photos/a.jpg")
	w.Write([]byte("not a bag"))
	zw.Close()

	for _, tt := range []struct {
		name string
		body []byte
		code int
		out  string // in stdout (exit 0, 1) or stderr (exit 2)
	}{
		{"valid", raw, 0, "VALID"},
		{"damaged bundle", damaged, 1, "INVALID"},
		{"zip that is not a bag", notBag.Bytes(), 1, "INVALID"},
		{"empty file", nil, 2, "could not be read as a bundle"},
		{"truncated bundle", raw[:len(raw)/2], 2, "could not be read as a bundle"},
		{"truncated by one byte", raw[:len(raw)-1], 2, "could not be read as a bundle"},
		{"not a zip", []byte("%PDF-1.7\n"), 2, "could not be read as a bundle"},
		{"garbage before the bundle", append([]byte("MZ"), raw...), 2, "could not be read as a bundle"},
	} {
		p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".zip")
		if err := os.WriteFile(p, tt.body, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, json := range []bool{false, true} {
			args := []string{"verify", p}
			if json {
				args = append(args, "--json")
			}
			code, out, errs := run(t, "", args...)
			where := out
			if tt.code == 2 {
				where = errs
			} else if json {
				tt.out = map[int]string{0: `"valid": true`, 1: `"valid": false`}[tt.code]
			}
			if code != tt.code || !strings.Contains(where, tt.out) {
				t.Errorf("%s (json %v): exit %d, want %d mentioning %q\nstdout: %s\nstderr: %s", tt.name, json, code, tt.code, tt.out, out, errs)
			}
		}
	}
}

// TestSlashedCaseReference: UK references carry slashes; import, export
// and verify accept them, and the bundle is named with the escaped form.
func TestSlashedCaseReference(t *testing.T) {
	data := initData(t)
	dir := t.TempDir()
	a := filepath.Join(dir, "a.txt")
	os.WriteFile(a, []byte("statement"), 0o644)
	for _, ref := range []string{"01/123456/26", "CAD 1234/04DEC26", "LAB/26/00123"} {
		mustRun(t, "import", "--data", data, "--case", ref, "--kind", "document", a)
		zip := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(ref)+".zip")
		out := mustRun(t, "export", "--data", data, "--case", ref, "--out", zip)
		esc := strings.NewReplacer("/", "%2F", " ", "%20").Replace(ref)
		if !strings.Contains(out, "bundle exhibit-"+esc+"-") {
			t.Errorf("export of %q: %s", ref, out)
		}
		if out := mustRun(t, "verify", zip); !strings.HasPrefix(out, "VALID") || !strings.Contains(out, "case "+ref+"\n") {
			t.Errorf("verify of %q: %s", ref, out)
		}
	}
	// Still refused: control characters, surrounding space, empty,
	// too long, backslash.
	for _, bad := range []string{"a\tb", " 01/1", "01/1 ", "", strings.Repeat("9", 65), `01\123`} {
		code, _, errs := run(t, "", "import", "--data", data, "--case", bad, "--kind", "document", a)
		if code == 0 || (bad != "" && !strings.Contains(errs, "case reference")) {
			t.Errorf("import --case %q: exit %d, %s", bad, code, errs)
		}
	}
}
