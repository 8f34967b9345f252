package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// startSimRig runs `exhibit sim rig` in-process until the returned stop
// function is called, and returns what it printed up to "running".
func startSimRig(t *testing.T, args ...string) (lines []string, stop func() (code int, rest string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var errb strings.Builder
	done := make(chan int, 1)
	go func() {
		code := Main(ctx, append([]string{"sim", "rig"}, args...), strings.NewReader(""), pw, &lockedWriter{w: &errb})
		pw.Close()
		done <- code
	}()
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.HasPrefix(sc.Text(), "running") {
			break
		}
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], "running") {
		cancel()
		code := <-done
		t.Fatalf("sim rig did not start (exit %d): %q\n%s", code, lines, errb.String())
	}
	rest := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(pr)
		rest <- string(b)
	}()
	return lines, func() (int, string) {
		cancel()
		select {
		case code := <-done:
			return code, <-rest
		case <-time.After(20 * time.Second):
			t.Fatal("sim rig did not stop")
			return 0, ""
		}
	}
}

// lockedWriter serialises writes from the rig's logger and the command.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

var cameraLine = regexp.MustCompile(`^camera: NC12M SN NC0042 firmware 2\.3\.0 at (http://127\.0\.0\.1:\d+)$`)

// TestSimRigAndDevicesCheck runs the rig from the command line, checks it
// with `exhibit devices check`, and stops it as SIGINT would.
func TestSimRigAndDevicesCheck(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "light-engine")
	truth := filepath.Join(dir, "truth.json")
	lines, stop := startSimRig(t, "--light-link", link, "--camera-addr", "127.0.0.1:0", "--seed", "7",
		"--skin", "5", "--truth-out", truth, "--sensor", "800x600", "--camera-timeout-rate", "0", "--light-latency", "1ms")
	var url string
	for _, l := range lines {
		if m := cameraLine.FindStringSubmatch(l); m != nil {
			url = m[1]
		}
	}
	if url == "" || !strings.Contains(lines[0], "light engine: LE6 SN 000421 firmware 1.4.2 on /dev/pts/") || !strings.HasSuffix(lines[0], "via "+link) {
		t.Fatalf("sim rig printed %q", lines)
	}
	if !strings.Contains(strings.Join(lines, "\n"), "faults: light latency 1ms") {
		t.Errorf("faults not reported: %q", lines)
	}
	if target, err := os.Readlink(link); err != nil || !strings.HasPrefix(target, "/dev/pts/") {
		t.Fatalf("link %s → %q (%v)", link, target, err)
	}
	var tr struct {
		Seed      uint64 `json:"seed"`
		SkinGroup int    `json:"skin_group"`
		Sensor    struct{ Width, Height int }
		Bruises   []json.RawMessage
	}
	b, err := os.ReadFile(truth)
	if err != nil || json.Unmarshal(b, &tr) != nil || tr.Seed != 7 || tr.SkinGroup != 5 || tr.Sensor.Width != 800 || len(tr.Bruises) == 0 {
		t.Errorf("truth file: %v %+v", err, tr)
	}

	code, out, errs := run(t, "", "devices", "check", "--light", link, "--camera", url)
	if code != 0 {
		t.Fatalf("devices check: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"light engine  LE6 SN 000421 firmware 1.4.2 at " + link,
		"  status      off white filter=none level=0%",
		"camera        NC12M SN NC0042 firmware 2.3.0 at " + url,
		"  status      ready 800x600×1 16-bit",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("devices check output lacks %q:\n%s", want, out)
		}
	}

	code, rest := stop()
	if code != 0 || !strings.Contains(rest, "stopped; removed "+link) {
		t.Errorf("sim rig exit %d, printed %q", code, rest)
	}
	if _, err := os.Lstat(link); !os.IsNotExist(err) {
		t.Errorf("link left behind: %v", err)
	}
	// With the rig gone, the check fails, naming what did not answer.
	code, out, _ = run(t, "", "devices", "check", "--light", link, "--camera", url, "--timeout", "300ms")
	if code != 1 || strings.Count(out, "NOT ANSWERING") != 2 {
		t.Errorf("devices check without a rig: exit %d\n%s", code, out)
	}
}

func TestSimRigUsage(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "le")
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"sim"}, "which simulator"},
		{[]string{"sim", "camera"}, "unknown simulator"},
		{[]string{"sim", "rig"}, "--light-link and --camera-addr are required"},
		{[]string{"sim", "rig", "--light-link", link}, "are required"},
		{[]string{"sim", "rig", "--light-link", link, "--camera-addr", "127.0.0.1:0", "--skin", "7"}, "--skin 7"},
		{[]string{"sim", "rig", "--light-link", link, "--camera-addr", "127.0.0.1:0", "--sensor", "big"}, "WIDTHxHEIGHT"},
		{[]string{"sim", "rig", "--light-link", link, "--camera-addr", "127.0.0.1:0", "--light-drop-rate", "2"}, "not a probability"},
		{[]string{"sim", "rig", "--light-link", link, "--camera-addr", "127.0.0.1:0", "--camera-timeout-rate", "x"}, "not a number"},
		{[]string{"sim", "rig", "--light-link", link, "--camera-addr", "127.0.0.1:0", "extra"}, "unexpected arguments"},
		{[]string{"devices"}, "which action"},
		{[]string{"devices", "check"}, "give --light, --camera or both"},
	} {
		code, _, errs := run(t, "", c.args...)
		if code != 2 || !strings.Contains(errs, c.msg) {
			t.Errorf("exhibit %v: exit %d, stderr %q; want 2 with %q", c.args, code, errs, c.msg)
		}
	}
	// Runtime failures are exit 1 and leave nothing behind.
	if err := os.WriteFile(link, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := run(t, "", "sim", "rig", "--light-link", link, "--camera-addr", "127.0.0.1:0", "--sensor", "800x600")
	if code != 1 || !strings.Contains(errs, "not a symlink") {
		t.Errorf("sim rig over a regular file: exit %d %q", code, errs)
	}
	code, _, errs = run(t, "", "sim", "rig", "--light-link", filepath.Join(dir, "l2"), "--camera-addr", "127.0.0.1:0",
		"--sensor", "800x600", "--truth-out", filepath.Join(dir, "missing", "t.json"))
	if code != 1 || !strings.Contains(errs, "truth") {
		t.Errorf("truth into a missing directory: exit %d %q", code, errs)
	}
	if _, err := os.Lstat(filepath.Join(dir, "l2")); !os.IsNotExist(err) {
		t.Error("failed start left a link")
	}
}
