package tlog_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain/tlog/tlogtest"
	"golang.org/x/tools/txtar"
)

// TestVerifyByHand runs testdata/verify-by-hand.sh, the procedure in
// docs/log.md that uses only standard tools, on the vectors: the good
// proofs pass and the cryptographically broken ones fail. (The script does
// not re-implement ParseProof's syntax checks, so the syntax vectors are
// left out.)
func TestVerifyByHand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs shell tools")
	}
	for _, tool := range []string{"bash", "awk", "sed", "xxd", "sha256sum", "base64", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	script, err := filepath.Abs("testdata/verify-by-hand.sh")
	if err != nil {
		t.Fatal(err)
	}
	a := txtar.Parse(mustRead(t, vectorsFile))
	vkey := ""
	for _, line := range strings.Split(string(a.Comment), "\n") {
		if v, ok := strings.CutPrefix(line, "verifier key (golang.org/x/mod/sumdb/note): "); ok {
			vkey = v
		}
	}
	if vkey == "" {
		t.Fatal("no verifier key in the vectors comment")
	}
	// Each run starts some forty processes, so a representative subset:
	// one failure of each check the script makes.
	mustPass := map[string]bool{"index-5": true, "index-12": true}
	mustFail := map[string]bool{
		"bitflip-hash": true, "index-beyond-size": true, "missing-hash": true, "extra-hash": true, "extra-line": true,
		"other-key": true, "other-origin": true, "tampered-checkpoint": true, "garbage-prefix": true,
	}
	dir := t.TempDir()
	ran := 0
	for _, f := range a.Files {
		base := strings.TrimSuffix(filepath.Base(f.Name), ".tlog-proof")
		var index uint64 = vectorIndex
		var wantOK bool
		switch {
		case strings.HasPrefix(f.Name, "good/") && mustPass[base]:
			i, err := strconv.ParseUint(strings.TrimPrefix(base, "index-"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			index, wantOK = i, true
		case strings.HasPrefix(f.Name, "bad/") && mustFail[base]:
		default:
			continue
		}
		ran++
		path := filepath.Join(dir, strings.ReplaceAll(f.Name, "/", "_"))
		if err := os.WriteFile(path, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Run(f.Name, func(t *testing.T) {
			t.Parallel()
			out, err := exec.Command("bash", script, path, tlogtest.RecordHash(index).Hex(), vkey).CombinedOutput()
			if ok := err == nil; ok != wantOK {
				t.Errorf("script succeeded = %v, want %v; output:\n%s", ok, wantOK, out)
			}
			t.Logf("%s", strings.TrimSpace(string(out)))
		})
	}
	if ran != len(mustPass)+len(mustFail) {
		t.Errorf("ran %d vectors, want %d", ran, len(mustPass)+len(mustFail))
	}
}
