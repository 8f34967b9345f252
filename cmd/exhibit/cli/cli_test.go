package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
)

// run runs the command in-process.
func run(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := run(t, "", args...)
	if code != 0 {
		t.Fatalf("exhibit %v: exit %d\n%s%s", args, code, out, errs)
	}
	return out
}

// state summarises a data directory: log size and number of blob files, to
// show that a failed command left nothing behind.
func state(t *testing.T, data string) (uint64, int) {
	t.Helper()
	l, err := datadir.Open(context.Background(), data, datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	n, err := l.TreeSize(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	blobs := 0
	filepath.WalkDir(filepath.Join(data, "blobs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() != "lock" {
			blobs++
		}
		return nil
	})
	if err := l.InlineBlobs(context.Background(), func(chain.Hash, int64) error { blobs++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n, blobs
}

func initData(t *testing.T) string {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	mustRun(t, "init", "--data", data, "--producer", "Jo Smith", "--initials", "JS")
	return data
}

var refLine = regexp.MustCompile(`^JS/\d+ sha256:[0-9a-f]{64}$`)

func TestContract(t *testing.T) {
	data := initData(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.png")
	os.WriteFile(a, []byte("statement"), 0o644)
	os.WriteFile(b, []byte("picture"), 0o644)
	out := mustRun(t, "import", "--data", data, "--case", "CASE-1", "--kind", "document", a, b)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !refLine.MatchString(lines[0]) || !strings.HasPrefix(lines[1], "JS/2 ") {
		t.Fatalf("import output %q", out)
	}
	if !strings.Contains(mustRun(t, "log", "checkpoint", "--data", data), "exhibit-forensics.github.io/log/") {
		t.Fatal("checkpoint output")
	}
	if !strings.Contains(mustRun(t, "log", "prove", "JS/1", "--data", data), "c2sp.org/tlog-proof@v1\nindex 1\n") {
		t.Fatal("prove output")
	}
	mustRun(t, "log", "verify", "--data", data)
	mustRun(t, "log", "fsck", "--data", data)
	zip := filepath.Join(dir, "case.zip")
	mustRun(t, "export", "--data", data, "--case", "CASE-1", "--out", zip)
	if out := mustRun(t, "verify", zip); !strings.HasPrefix(out, "VALID") {
		t.Fatalf("verify: %s", out)
	}
	if out := mustRun(t, "verify", "--json", zip); !strings.Contains(out, `"valid": true`) {
		t.Fatalf("verify --json: %s", out)
	}
	pem := filepath.Join(dir, "key.pem")
	if code, _, _ := run(t, "", "verify", zip, "--key", pem); code != 2 {
		t.Fatalf("verify with a missing key file: exit %d", code)
	}
	// Exporting over an existing file is refused.
	if code, _, errs := run(t, "", "export", "--data", data, "--case", "CASE-1", "--out", zip); code != 1 || !strings.Contains(errs, "already exists") {
		t.Fatalf("export over an existing file: %d %s", code, errs)
	}
	// A damaged bundle: exit 1, the file named.
	raw, _ := os.ReadFile(zip)
	i := bytes.Index(raw, []byte("statement"))
	raw[i] ^= 1
	bad := filepath.Join(dir, "bad.zip")
	os.WriteFile(bad, raw, 0o644)
	if code, out, _ := run(t, "", "verify", bad); code != 1 || !strings.Contains(out, "data/exhibits/JS-1/a.txt") {
		t.Fatalf("verify of a damaged bundle: exit %d\n%s", code, out)
	}
	if code, out, _ := run(t, "", "verify", "--json", bad); code != 1 || !strings.Contains(out, `"valid": false`) {
		t.Fatalf("verify --json of a damaged bundle: exit %d\n%s", code, out)
	}
}

func TestUsageAndIOErrors(t *testing.T) {
	data := initData(t)
	dir := t.TempDir()
	for _, tt := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, ""},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"verify"}, 2, "exactly one bundle"},
		{[]string{"verify", filepath.Join(dir, "nope.zip")}, 2, "no such file"},
		{[]string{"verify", dir}, 2, "not a regular file"},
		{[]string{"init", "--data", data, "--producer", "X", "--initials", "JS"}, 1, "already initialised"},
		{[]string{"init", "--data", filepath.Join(dir, "d2"), "--producer", "X"}, 2, "required"},
		{[]string{"init", "--data", filepath.Join(dir, "d3"), "--producer", "X", "--initials", "j1"}, 1, "initials"},
		{[]string{"import", "--data", filepath.Join(dir, "none"), "--case", "C", "--kind", "document", "/etc/hostname"}, 1, "exhibit init"},
		{[]string{"import", "--data", data, "--case", "C", "--kind", "painting", "/etc/hostname"}, 2, "unknown kind"},
		{[]string{"import", "--data", data, "--case", "C", "--kind", "document"}, 2, "at least one FILE"},
		{[]string{"log", "--data", data, "rewind"}, 2, "unknown log subcommand"},
		{[]string{"log", "prove", "JS/99", "--data", data}, 1, "neither a record hash nor an exhibit"},
		{[]string{"export", "--data", data, "--case", "NO-SUCH", "--out", filepath.Join(dir, "x.zip")}, 1, "no exhibits"},
	} {
		code, _, errs := run(t, "", tt.args...)
		if code != tt.code || !strings.Contains(errs, tt.msg) {
			t.Errorf("exhibit %v: exit %d, stderr %q; want exit %d mentioning %q", tt.args, code, errs, tt.code, tt.msg)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.zip")); !errors.Is(err, os.ErrNotExist) {
		t.Error("a failed export left its output file")
	}
}

// TestBadImportInputs: each bad input gets a clear error and leaves nothing
// half-written: the log and the blob store are as they were.
func TestBadImportInputs(t *testing.T) {
	data := initData(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.txt")
	os.WriteFile(good, []byte("good"), 0o644)
	unreadable := filepath.Join(dir, "secret.txt")
	os.WriteFile(unreadable, []byte("secret"), 0o000)
	fifo := filepath.Join(dir, "fifo")
	syscall.Mkfifo(fifo, 0o644)
	size0, blobs0 := state(t, data)
	cases := []struct {
		name string
		args []string
		msg  string
	}{
		{"missing", []string{"--case", "C", "--kind", "document", good, filepath.Join(dir, "missing.txt")}, "missing.txt: no such file"},
		{"directory", []string{"--case", "C", "--kind", "document", dir}, "is a directory"},
		{"not regular", []string{"--case", "C", "--kind", "document", fifo}, "not a regular file"},
		{"control character", []string{"--case", "CASE\x1b[2J", "--kind", "document", good}, "control character"},
		{"newline", []string{"--case", "A\nB", "--kind", "document", good}, "control character"},
		{"too long", []string{"--case", strings.Repeat("C", 65), "--kind", "document", good}, "at most 64"},
	}
	if os.Geteuid() != 0 {
		cases = append(cases, struct {
			name string
			args []string
			msg  string
		}{"unreadable", []string{"--case", "C", "--kind", "document", good, unreadable}, "permission denied"})
	}
	for _, tt := range cases {
		code, out, errs := run(t, "", append([]string{"import", "--data", data}, tt.args...)...)
		if code == 0 || !strings.Contains(errs, tt.msg) || out != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want a failure mentioning %q", tt.name, code, out, errs, tt.msg)
		}
		if size, blobs := state(t, data); size != size0 || blobs != blobs0 {
			t.Errorf("%s: left something behind: log %d→%d, blobs %d→%d", tt.name, size0, size, blobs0, blobs)
		}
	}
}

// TestDiskFullDuringImport fills a small tmpfs mid-import: the import fails
// with a clear error, nothing is half-written, and the store still works.
func TestDiskFullDuringImport(t *testing.T) {
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (needs root): %v %s", err, out)
	}
	defer exec.Command("umount", mnt).Run()
	data := filepath.Join(mnt, "data")
	mustRun(t, "init", "--data", data, "--producer", "Jo Smith", "--initials", "JS")
	dir := t.TempDir()
	big := filepath.Join(dir, "big.raw")
	os.WriteFile(big, bytes.Repeat([]byte{0xA5}, 16<<20), 0o644)
	small := filepath.Join(dir, "small.txt")
	os.WriteFile(small, []byte("small"), 0o644)
	size0, blobs0 := state(t, data)
	code, out, errs := run(t, "", "import", "--data", data, "--case", "C", "--kind", "image", big)
	if code != 1 || out != "" || !strings.Contains(errs, "no space left on device") {
		t.Fatalf("import onto a full disk: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if size, blobs := state(t, data); size != size0 || blobs != blobs0 {
		t.Fatalf("a failed import left something: log %d→%d, blobs %d→%d", size0, size, blobs0, blobs)
	}
	if tmp, _ := os.ReadDir(filepath.Join(data, "blobs", "tmp")); len(tmp) != 0 {
		t.Fatalf("temporary files left: %v", tmp)
	}
	// With the space free again, the store works and checks out.
	if out := mustRun(t, "import", "--data", data, "--case", "C", "--kind", "document", small); !refLine.MatchString(strings.TrimSpace(out)) {
		t.Fatalf("import after the failure: %q", out)
	}
	mustRun(t, "log", "fsck", "--data", data)
}

func TestUsersAndTransfer(t *testing.T) {
	data := initData(t)
	dir := t.TempDir()
	doc := filepath.Join(dir, "doc.txt")
	os.WriteFile(doc, []byte("document"), 0o644)
	mustRun(t, "import", "--data", data, "--case", "C", "--kind", "document", doc)
	add := func(id, name, role, pw string) (int, string) {
		code, _, errs := run(t, pw+"\n"+pw+"\n", "user", "add", "--data", data, "--id", id, "--name", name, "--role", role)
		return code, errs
	}
	if code, errs := add("jsmith", "Jo Smith", "photographer", "photographer-pass-1"); code != 0 {
		t.Fatal(errs)
	}
	if code, errs := add("akhan", "Asha Khan", "case-officer", "case-officer-pass-2"); code != 0 {
		t.Fatal(errs)
	}
	if code, errs := add("short", "Shorty", "auditor", "short"); code != 1 || !strings.Contains(errs, "too weak") {
		t.Fatalf("weak password: %d %s", code, errs)
	}
	if code, _, errs := run(t, "one-password-here\nanother-password\n", "user", "add", "--data", data, "--id", "x1", "--name", "X", "--role", "admin"); code != 1 || !strings.Contains(errs, "differ") {
		t.Fatalf("mismatched passwords: %d %s", code, errs)
	}
	size0, _ := state(t, data)
	for _, tt := range []struct {
		stdin string
		from  string
		msg   string
	}{
		{"wrong-password-xx\ncase-officer-pass-2\n", "jsmith", "wrong password"},
		{"photographer-pass-1\nwrong-password-yy\n", "jsmith", "wrong password"},
		{"photographer-pass-1\n", "jsmith", "no password"},
		{"whatever-password\ncase-officer-pass-2\n", "nobody", "unknown user"},
	} {
		code, _, errs := run(t, tt.stdin, "transfer", "--data", data, "--ref", "JS/1", "--from", tt.from, "--to", "akhan")
		if code != 1 || !strings.Contains(errs, tt.msg) {
			t.Errorf("transfer from %s: exit %d, %s", tt.from, code, errs)
		}
	}
	if size, _ := state(t, data); size != size0 {
		t.Fatalf("failed transfers appended records: %d → %d", size0, size)
	}
	code, out, errs := run(t, "photographer-pass-1\ncase-officer-pass-2\n", "transfer", "--data", data, "--ref", "JS/1", "--from", "jsmith", "--to", "akhan", "--seal", "SEAL-9")
	if code != 0 || !strings.Contains(out, "transferred from Jo Smith to Asha Khan") {
		t.Fatalf("transfer: %d %s %s", code, out, errs)
	}
	l, err := datadir.Open(context.Background(), data, datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ex, _ := l.ExhibitByRef(context.Background(), "JS/1")
	recs, _ := l.ChainRecords(context.Background(), ex.ID)
	r, _ := recs[len(recs)-1].Decode()
	h := r.Statement.Predicate.Handover
	if h == nil || h.From.ID != "jsmith" || h.To.ID != "akhan" || h.From.AuthMethod != "password" || h.To.Role != "case-officer" || h.Seal != "SEAL-9" || h.From.AuthAt.IsZero() {
		t.Fatalf("handover record %+v", r.Statement.Predicate)
	}
}
