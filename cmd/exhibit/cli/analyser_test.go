package cli

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
	"github.com/exhibit-forensics/exhibit/lab/labsim"
	"github.com/exhibit-forensics/exhibit/lab/protocol"
	"github.com/exhibit-forensics/exhibit/lab/receive"
	"github.com/exhibit-forensics/exhibit/lab/transport"
)

var analyserCases = []struct {
	name, in string
	err      string // "" for a good file; else a piece of the error
}{
	{"serial", `{"format":"exhibit-analyser","version":1,"name":"screen-1","protocol":"astm","transport":"serial","link":"/dev/serial/by-id/usb-FTDI-if00","codes":"toxsim.testcode","download":true}`, ""},
	{"tcp-listen", `{"format":"exhibit-analyser","version":1,"name":"cobas","protocol":"hl7","dialect":"mllp-latin1","transport":"tcp","listen":"0.0.0.0:4001","max_conns":4,"case":"01/900/26","reply_timer":"20s","checkpoint_every":"5m"}`, ""},
	{"tcp-connect", `{"format":"exhibit-analyser","version":1,"name":"au480","protocol":"astm","dialect":"lis2a2","transport":"tcp","connect":"10.0.0.5:5000","download":true,"download_every":"500ms"}` + "\n", ""},
	{"unknown-member", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"astm","transport":"serial","link":"/x","speed":9600}`, `unknown field "speed"`},
	{"other-format", `{"format":"exhibit-lab-setup","version":1,"name":"a","protocol":"astm","transport":"serial","link":"/x"}`, "want \"exhibit-analyser\" version 1"},
	{"version-2", `{"format":"exhibit-analyser","version":2,"name":"a","protocol":"astm","transport":"serial","link":"/x"}`, "version 2"},
	{"trailing", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"astm","transport":"serial","link":"/x"} {}`, "data after"},
	{"no-name", `{"format":"exhibit-analyser","version":1,"protocol":"astm","transport":"serial","link":"/x"}`, "name"},
	{"control-in-name", `{"format":"exhibit-analyser","version":1,"name":"a\u0007","protocol":"astm","transport":"serial","link":"/x"}`, "name"},
	{"no-protocol", `{"format":"exhibit-analyser","version":1,"name":"a","transport":"serial","link":"/x"}`, "protocol and transport are required"},
	{"bad-protocol", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"poct1a","transport":"serial","link":"/x"}`, "unknown protocol"},
	{"bad-dialect", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"astm","dialect":"nope","transport":"serial","link":"/x"}`, "unknown astm dialect"},
	{"pty", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"astm","transport":"pty","link":"/x"}`, `transport "pty"`},
	{"serial-no-link", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"astm","transport":"serial"}`, "needs link PATH"},
	{"tcp-both", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"astm","transport":"tcp","listen":":1","connect":"h:1"}`, "exactly one of listen"},
	{"serial-max-conns", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"astm","transport":"serial","link":"/x","max_conns":2}`, "max_conns"},
	{"tcp-baud", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"astm","transport":"tcp","listen":":1","baud":9600}`, "baud"},
	{"negative-baud", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"astm","transport":"serial","link":"/x","baud":-1}`, "baud"},
	{"bad-case", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"astm","transport":"serial","link":"/x","case":" 01/900/26"}`, "case"},
	{"hl7-download", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"hl7","transport":"tcp","listen":":1","download":true}`, "needs orders_connect"},
	{"hl7-download-orders", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"hl7","transport":"tcp","listen":":1","download":true,"orders_connect":"127.0.0.1:7001","orders_timeout":"10s"}`, ""},
	{"orders-connect-astm", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"astm","transport":"tcp","listen":":1","download":true,"orders_connect":"127.0.0.1:7001"}`, "orders_connect is for hl7"},
	{"orders-connect-no-download", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"hl7","transport":"tcp","listen":":1","orders_connect":"127.0.0.1:7001"}`, "orders_connect is for hl7"},
	{"orders-timeout-alone", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"hl7","transport":"tcp","listen":":1","orders_timeout":"10s"}`, "orders_timeout without"},
	{"bad-duration", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"astm","transport":"serial","link":"/x","reply_timer":"fifteen"}`, "reply_timer"},
	{"zero-duration", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"astm","transport":"serial","link":"/x","checkpoint_every":"0s"}`, "checkpoint_every"},
	{"every-without-download", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"astm","transport":"serial","link":"/x","download_every":"1s"}`, "without download"},
	{"array", `[]`, "cannot unmarshal"},
	{"empty", ``, "EOF"},
	{"wrong-type", `{"format":"exhibit-analyser","version":"1"}`, "cannot unmarshal"},
}

// TestParseAnalyser: good files give their settings with the defaults
// filled in; every bad one is refused with errAnalyserConfig and names
// what is wrong.
func TestParseAnalyser(t *testing.T) {
	for _, tc := range analyserCases {
		c, err := parseAnalyser([]byte(tc.in))
		if tc.err == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !errors.Is(err, errAnalyserConfig) || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: got %v (%+v), want an analyser file error containing %q", tc.name, err, c, tc.err)
		}
	}
	c, err := parseAnalyser([]byte(analyserCases[0].in))
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "screen-1" || c.Dialect.Name != "lis2a2" || c.Transport.Baud != 9600 || c.Case != "LAB-INBOX" || !c.Download ||
		c.DownloadEvery != time.Second || c.ReplyTimer != 15*time.Second || c.CheckpointEvery != time.Minute || c.Codes != "toxsim.testcode" {
		t.Errorf("defaults: %+v", c)
	}
	c, err = parseAnalyser([]byte(analyserCases[1].in))
	if err != nil {
		t.Fatal(err)
	}
	if c.Transport.MaxConns != 4 || c.Dialect.HL7 == nil || c.ReplyTimer != 20*time.Second || c.CheckpointEvery != 5*time.Minute || c.Case != "01/900/26" {
		t.Errorf("tcp: %+v", c)
	}
}

func TestWriteCorpus(t *testing.T) {
	var seeds [][]any
	for _, tc := range analyserCases {
		seeds = append(seeds, []any{[]byte(tc.in)})
	}
	fuzzseed.Write(t, "FuzzParseAnalyser", seeds)
	var periods [][]any
	for _, tc := range retentionCases {
		periods = append(periods, []any{tc.in})
	}
	fuzzseed.Write(t, "FuzzParseRetention", periods)
}

// FuzzParseAnalyser: any input is either a checked config — a known
// dialect, a transport that validates, a valid case — or refused with
// errAnalyserConfig; nothing panics.
func FuzzParseAnalyser(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseAnalyser(data)
		if err != nil {
			if !errors.Is(err, errAnalyserConfig) {
				t.Fatalf("error %v does not wrap errAnalyserConfig", err)
			}
			return
		}
		if c.Name == "" || c.Dialect == nil || c.Transport.Validate() != nil || c.Case == "" || c.ReplyTimer <= 0 || c.CheckpointEvery <= 0 {
			t.Fatalf("accepted a config that does not hold: %+v", c)
		}
		if c.Download && c.Dialect.HL7 != nil && c.OrdersConnect == "" {
			t.Fatalf("hl7 download accepted without its order port: %+v", c)
		}
		if c.OrdersConnect != "" && (!c.Download || c.Dialect.HL7 == nil || c.OrdersTimeout <= 0) {
			t.Fatalf("an order port accepted where it means nothing: %+v", c)
		}
	})
}

// TestAgentAnalyserUsage: a bad analyser file, a name given twice and
// --analyser without --role lab are usage errors, before anything starts.
func TestAgentAnalyserUsage(t *testing.T) {
	data := initData(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("a.json", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"hl7","transport":"tcp","listen":"127.0.0.1:0"}`)
	bad := write("b.json", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"hl7","transport":"tcp","listen":"127.0.0.1:0","speed":1}`)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--role", "lab", "--data", data, "--analyser", bad}, exitUsage, `unknown field "speed"`},
		{[]string{"--role", "lab", "--data", data, "--analyser", good, "--analyser", good}, exitUsage, `the name "a" is given to two analysers`},
		{[]string{"--role", "kiosk", "--data", data, "--light", "l", "--camera", "c", "--analyser", good}, exitUsage, "--analyser is for --role lab"},
		{[]string{"--role", "lab", "--data", data, "--analyser", filepath.Join(dir, "missing.json")}, exitFail, "no such file"},
	} {
		code, _, errs := run(t, "", append([]string{"agent"}, tc.args...)...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("agent %v: exit %d\n%s", tc.args, code, errs)
		}
	}
}

// TestAgentLabReceivesHL7 runs `exhibit agent --role lab --analyser FILE`
// with an HL7 analyser over TCP: the simulator (lab/labsim) connects to
// the agent's receiver and delivers its rack; every message it saw
// acknowledged is in the log once, captured under the file's name and
// case; on stop the agent says what each receiver kept and signs a
// checkpoint.
func TestAgentLabReceivesHL7(t *testing.T) {
	data := initData(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "cobas.json")
	if err := os.WriteFile(cfg, []byte(`{"format":"exhibit-analyser","version":1,"name":"cobas-1","protocol":"hl7",
 "transport":"tcp","listen":"127.0.0.1:0","case":"01/900/26","codes":"../lab/toxsim.testcode"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// The codes path is relative to the analyser file.
	if err := os.MkdirAll(filepath.Join(dir, "..", "lab"), 0o700); err != nil {
		t.Fatal(err)
	}
	codes, err := os.ReadFile("testdata/lab/toxsim.testcode")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "..", "lab", "toxsim.testcode"), codes, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var errb lockedBuilder
	done := make(chan int, 1)
	go func() {
		code := Main(ctx, []string{"agent", "--role", "lab", "--data", data, "--listen", "127.0.0.1:0", "--analyser", cfg},
			strings.NewReader(""), pw, &errb)
		pw.Close()
		done <- code
	}()
	sc := bufio.NewScanner(pr)
	addr := ""
	for addr == "" && sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "analyser cobas-1: listening on "); ok {
			addr = a
		}
	}
	if addr == "" {
		t.Fatalf("no listening line; exit %d\n%s", <-done, errb.String())
	}
	lines := make(chan string, 100)
	go func() {
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()

	scen, err := os.ReadFile("testdata/lab/spiking.scenario")
	if err != nil {
		t.Fatal(err)
	}
	s, err := labsim.ParseScenario(scen)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := protocol.Lookup(protocol.HL7, "mllp")
	quiet := slog.New(slog.DiscardHandler)
	sim, err := labsim.New(labsim.Config{Scenario: s, Dialect: d, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	sctx, stopSim := context.WithCancel(ctx)
	simDone := make(chan error, 1)
	go func() { simDone <- (&transport.Client{Addr: addr, Logger: quiet}).Run(sctx, sim.Serve) }()
	<-sim.Done()
	stopSim()
	<-simDone
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("agent exit %d\n%s", code, errb.String())
	}
	var out []string
	for l := range lines {
		out = append(out, l)
	}
	all := strings.Join(out, "\n")
	if !strings.Contains(all, "analyser cobas-1 stopped: 3 stored, 0 quarantined, 0 not stored; checkpoint: log size") {
		t.Errorf("agent output:\n%s", all)
	}
	l, err := datadir.Open(context.Background(), data, datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ids := map[string]int{}
	if err := receive.List(context.Background(), l, func(e receive.Entry) error {
		if e.Lab.Analyser != "cobas-1" || e.Case != "01/900/26" || e.Quarantined() {
			t.Errorf("capture %s: analyser %q case %q quarantine %q", e.Ref, e.Lab.Analyser, e.Case, e.Lab.Quarantine)
		}
		for _, r := range e.Lab.Results {
			if r.Code == "GHB" && r.Analyte != "ghb" {
				t.Errorf("GHB mapped to %q: the code map was not read", r.Analyte)
			}
		}
		ids[e.Lab.MessageID]++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, dv := range sim.Acked() {
		if ids[dv.MessageID.String()] != 1 {
			t.Errorf("message %s stored %d times", dv.MessageID, ids[dv.MessageID.String()])
		}
	}
	if len(ids) != 3 || len(sim.Acked()) != 3 {
		t.Errorf("%d messages stored, %d acknowledged; want 3", len(ids), len(sim.Acked()))
	}
}
