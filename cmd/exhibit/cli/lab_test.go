package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var updateLab = flag.Bool("update-lab", false, "rewrite testdata/lab/*.golden")

const labGuard = 30 * time.Second

// labProc is a long-running lab command run in-process: `lab receive` or
// `sim analyser`.
type labProc struct {
	t      *testing.T
	cancel context.CancelFunc
	done   chan struct{} // closed when the command has returned
	code   int
	lines  chan string
	mu     sync.Mutex
	out    []string
	stderr *labBuf
}

type labBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *labBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *labBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startLab(t *testing.T, fn func(*env, []string) int, args ...string) *labProc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	p := &labProc{t: t, cancel: cancel, done: make(chan struct{}), lines: make(chan string, 10000), stderr: &labBuf{}}
	go func() {
		p.code = fn(&env{ctx: ctx, stdin: strings.NewReader(""), stdout: pw, stderr: p.stderr}, args)
		pw.Close()
		close(p.done)
	}()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.mu.Lock()
			p.out = append(p.out, sc.Text())
			p.mu.Unlock()
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-p.done:
		case <-time.After(labGuard):
		}
	})
	return p
}

// waitLine waits for a stdout line matching re and returns its submatches.
func (p *labProc) waitLine(re *regexp.Regexp) []string {
	p.t.Helper()
	deadline := time.After(labGuard)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				p.t.Fatalf("output ended without a line matching %s\nstderr:\n%s", re, p.stderr)
			}
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
		case <-deadline:
			p.t.Fatalf("no line matching %s\nstdout:\n%s\nstderr:\n%s", re, p.output(), p.stderr)
		}
	}
}

func (p *labProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.out, "\n")
}

// wait waits for the command to exit by itself.
func (p *labProc) wait() int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(2 * labGuard):
		p.t.Fatalf("command did not finish\nstdout:\n%s\nstderr:\n%s", p.output(), p.stderr)
		return 0
	}
}

// stop interrupts the command, as SIGINT does, and waits for it.
func (p *labProc) stop() int {
	p.cancel()
	return p.wait()
}

// drain waits until the output has been read to the end.
func (p *labProc) drain() string {
	for range p.lines {
	}
	return p.output()
}

func labRun(t *testing.T, fn func(*env, []string) int, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := fn(&env{ctx: context.Background(), stdin: strings.NewReader(""), stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

// labMust runs `exhibit lab ARGS` through runLab (the lead routes
// `exhibit lab` to it) and fails the test unless it exits 0.
func labMust(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := labRun(t, runLab, args...)
	if code != 0 {
		t.Fatalf("exhibit lab %v: exit %d\n%s%s", args, code, out, errs)
	}
	return out
}

func labGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "lab", name)
	if *updateLab {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update-lab)", err, t.Name())
	}
	if string(want) != got {
		t.Errorf("%s differs (run with -update-lab to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestLabUsage(t *testing.T) {
	data := initData(t)
	cases := []struct {
		fn   func(*env, []string) int
		args []string
		msg  string
	}{
		{runLab, nil, "which lab command"},
		{runLab, []string{"frobnicate"}, "unknown lab command"},
		{runLab, []string{"receive"}, "are required"},
		{runLab, []string{"receive", "--data", data, "--protocol", "x25", "--transport", "tcp", "--listen", ":0"}, "unknown protocol"},
		{runLab, []string{"receive", "--data", data, "--protocol", "astm", "--transport", "tcp"}, "exactly one of"},
		{runLab, []string{"receive", "--data", data, "--protocol", "astm", "--transport", "tcp", "--listen", ":0", "--connect", "x:1"}, "exactly one of"},
		{runLab, []string{"receive", "--data", data, "--protocol", "astm", "--transport", "serial"}, "needs --link"},
		{runLab, []string{"receive", "--data", data, "--protocol", "astm", "--transport", "usb", "--link", "x"}, "want serial or tcp"},
		{runLab, []string{"receive", "--data", data, "--protocol", "hl7", "--dialect", "lis2a2", "--transport", "tcp", "--listen", ":0"}, "unknown hl7 dialect"},
		{runLab, []string{"receive", "--data", data, "--protocol", "astm", "--transport", "tcp", "--listen", ":0", "--case", ""}, "case reference"},
		{runLab, []string{"receive", "--data", data, "--protocol", "astm", "--transport", "tcp", "--listen", ":0", "--log-level", "loud"}, "log-level"},
		{runLab, []string{"results"}, "--data is required"},
		{runLab, []string{"quarantine", "--data", data, "extra"}, "--data is required"},
		{runSimAnalyser, nil, "are required"},
		{runSimAnalyser, []string{"--protocol", "astm", "--transport", "pty", "--scenario", "x"}, "needs --link"},
		{runSimAnalyser, []string{"--protocol", "astm", "--transport", "serial", "--scenario", "x"}, "want pty or tcp"},
		{runSimAnalyser, []string{"--protocol", "astm", "--transport", "tcp", "--listen", ":0", "--scenario", "x", "--time", "noon"}, "RFC 3339"},
		{runSimAnalyser, []string{"--protocol", "astm", "--dialect", "nope", "--transport", "tcp", "--listen", ":0", "--scenario", "x"}, "unknown astm dialect"},
	}
	for _, c := range cases {
		code, _, errs := labRun(t, c.fn, c.args...)
		if code != exitUsage || !strings.Contains(errs, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, errs, c.msg)
		}
	}
	// Operational failures exit 1.
	for _, c := range []struct {
		fn   func(*env, []string) int
		args []string
		msg  string
	}{
		{runLab, []string{"results", "--data", filepath.Join(t.TempDir(), "none")}, "not an Exhibit data directory"},
		{runLab, []string{"receive", "--data", data, "--protocol", "astm", "--transport", "tcp", "--listen", ":0", "--codes", "testdata/lab/spiking.scenario"}, "testcode"},
		{runLab, []string{"receive", "--data", data, "--protocol", "astm", "--transport", "tcp", "--listen", "127.0.0.1:-5"}, "listen"},
		{runSimAnalyser, []string{"--protocol", "astm", "--transport", "tcp", "--listen", ":0", "--scenario", "testdata/lab/toxsim.testcode"}, "first line"},
		{runSimAnalyser, []string{"--protocol", "astm", "--transport", "tcp", "--listen", ":0", "--scenario", "testdata/lab/missing"}, "no such file"},
	} {
		code, _, errs := labRun(t, c.fn, c.args...)
		if code != exitFail || !strings.Contains(errs, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %q", c.args, code, errs, c.msg)
		}
	}
}

var (
	labListening = regexp.MustCompile(`^listening on (\S+)$`)
	labStored    = regexp.MustCompile(`^stored (\S+/\d+) astm:sha256:[0-9a-f]{64} results=(\d+) unknown=(\d+) durable=\S+$`)
	labAcked     = regexp.MustCompile(`^acked (sha256:[0-9a-f]{64}) tube=(\S+) rack=R1 position=(\d) results=(\d) attempts=(\d+)$`)
)

// The whole lab journey from the command line, over a pseudo-terminal:
// the simulator runs a rack, the receiver stores every message through
// the real serial driver before acknowledging it, and `lab results` shows
// what was stored — censored values kept censored, unknown codes flagged.
func TestLabReceiveOverPTY(t *testing.T) {
	data := initData(t)
	link := filepath.Join(t.TempDir(), "analyser")
	rcv := startLab(t, runLab, "receive", "--data", data, "--protocol", "astm", "--transport", "serial", "--link", link,
		"--baud", "115200", "--codes", "testdata/lab/toxsim.testcode", "--log-level", "error")
	rcv.waitLine(regexp.MustCompile(`^receiving astm \(lis2a2\) over serial`))
	sim := startLab(t, runSimAnalyser, "--protocol", "astm", "--transport", "pty", "--link", link,
		"--scenario", "testdata/lab/spiking.scenario", "--time", "2024-06-12T10:30:00Z", "--baud", "115200",
		// The first ENQ may go out before the receiver has the line open
		// (it flushes what arrived earlier); E1381's 15 s reply timer
		// would then make the test wait. Shorter than 2 s, a loaded
		// machine's fsync before the ACK makes the simulator send again.
		"--reply-timer", "2s")
	if code := sim.wait(); code != 0 {
		t.Fatalf("sim exit %d\n%s\n%s", code, sim.output(), sim.stderr)
	}
	simOut := sim.drain()
	acked := regexp.MustCompile(`(?m)^acked `).FindAllString(simOut, -1)
	if len(acked) != 3 || !strings.Contains(simOut, "done: 3 of 3 tubes acknowledged") {
		t.Fatalf("sim output:\n%s", simOut)
	}
	// Every acknowledged message was stored before its ACK.
	for i := 0; i < 3; i++ {
		rcv.waitLine(labStored)
	}
	if code := rcv.stop(); code != 0 {
		t.Fatalf("receive exit %d\n%s", code, rcv.stderr)
	}
	// The log's head is signed on stop (receive.Run), and said so.
	// A message the simulator sent again (its reply timer ran out while
	// the receiver stored it) is a duplicate, stored once: allowed.
	if out := rcv.drain(); !regexp.MustCompile(`stopped: 3 stored, \d+ duplicates, 0 quarantined \(0 of them refused\), 0 not stored; link: `).MatchString(out) ||
		!regexp.MustCompile(`link: [1-9]\d* frames taken, 0 refused \(0 damaged`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^checkpoint: log size [1-9]\d*$`).MatchString(out) {
		t.Fatalf("receive output:\n%s", out)
	}
	labGolden(t, "results.golden", labMust(t, "results", "--data", data))

	code, out, errs := labRun(t, runLab, "results", "--data", data, "--json")
	if code != 0 {
		t.Fatal(errs)
	}
	var rows []labResult
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 7 {
		t.Fatalf("%d rows", len(rows))
	}
	byKey := map[string]labResult{}
	for _, r := range rows {
		byKey[r.Specimen+"/"+r.Code] = r
		if r.Case != "LAB-INBOX" || r.Protocol != "astm" || r.Dialect != "lis2a2" || r.Analyser != "ToxSim^2.1" {
			t.Errorf("row %+v", r)
		}
	}
	for key, want := range map[string]labResult{
		"S240612-0001/GHB":  {Value: "42.0", Number: "42.0", Analyte: "ghb", Flags: "H"},
		"S240612-0001/BENZ": {Value: "<0.5", Censor: "<", Analyte: "benzodiazepines"},
		"S240612-0001/THC":  {Value: "NEG", Analyte: "thc-cooh"},
		"S240612-0001/ETG":  {Value: "310", Number: "310", Unknown: true, Flags: "H"},
		"S240612-0002/KET":  {Value: ">800", Censor: ">", Analyte: "ketamine", Flags: ">"},
		"QC-GHB-L1/GHB":     {Value: "10.4", Number: "10.4", Analyte: "ghb"},
	} {
		got := byKey[key]
		if got.Value != want.Value || got.Number != want.Number || got.Censor != want.Censor || got.Analyte != want.Analyte ||
			got.Unknown != want.Unknown || got.Flags != want.Flags {
			t.Errorf("%s: %+v, want %+v", key, got, want)
		}
	}
	if out := labMust(t, "quarantine", "--data", data); out != "nothing in quarantine\n" {
		t.Fatalf("quarantine: %q", out)
	}
	// The records are evidence like any other: the log checks out.
	if out := mustRun(t, "log", "fsck", "--data", data); !strings.Contains(out, "ok") {
		t.Fatalf("fsck: %s", out)
	}
}

// HL7 over TCP with junk before every message (a noisy line, a port
// scanner): the junk is quarantined with the reason and shown, the
// messages are stored.
func TestLabQuarantineOverTCP(t *testing.T) {
	data := initData(t)
	rcv := startLab(t, runLab, "receive", "--data", data, "--protocol", "hl7", "--transport", "tcp", "--listen", "127.0.0.1:0",
		"--analyser", "toxsim-2", "--log-level", "error")
	addr := rcv.waitLine(labListening)[1]
	sim := startLab(t, runSimAnalyser, "--protocol", "hl7", "--transport", "tcp", "--connect", addr,
		"--scenario", "testdata/lab/spiking.scenario", "--garbage", "1", "--seed", "4")
	if code := sim.wait(); code != 0 {
		t.Fatalf("sim exit %d\n%s\n%s", code, sim.output(), sim.stderr)
	}
	if code := rcv.stop(); code != 0 {
		t.Fatalf("receive exit %d", code)
	}
	out := rcv.drain()
	if n := strings.Count(out, "\nstored "); n != 3 {
		t.Fatalf("receive output:\n%s", out)
	}
	q := labMust(t, "quarantine", "--data", data)
	if strings.Count(q, "reason: mllp: byte") != 3 || !strings.Contains(q, "bytes outside a frame") || !strings.Contains(q, "raw: \"") {
		t.Fatalf("quarantine:\n%s", q)
	}
	code, js, _ := labRun(t, runLab, "quarantine", "--data", data, "--json")
	var rows []labQuarantined
	if code != 0 || json.Unmarshal([]byte(js), &rows) != nil || len(rows) != 3 {
		t.Fatalf("quarantine --json: %s", js)
	}
	for _, r := range rows {
		if r.Protocol != "hl7" || r.Analyser != "toxsim-2" || r.Size == 0 || !strings.HasPrefix(r.Raw, "sha256:") || r.Preview == "" {
			t.Errorf("row %+v", r)
		}
	}
	res := labMust(t, "results", "--data", data)
	if !strings.Contains(res, "<^0.5 (censored)") || !strings.Contains(res, "ETG (unknown code)") {
		t.Fatalf("results:\n%s", res)
	}
	if out := labMust(t, "results", "--data", data, "--case", "OTHER"); out != "no results\n" {
		t.Fatalf("filtered: %q", out)
	}
}

// Refusals are not silent: over a line that corrupts one write in five,
// the receiver logs every frame it refuses (frame number, byte offset,
// reason) and its stop line counts them, and what the simulator saw
// acknowledged was stored.
func TestLabReceiveCountsRefusals(t *testing.T) {
	data := initData(t)
	link := filepath.Join(t.TempDir(), "analyser")
	rcv := startLab(t, runLab, "receive", "--data", data, "--protocol", "astm", "--transport", "serial", "--link", link,
		"--baud", "115200", "--codes", "testdata/lab/toxsim.testcode", "--log-level", "info", "--reply-timer", "500ms")
	rcv.waitLine(regexp.MustCompile(`^receiving astm \(lis2a2\) over serial`))
	sim := startLab(t, runSimAnalyser, "--protocol", "astm", "--transport", "pty", "--link", link,
		"--scenario", "testdata/lab/spiking.scenario", "--time", "2024-06-12T10:30:00Z", "--baud", "115200",
		"--reply-timer", "500ms", "--retry-wait", "50ms", "--corrupt", "0.2", "--seed", "3")
	if code := sim.wait(); code != 0 {
		t.Fatalf("sim exit %d\n%s\n%s", code, sim.output(), sim.stderr)
	}
	if out := sim.drain(); !strings.Contains(out, "done: 3 of 3 tubes acknowledged") {
		t.Fatalf("sim output:\n%s", out)
	}
	for i := 0; i < 3; i++ {
		rcv.waitLine(labStored)
	}
	if code := rcv.stop(); code != 0 {
		t.Fatalf("receive exit %d\n%s", code, rcv.stderr)
	}
	out := rcv.drain()
	m := regexp.MustCompile(`link: \d+ frames taken, (\d+) refused \((\d+) damaged or out of sequence`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no link counts in the stop line:\n%s", out)
	}
	refused, damaged := m[1], m[2]
	logged := regexp.MustCompile(`msg="astm: frame refused" .*offset=\d+ .*frame=-?\d+`).FindAllString(rcv.stderr.String(), -1)
	if damaged == "0" || refused != damaged || strconv.Itoa(len(logged)) != damaged {
		t.Fatalf("stop line counts %s refused, %s damaged; %d refusals logged\n%s\n%s", refused, damaged, len(logged), out, rcv.stderr)
	}
}

// TestLabMalformedFromScenario: a scenario's garbled message (a tube
// marked malformed=escape) reaches the receiver over a pseudo-terminal,
// is acknowledged only once it is kept — in quarantine, whole — and the
// other tubes' results are stored.
func TestLabMalformedFromScenario(t *testing.T) {
	data := initData(t)
	link := filepath.Join(t.TempDir(), "analyser")
	rcv := startLab(t, runLab, "receive", "--data", data, "--protocol", "astm", "--transport", "serial", "--link", link,
		"--baud", "115200", "--codes", "testdata/lab/toxsim.testcode", "--log-level", "error")
	rcv.waitLine(regexp.MustCompile(`^receiving astm \(lis2a2\) over serial`))
	sim := startLab(t, runSimAnalyser, "--protocol", "astm", "--transport", "pty", "--link", link,
		"--scenario", "testdata/lab/malformed.scenario", "--time", "2024-06-12T10:30:00Z", "--baud", "115200",
		"--reply-timer", "2s")
	if code := sim.wait(); code != 0 {
		t.Fatalf("sim exit %d\n%s\n%s", code, sim.output(), sim.stderr)
	}
	if out := sim.drain(); !strings.Contains(out, "done: 3 of 3 tubes acknowledged") {
		t.Fatalf("sim output:\n%s", out)
	}
	for i := 0; i < 2; i++ {
		rcv.waitLine(labStored)
	}
	if code := rcv.stop(); code != 0 {
		t.Fatalf("receive exit %d\n%s", code, rcv.stderr)
	}
	if out := rcv.drain(); !regexp.MustCompile(`stopped: 2 stored, \d+ duplicates, 1 quarantined`).MatchString(out) {
		t.Fatalf("receive output:\n%s", out)
	}
	q := labMust(t, "quarantine", "--data", data)
	if !strings.Contains(q, "escape") || !strings.Contains(q, "4&Q&2") {
		t.Errorf("quarantine:\n%s", q)
	}
	res := labMust(t, "results", "--data", data)
	if !strings.Contains(res, "S-POS") || !strings.Contains(res, "S-NEG") || strings.Contains(res, "S-GARBLED") {
		t.Errorf("results:\n%s", res)
	}
}
