package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/devices/serialport/pty"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
	"github.com/exhibit-forensics/exhibit/lab/labsim"
	"github.com/exhibit-forensics/exhibit/lab/protocol"
	"github.com/exhibit-forensics/exhibit/lab/receive"
	"github.com/exhibit-forensics/exhibit/lab/transport"
)

// labHelperEnv carries runLab's arguments (JSON) to the receiving process
// of TestLabReceiveSurvivesSIGKILL.
const labHelperEnv = "EXHIBIT_LAB_RECEIVE_HELPER"

// TestLabReceiveHelper is not a test on its own: it is the body of the
// receiving process that TestLabReceiveSurvivesSIGKILL starts (this test
// binary run again with labHelperEnv set) and kills. It runs `exhibit lab
// receive` exactly as cmd/exhibit's main does, through runLab.
func TestLabReceiveHelper(t *testing.T) {
	js := os.Getenv(labHelperEnv)
	if js == "" {
		t.Skip("the receiving process of TestLabReceiveSurvivesSIGKILL")
	}
	var args []string
	if err := json.Unmarshal([]byte(js), &args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runLab(&env{ctx: ctx, stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}, args)
	stop()
	os.Exit(code)
}

// labReceiverProc is one run of the receiving process.
type labReceiverProc struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *labBuf
}

func labStartReceiver(t testing.TB, args []string) *labReceiverProc {
	t.Helper()
	js, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^TestLabReceiveHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), labHelperEnv+"="+string(js))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &labReceiverProc{cmd: cmd, lines: make(chan string, 10000), stderr: &labBuf{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	return p
}

// TestLabReceiveSurvivesSIGKILL runs `exhibit lab receive` as a separate
// process and SIGKILLs it at random moments — after a random number of
// stored messages and a random further delay, so that kills land while a
// frame is arriving, while a capture is being written, and between a
// capture's commit and its ACK — then starts it again, many times. The
// simulator (in this process) sends everything that was not acknowledged
// again, byte for byte. At the end every message the simulator saw
// acknowledged must be stored exactly once, every result of the scenario
// must be stored exactly once, and the ledger must pass fsck.
func TestLabReceiveSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: dozens of receiving processes")
	}
	for _, tr := range []string{"tcp", "pty"} {
		t.Run(tr, func(t *testing.T) { labCrash(t, tr) })
	}
}

func labCrash(t *testing.T, tr string) {
	const wantKills = 50
	data := initData(t)
	sc := labsim.Generate(1500, 11, "K")
	d, _ := protocol.Lookup(protocol.ASTM, "lis2a2")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sim, err := labsim.New(labsim.Config{Scenario: sc, Dialect: d, Logger: quiet, RetryWait: 20 * time.Millisecond,
		Timers: link.Timers{Reply: 300 * time.Millisecond}, ReplyTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	args := []string{"receive", "--data", data, "--protocol", "astm", "--log-level", "warn"}
	var runner transport.Runner
	switch tr {
	case "tcp":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &transport.Server{MaxConns: 1, Logger: quiet}
		runner = labRunnerFunc(func(ctx context.Context, s transport.Session) error { return srv.Serve(ctx, ln, s) })
		args = append(args, "--transport", "tcp", "--connect", ln.Addr().String())
	case "pty":
		lp := filepath.Join(t.TempDir(), "analyser")
		runner = &labsim.PTYLine{Link: pty.Link(lp), Logger: quiet}
		args = append(args, "--transport", "serial", "--link", lp, "--baud", "115200")
	}
	simDone := make(chan error, 1)
	go func() { simDone <- runner.Run(ctx, sim.Serve) }()

	rng := rand.New(rand.NewPCG(2026, uint64(len(tr))))
	kills, duplicates, quarantined := 0, 0, 0
	count := func(l string) bool {
		switch {
		case strings.HasPrefix(l, "stored "):
			return true
		case strings.HasPrefix(l, "duplicate "):
			duplicates++
			return true
		case strings.HasPrefix(l, "quarantined "):
			quarantined++
		}
		return false
	}
	finished := false
	for kills < wantKills && !finished {
		p := labStartReceiver(t, args)
		// Kill after k stored messages (k may be 0: during start-up or the
		// first transfer) and a further random delay of up to 15 ms.
		k := rng.IntN(6)
		seen := 0
		guard := time.After(labGuard)
	wait:
		for seen < k {
			select {
			case l, ok := <-p.lines:
				if !ok {
					t.Fatalf("receiver exited early: %v\n%s", p.cmd.Wait(), p.stderr)
				}
				if count(l) {
					seen++
				}
			case <-sim.Done():
				finished = true
				break wait
			case <-guard:
				t.Fatalf("receiver stored nothing for %v\n%s", labGuard, p.stderr)
			}
		}
		if !finished {
			time.Sleep(time.Duration(rng.IntN(15000)) * time.Microsecond) // the kill's random moment, not a wait for something
		}
		p.cmd.Process.Kill()
		p.cmd.Wait()
		for l := range p.lines {
			count(l)
		}
		kills++
	}
	// A last receiver runs until the simulator has delivered everything,
	// then is stopped as SIGTERM stops it.
	p := labStartReceiver(t, args)
	select {
	case <-sim.Done():
	case <-time.After(3 * time.Minute):
		t.Fatalf("simulator not done: %+v\n%s", sim.Stats(), p.stderr)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	for l := range p.lines {
		count(l)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("last receiver: %v\n%s", err, p.stderr)
	}
	cancel()
	if err := <-simDone; err != nil {
		t.Fatal(err)
	}

	l, err := datadir.Open(context.Background(), data, datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rep, err := l.Fsck(context.Background())
	if err != nil || !rep.OK() {
		t.Fatalf("fsck after %d kills: %v %+v", kills, err, rep)
	}
	stored := map[string]int{}
	results := map[string]int{}
	if err := receive.List(context.Background(), l, func(e receive.Entry) error {
		if e.Quarantined() {
			return nil
		}
		stored[e.Lab.MessageID]++
		for _, r := range e.Lab.Results {
			results[r.Specimen+"/"+r.Code+"="+r.Value]++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	acked := sim.Acked()
	retried := 0
	for _, dv := range acked {
		if n := stored[dv.MessageID.String()]; n != 1 {
			t.Errorf("acknowledged message %s (tube %s) stored %d times", dv.MessageID, dv.Tube.ID, n)
		}
		if dv.Attempts > 1 {
			retried++
		}
	}
	want := 0
	for _, r := range sc.Racks {
		for _, tb := range r.Tubes {
			for _, x := range tb.Results {
				want++
				if n := results[tb.ID+"/"+x.Code+"="+x.Value]; n != 1 {
					t.Errorf("result %s/%s=%s stored %d times", tb.ID, x.Code, x.Value, n)
				}
			}
		}
	}
	tubes, _ := sc.Counts()
	if len(acked) != tubes || len(stored) != tubes {
		t.Errorf("%d tubes, %d acknowledged, %d messages stored", tubes, len(acked), len(stored))
	}
	t.Logf("%s: %d SIGKILLs; %d messages acknowledged, each stored once; %d results, each once; %d messages sent more than once, %d of them recognised as already stored (killed between commit and ACK); %d partial transfers quarantined",
		tr, kills, len(acked), want, retried, duplicates, quarantined)
}

type labRunnerFunc func(ctx context.Context, s transport.Session) error

func (f labRunnerFunc) Run(ctx context.Context, s transport.Session) error { return f(ctx, s) }
