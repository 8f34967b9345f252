package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// extractLegacy unpacks testdata/legacy/oversized.tar.gz (made by
// testdata/legacy/make.sh at the top of the tree, with the Exhibit of commit 7115bd0): a lab data
// directory whose log holds two records over the record size limit, both
// acknowledged to the analyser at the time.
func extractLegacy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("tar", "-C", dir, "-xzf", filepath.Join("..", "..", "..", "testdata", "legacy", "oversized.tar.gz"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	return filepath.Join(dir, "data")
}

// A data directory that already holds records over the size limit (signed
// by an earlier version) is readable again after `exhibit log repair`:
// before it, every reader names the two records and still reads the rest;
// after it, results, quarantine, show, fsck, export and verify all work, and
// a second repair does nothing.
func TestRepairLegacyOversized(t *testing.T) {
	data := extractLegacy(t)
	const caseRef = "CASE-2026-0042"

	// Before: each reader works for what it can read and names the rest.
	code, out, errs := run(t, "", "lab", "results", "--data", data)
	if code != exitFail || !strings.Contains(out, "LB/1") || strings.Count(errs, "run `exhibit log repair`") != 2 {
		t.Fatalf("lab results before repair: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = run(t, "", "log", "fsck", "--data", data)
	if code != exitFail || strings.Count(out, "over the 1048576-byte record limit") != 2 {
		t.Fatalf("fsck before repair: exit %d\n%s", code, out)
	}
	bundle := filepath.Join(t.TempDir(), "b.zip")
	code, _, errs = run(t, "", "export", "--data", data, "--case", caseRef, "--out", bundle)
	if code != exitFail || !strings.Contains(errs, "exhibit log repair") {
		t.Fatalf("export before repair: exit %d\n%s", code, errs)
	}
	if _, err := os.Stat(bundle); err == nil {
		t.Fatal("a refused export left a bundle")
	}
	out = mustRun(t, "show", "--data", data, "--case", caseRef)
	if strings.Count(out, "run `exhibit log repair`") != 2 {
		t.Fatalf("show before repair:\n%s", out)
	}

	// A dry run changes nothing.
	size, _ := state(t, data)
	out = mustRun(t, "log", "repair", "--data", data, "--dry-run")
	if !strings.Contains(out, "2 records would be superseded") {
		t.Fatalf("dry run:\n%s", out)
	}
	if n, _ := state(t, data); n != size {
		t.Fatalf("dry run appended: log %d → %d", size, n)
	}

	out = mustRun(t, "log", "repair", "--data", data, "--by", "Sam Tech")
	if !strings.Contains(out, "LB/2: record 2") || !strings.Contains(out, "superseded by LB/4") ||
		!strings.Contains(out, "superseded by LB/5 (its results do not fit") {
		t.Fatalf("repair:\n%s", out)
	}
	if out := mustRun(t, "log", "repair", "--data", data); !strings.Contains(out, "nothing to do") ||
		!strings.Contains(out, "superseded earlier by LB/4") {
		t.Fatalf("second repair:\n%s", out)
	}

	// After: every reader works.
	out = mustRun(t, "lab", "results", "--data", data)
	if !strings.Contains(out, "LB/1") || !strings.Contains(out, "LB/4") || !strings.Contains(out, "[800024-byte value: sha256:") {
		t.Fatalf("lab results after repair:\n%s", out)
	}
	out = mustRun(t, "lab", "quarantine", "--data", data)
	if !strings.Contains(out, "LB/5") || !strings.Contains(out, "28000 results that do not fit in one record") {
		t.Fatalf("lab quarantine after repair:\n%s", out)
	}
	out = mustRun(t, "show", "--data", data, "--case", caseRef)
	if !strings.Contains(out, "superseded by LB/4") || !strings.Contains(out, "superseded by LB/5") {
		t.Fatalf("show after repair:\n%s", out)
	}
	out = mustRun(t, "log", "fsck", "--data", data)
	if !strings.Contains(out, "fsck: ok") || strings.Count(out, ": note: oversized record") != 2 {
		t.Fatalf("fsck after repair:\n%s", out)
	}
	out = mustRun(t, "export", "--data", data, "--case", caseRef, "--out", bundle)
	if !strings.Contains(out, "3 exhibits") || !strings.Contains(out, "left out LB/2") || !strings.Contains(out, "left out LB/3") {
		t.Fatalf("export after repair:\n%s", out)
	}
	out = mustRun(t, "verify", bundle)
	if !strings.Contains(out, "VALID") || !strings.Contains(out, "value-1 (800024 bytes") {
		t.Fatalf("verify after repair:\n%s", out)
	}
}

// sqlExec edits a data directory's database from outside, as an attacker
// (or a careless administrator) with write access to the file would, with
// the sqlite3 command (scripts/setup installs it).
func sqlExec(t *testing.T, data, stmt string) {
	t.Helper()
	if _, err := exec.LookPath("sqlite3"); err != nil {
		t.Skip("sqlite3 command not installed (scripts/setup installs it)")
	}
	if out, err := exec.Command("sqlite3", filepath.Join(data, "exhibit.db"), stmt).CombinedOutput(); err != nil {
		t.Fatalf("sqlite3 %s: %v\n%s", stmt, err, out)
	}
}

func importFiles(t *testing.T, data, caseRef string, names ...string) {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for _, n := range names {
		p := filepath.Join(dir, n)
		os.WriteFile(p, []byte("contents of "+n), 0o644)
		paths = append(paths, p)
	}
	mustRun(t, append([]string{"import", "--data", data, "--case", caseRef, "--kind", "document"}, paths...)...)
}

// Case membership comes from the signed records: an edited index column
// (ex_case, unsigned) makes export refuse, for the case the exhibit was
// taken from and for the one it was moved to, instead of silently leaving it
// out or taking it in.
func TestExportTakesCaseFromSignedRecords(t *testing.T) {
	data := initData(t)
	importFiles(t, data, "CASE-K", "a.txt", "b.txt")
	importFiles(t, data, "CASE-OTHER", "c.txt")
	sqlExec(t, data, `UPDATE records SET ex_case = 'CASE-OTHER' WHERE ex_initials = 'JS' AND ex_num = 2`)
	for _, c := range []string{"CASE-K", "CASE-OTHER"} {
		bundle := filepath.Join(t.TempDir(), "b.zip")
		before, _ := state(t, data)
		code, out, errs := run(t, "", "export", "--data", data, "--case", c, "--out", bundle)
		if code != exitFail || !strings.Contains(errs, "fails its consistency checks") || !strings.Contains(errs, "exhibit index") {
			t.Fatalf("export --case %s over an edited index: exit %d\n%s%s", c, code, out, errs)
		}
		if after, _ := state(t, data); after != before {
			t.Fatalf("a refused export signed records: log %d → %d", before, after)
		}
		if _, err := os.Stat(bundle); err == nil {
			t.Fatalf("a refused export wrote %s", bundle)
		}
	}
	// Restored, the export takes exactly the case's exhibits.
	sqlExec(t, data, `UPDATE records SET ex_case = 'CASE-K' WHERE ex_initials = 'JS' AND ex_num = 2`)
	bundle := filepath.Join(t.TempDir(), "b.zip")
	if out := mustRun(t, "export", "--data", data, "--case", "CASE-K", "--out", bundle); !strings.Contains(out, "2 exhibits") {
		t.Fatalf("export after restoring: %s", out)
	}
	mustRun(t, "verify", bundle)
}

// A log whose records were reordered behind the store's back no longer
// re-derives its signed checkpoints: the data directory still opens for
// reading (fsck says what is wrong) but signs nothing new — no import, no
// custody record, no checkpoint, no export, no key change.
func TestNoSigningOverAReorderedLog(t *testing.T) {
	data := initData(t)
	importFiles(t, data, "CASE-1", "a.txt", "b.txt", "c.txt")
	// Swap records 1 and 2 (rows keep their index; the log order changes).
	sqlExec(t, data, `UPDATE records SET idx = -1 WHERE idx = 1; UPDATE records SET idx = 1 WHERE idx = 2; UPDATE records SET idx = 2 WHERE idx = -1`)
	before, blobs := state(t, data)
	dir := t.TempDir()
	extra := filepath.Join(dir, "d.txt")
	os.WriteFile(extra, []byte("new evidence"), 0o644)
	for _, args := range [][]string{
		{"import", "--data", data, "--case", "CASE-1", "--kind", "document", extra},
		{"log", "checkpoint", "--data", data},
		{"export", "--data", data, "--case", "CASE-1", "--out", filepath.Join(dir, "b.zip")},
		{"key", "rotate", "--data", data},
	} {
		code, out, errs := run(t, "", args...)
		if code == exitOK || !strings.Contains(errs, "does not match its signed checkpoints") {
			t.Fatalf("exhibit %v over a reordered log: exit %d\n%s%s", args, code, out, errs)
		}
	}
	if after, afterBlobs := state(t, data); after != before || afterBlobs != blobs {
		t.Fatalf("refused commands left something: log %d → %d, blobs %d → %d", before, after, blobs, afterBlobs)
	}
	code, out, _ := run(t, "", "log", "fsck", "--data", data)
	if code != exitFail || !strings.Contains(out, "INVALID") {
		t.Fatalf("fsck of a reordered log: exit %d\n%s", code, out)
	}
	// Reading still works.
	if out := mustRun(t, "show", "--data", data, "--case", "CASE-1"); !strings.Contains(out, "JS/3") {
		t.Fatalf("show: %s", out)
	}
}

// A corrupt exhibit-hashes.db (a derived index) is rebuilt as when it is
// missing: fsck and export work.
func TestCorruptHashIndexIsRebuilt(t *testing.T) {
	data := initData(t)
	importFiles(t, data, "CASE-1", "a.txt", "b.txt")
	path := filepath.Join(data, "exhibit-hashes.db")
	for _, p := range []string{path + "-wal", path + "-shm"} {
		os.Remove(p)
	}
	if err := os.WriteFile(path, bytes.Repeat([]byte{0xA5}, 8192), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "log", "fsck", "--data", data)
	bundle := filepath.Join(t.TempDir(), "b.zip")
	mustRun(t, "export", "--data", data, "--case", "CASE-1", "--out", bundle)
	mustRun(t, "verify", bundle)
}

// A log with a record missing (a row deleted behind the store's back)
// still opens for reading and fsck, and signs nothing.
func TestNoSigningOverALogWithAGap(t *testing.T) {
	data := initData(t)
	importFiles(t, data, "CASE-1", "a.txt", "b.txt", "c.txt")
	sqlExec(t, data, `DELETE FROM records WHERE idx = 2`)
	code, out, errs := run(t, "", "log", "checkpoint", "--data", data)
	if code == exitOK || !strings.Contains(errs, "does not match its signed checkpoints") {
		t.Fatalf("checkpoint over a log with a gap: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = run(t, "", "log", "fsck", "--data", data)
	if code != exitFail || !strings.Contains(out, "INVALID") {
		t.Fatalf("fsck of a log with a gap: exit %d\n%s", code, out)
	}
}
