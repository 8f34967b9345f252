package cli

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/scanner"
	"github.com/exhibit-forensics/exhibit/lab/sample"
)

// TestSimScanner runs `exhibit sim scanner` in manual trigger and ACK/NAK
// mode with a prefix and CR LF, and reads its labels with the real driver
// over the pseudo-terminal, each scan read by sample.ParseScan as kit intake
// reads it.
func TestSimScanner(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "scanner")
	labels := filepath.Join(dir, "labels.txt")
	if err := os.WriteFile(labels, []byte("# three kits\nKIT-2026-000123\n]d20109501101020917{GS}21KIT000124\n(01)09501101020917(21)KIT000125\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var errb strings.Builder
	done := make(chan int, 1)
	go func() {
		code := Main(ctx, []string{"sim", "scanner", "--link", link, "--labels", labels, "--manual-trigger", "--ack", "--ack-timeout", "20s",
			"--prefix", `\x02`, "--suffix", "crlf", "--interval", "0", "--power-up-noise"}, strings.NewReader(""), pw, &lockedWriter{w: &errb})
		pw.Close()
		done <- code
	}()
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	waitLine := func(prefix string) string {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("sim scanner ended before %q: %s", prefix, errb.String())
				}
				if strings.HasPrefix(l, prefix) {
					return l
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("no %q line", prefix)
			}
		}
	}
	waitLine("scanner on /dev/")
	dev, err := scanner.Open(ctx, scanner.Config{Path: link, AckNak: true, Prefix: []byte{0x02}}, sample.ParseScan)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	for _, want := range []struct{ id, gtin string }{{"KIT-2026-000123", ""}, {"KIT000124", "09501101020917"}, {"KIT000125", "09501101020917"}} {
		rctx, rcancel := context.WithTimeout(ctx, 20*time.Second)
		if err := dev.Trigger(rctx); err != nil {
			t.Fatal(err)
		}
		s, err := dev.Next(rctx)
		rcancel()
		if err != nil {
			t.Fatal(err)
		}
		if s.Err != nil || s.Value.ID != want.id || s.Value.GTIN != want.gtin {
			t.Fatalf("scan %q: %+v, %v; want %s %s", s.Raw, s.Value, s.Err, want.id, want.gtin)
		}
		if l := waitLine("scanned "); !strings.HasSuffix(l, "fault=none sends=1 acked=true") {
			t.Fatalf("sim printed %q", l)
		}
	}
	waitLine("3 labels read; running until interrupted")
	if st := dev.Stats(); st.Noise != 5 || st.Acks != 3 || st.Scans != 3 {
		t.Fatalf("driver stats %+v", st)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	waitLine("stopped; removed " + link)
	if _, err := os.Lstat(link); !os.IsNotExist(err) {
		t.Fatalf("link left behind: %v", err)
	}
}

// TestSimScannerStdin: without --labels the labels come from standard
// input, a bad one reported and skipped.
func TestSimScannerStdin(t *testing.T) {
	link := filepath.Join(t.TempDir(), "scanner")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var errb strings.Builder
	done := make(chan int, 1)
	go func() {
		code := Main(ctx, []string{"sim", "scanner", "--link", link, "--interval", "0", "--aim=false"},
			strings.NewReader("KIT-1\nbad\x01label\nKIT-2\n"), pw, &lockedWriter{w: &errb})
		pw.Close()
		done <- code
	}()
	sc := bufio.NewScanner(pr)
	var got []string
	for sc.Scan() {
		got = append(got, sc.Text())
		if strings.HasPrefix(sc.Text(), "2 labels read") {
			break
		}
	}
	cancel()
	go io.Copy(io.Discard, pr)
	if code := <-done; code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	out := strings.Join(got, "\n")
	for _, want := range []string{"scanned ]C0KIT-1 fault=none sends=1 acked=false", "scanned ]C0KIT-2 fault=none", "2 labels read"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errb.String(), "byte 0x01") {
		t.Fatalf("stderr: %s", errb.String())
	}
}

func TestSimScannerUsage(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "scanner")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sim", "scanner"}, "--link is required"},
		{[]string{"sim", "scanner", "--link", link, "--suffix", "tab"}, "--suffix \"tab\""},
		{[]string{"sim", "scanner", "--link", link, "--cut-rate", "1.5"}, "not a probability"},
		{[]string{"sim", "scanner", "--link", link, "--cut-rate", "0.6", "--noise-rate", "0.6"}, "add up to 1.2"},
		{[]string{"sim", "scanner", "--link", link, "--prefix", `\q`}, "not a Go string body"},
		{[]string{"sim", "scanner", "--link", link, "extra"}, "unexpected arguments"},
	} {
		code, _, errs := run(t, "", tc.args...)
		if code != exitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errs, tc.want)
		}
	}
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("KIT\x01\n"), 0o600)
	code, _, errs := run(t, "", "sim", "scanner", "--link", link, "--labels", bad)
	if code != exitFail || !strings.Contains(errs, "line 1") {
		t.Fatalf("bad labels file: exit %d, %q", code, errs)
	}
	if _, err := os.Lstat(link); !os.IsNotExist(err) {
		t.Fatal("a refused labels file left a link")
	}
}
