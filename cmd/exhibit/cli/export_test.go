package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A failed export leaves nothing in the output directory — no bundle, no
// temporary file — and a successful one leaves just the bundle, readable
// by its owner only, as before.
func TestExportLeavesNothingOnFailure(t *testing.T) {
	data := initData(t)
	in := filepath.Join(t.TempDir(), "a.txt")
	os.WriteFile(in, []byte("statement"), 0o644)
	mustRun(t, "import", "--data", data, "--case", "CASE-1", "--kind", "document", in)
	out := t.TempDir()
	code, _, errs := run(t, "", "export", "--data", data, "--case", "CASE-2", "--out", filepath.Join(out, "case.zip"))
	if code != 1 || !strings.Contains(errs, "no exhibits") {
		t.Fatalf("export of an empty case: exit %d %q", code, errs)
	}
	if es, _ := os.ReadDir(out); len(es) != 0 {
		t.Fatalf("a failed export left %v", es)
	}
	zip := filepath.Join(out, "case.zip")
	mustRun(t, "export", "--data", data, "--case", "CASE-1", "--out", zip)
	es, _ := os.ReadDir(out)
	fi, err := os.Stat(zip)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("after export: %v, mode %v", es, fi.Mode())
	}
}
