package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/creack/pty"
)

// exhibit import draws its progress on a terminal — against the file's
// size, erased when the file is done — and writes nothing more to stderr
// when it is not a terminal (scripts, tests).
func TestImportProgress(t *testing.T) {
	data := initData(t)
	in := filepath.Join(t.TempDir(), "film.mp4")
	if err := os.WriteFile(in, bytes.Repeat([]byte("frame "), 200_000), 0o644); err != nil {
		t.Fatal(err)
	}

	code, out, errs := run(t, "", "import", "--data", data, "--case", "CASE-1", "--kind", "image", in)
	if code != 0 || !refLine.MatchString(strings.TrimSpace(out)) || errs != "" {
		t.Fatalf("import, stderr not a terminal: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	var stdout bytes.Buffer
	code = Main(context.Background(), []string{"import", "--data", data, "--case", "CASE-1", "--kind", "image", in},
		strings.NewReader(""), &stdout, tty)
	tty.Close()
	drawn, _ := io.ReadAll(ptmx) // ends with EIO once the terminal is closed
	if code != 0 || !strings.HasPrefix(stdout.String(), "JS/2 ") {
		t.Fatalf("import on a terminal: exit %d, stdout %q", code, stdout.String())
	}
	// The last drawing is the whole file, then the line is erased.
	if !regexp.MustCompile(`^\rimport film\.mp4  .*\rimport film\.mp4  1\.1 MiB of 1\.1 MiB  100%\x1b\[K\r\x1b\[K$`).Match(drawn) {
		t.Fatalf("terminal got %q", drawn)
	}
}

// Export and verify draw their progress on a terminal (bytes of originals
// written; bytes of the bundle read and hashed) and erase it before they
// print; verify --json draws nothing.
func TestExportVerifyProgress(t *testing.T) {
	data := initData(t)
	in := filepath.Join(t.TempDir(), "film.mp4")
	if err := os.WriteFile(in, bytes.Repeat([]byte("frame "), 200_000), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "import", "--data", data, "--case", "CASE-1", "--kind", "image", in)
	zip := filepath.Join(t.TempDir(), "case.zip")
	for _, args := range [][]string{{"export", "--data", data, "--case", "CASE-1", "--out", zip}, {"verify", zip}, {"verify", "--json", zip}} {
		ptmx, tty, err := pty.Open()
		if err != nil {
			t.Skipf("no pseudo-terminal: %v", err)
		}
		var stdout bytes.Buffer
		code := Main(context.Background(), args, strings.NewReader(""), &stdout, tty)
		tty.Close()
		drawn, _ := io.ReadAll(ptmx)
		ptmx.Close()
		want := `^\r` + args[0] + ` case\.zip  .*100%\x1b\[K\r\x1b\[K$`
		if args[1] == "--json" {
			want = `^$`
		}
		if code != 0 || !regexp.MustCompile(want).Match(drawn) {
			t.Errorf("%v: exit %d, terminal %q", args, code, drawn)
		}
	}
}
