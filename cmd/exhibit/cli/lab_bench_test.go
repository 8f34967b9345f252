package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/devices/serialport"
	"github.com/exhibit-forensics/exhibit/devices/serialport/pty"
	"github.com/exhibit-forensics/exhibit/lab/astm"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
	"github.com/exhibit-forensics/exhibit/lab/labsim"
	"github.com/exhibit-forensics/exhibit/lab/protocol"
	"github.com/exhibit-forensics/exhibit/lab/receive"
	"github.com/exhibit-forensics/exhibit/lab/transport"
)

// labProcCPU returns the CPU time (user + system) a process has used, from
// /proc/PID/stat (Linux; clock ticks of 1/100 s).
func labProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, b)
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

var labDurableRe = regexp.MustCompile(` durable=(\S+)$`)

// labBenchBaud is the line's rate: 115200 baud, or EXHIBIT_LAB_BAUD (for
// example 9600, the usual analyser setting; a run then takes twelve times as
// long, so give it fewer messages).
var labBenchBaud = func() int {
	if v, err := strconv.Atoi(os.Getenv("EXHIBIT_LAB_BAUD")); err == nil && v > 0 {
		return v
	}
	return 115200
}()

// labBenchScenario is n tubes of five results each.
func labBenchScenario(n int) *labsim.Scenario {
	sc := &labsim.Scenario{Analyser: "ToxSim^1.0"}
	codes := []string{"GHB", "BENZ", "THC", "COC", "KET"}
	for i := 0; i < n; i++ {
		if i%10 == 0 {
			sc.Racks = append(sc.Racks, labsim.Rack{ID: fmt.Sprintf("R%d", len(sc.Racks)+1)})
		}
		t := labsim.Tube{ID: fmt.Sprintf("B%06d", i), Patient: "CASE-0001", Type: "URINE"}
		for j, c := range codes {
			t.Results = append(t.Results, labsim.Result{Code: c, Value: fmt.Sprintf("%d.%d", i%97, j), Units: "ng/mL", Range: "0-10", Status: "F"})
		}
		r := &sc.Racks[len(sc.Racks)-1]
		r.Tubes = append(r.Tubes, t)
	}
	return sc
}

// BenchmarkLabReceive115200 measures the receiving side against the
// simulator paced as a 115200-baud serial line (8N1: ten bits a byte) on a
// pseudo-terminal the receiver opens through the real serial driver, with
// b.N messages of five results each.
//
//   - store=ledger: `exhibit lab receive` as its own process (runLab, the
//     whole command) storing into a real data directory. Reports the
//     receiving process's CPU while the messages flowed (cpu-% of one core,
//     from /proc/PID/stat), the time from a message being complete to it
//     being durable (durable-p50-ms, durable-p99-ms, from the command's own
//     output), messages per second, and line-%: the time the simulator's
//     bytes took on the line over the wall time. It fails unless every
//     message was stored (zero loss).
//
//   - store=none: the baseline in the same run — the same ASTM host link
//     over the same serial path, in this process, keeping nothing. Its
//     line-% is what the protocol itself allows: ASTM acknowledges every
//     frame before the next is sent, so the line idles during each
//     turnaround whatever the receiver does.
//
//     go test ./cmd/exhibit/cli -run '^$' -bench LabReceive115200 -benchtime 300x -count 5
func BenchmarkLabReceive115200(b *testing.B) {
	b.Run("store=ledger", func(b *testing.B) { labBenchReceive(b, true) })
	b.Run("store=none", func(b *testing.B) { labBenchReceive(b, false) })
}

func labBenchReceive(b *testing.B, store bool) {
	d, _ := protocol.Lookup(protocol.ASTM, "lis2a2")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sc := labBenchScenario(b.N)
	// A short reply timer: the first ENQ may go out before the receiver has
	// opened the line (it flushes what arrived before).
	sim, err := labsim.New(labsim.Config{Scenario: sc, Dialect: d, Baud: labBenchBaud, Logger: quiet,
		Timers: link.Timers{Reply: 300 * time.Millisecond}})
	if err != nil {
		b.Fatal(err)
	}
	lp := filepath.Join(b.TempDir(), "analyser")
	ready := make(chan string, 1)
	line := &labsim.PTYLine{Link: pty.Link(lp), Logger: quiet, Ready: func(p string) { ready <- p }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	simErr := make(chan error, 1)
	go func() { simErr <- line.Run(ctx, sim.Serve) }()
	<-ready

	// Start counting at the first message received: start-up is not the
	// steady state.
	var t0 time.Time
	var bytes0 int64
	var cpu0 time.Duration
	var durs []time.Duration
	var p *labReceiverProc
	data := filepath.Join(b.TempDir(), "data")
	first := make(chan struct{}, 1)
	if store {
		l, err := datadir.Init(context.Background(), data, "Bench", "BN", datadir.Options{})
		if err != nil {
			b.Fatal(err)
		}
		l.Close()
		p = labStartReceiver(b, []string{"receive", "--data", data, "--protocol", "astm", "--transport", "serial", "--link", lp,
			"--baud", strconv.Itoa(labBenchBaud), "--log-level", "error"})
	} else {
		rctx, rcancel := context.WithCancel(ctx)
		defer rcancel()
		got := 0
		h := astm.HandlerFuncs{
			AcceptFunc: func(context.Context, *astm.Message) error {
				if got++; got == 1 {
					first <- struct{}{}
				}
				return nil
			},
			RejectFunc: func(context.Context, *astm.Rejected) error { return nil },
		}
		s := &transport.Serial{Path: lp, Mode: serialport.Mode{Baud: labBenchBaud}, Logger: quiet}
		go s.Run(rctx, func(ctx context.Context, c transport.Conn) error {
			conn, err := astm.NewConn(c, astm.Config{Role: link.Host, Dialect: d.ASTM, Handler: h, Logger: quiet})
			if err != nil {
				return err
			}
			return conn.Run(ctx)
		})
	}
	b.ResetTimer()
	started := false
	start := func() {
		started = true
		t0 = time.Now()
		bytes0 = sim.Stats().Written
		if p != nil {
			if cpu0, err = labProcCPU(p.cmd.Process.Pid); err != nil {
				b.Fatal(err)
			}
		}
	}
	var lines <-chan string
	if p != nil {
		lines = p.lines
	}
	for done := false; !done; {
		select {
		case l := <-lines:
			if m := labDurableRe.FindStringSubmatch(l); m != nil {
				if !started {
					start()
					continue
				}
				dur, err := time.ParseDuration(m[1])
				if err != nil {
					b.Fatal(err)
				}
				durs = append(durs, dur)
			}
		case <-first:
			start()
		case <-sim.Done():
			done = true
		case <-time.After(time.Minute):
			b.Fatalf("no progress: %+v", sim.Stats())
		}
	}
	wall := time.Since(t0)
	written := sim.Stats().Written - bytes0
	var cpu1 time.Duration
	if p != nil {
		if cpu1, err = labProcCPU(p.cmd.Process.Pid); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if p != nil {
		p.cmd.Process.Signal(syscall.SIGTERM)
		for l := range p.lines {
			if m := labDurableRe.FindStringSubmatch(l); m != nil {
				if dur, err := time.ParseDuration(m[1]); err == nil {
					durs = append(durs, dur)
				}
			}
		}
		if err := p.cmd.Wait(); err != nil {
			b.Fatalf("receiver: %v\n%s", err, p.stderr)
		}
	}
	cancel()
	<-simErr
	if store {
		// Zero loss: every message stored, once.
		l, err := datadir.Open(context.Background(), data, datadir.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		ids := map[string]int{}
		if err := receive.List(context.Background(), l, func(e receive.Entry) error {
			if !e.Quarantined() {
				ids[e.Lab.MessageID]++
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		for _, dv := range sim.Acked() {
			if ids[dv.MessageID.String()] != 1 {
				b.Fatalf("message %s stored %d times", dv.MessageID, ids[dv.MessageID.String()])
			}
		}
		if len(ids) != b.N {
			b.Fatalf("%d of %d messages stored", len(ids), b.N)
		}
	}
	if b.N < 2 {
		return
	}
	// The time the simulator's bytes took on the line: ten bits a byte.
	onLine := time.Duration(written*10) * time.Second / time.Duration(labBenchBaud)
	b.ReportMetric(100*float64(onLine)/float64(wall), "line-%")
	b.ReportMetric(float64(b.N-1)/wall.Seconds(), "msgs/s")
	if p != nil && len(durs) > 0 {
		sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
		b.ReportMetric(100*float64(cpu1-cpu0)/float64(wall), "cpu-%")
		b.ReportMetric(float64(durs[len(durs)/2].Microseconds())/1000, "durable-p50-ms")
		b.ReportMetric(float64(durs[len(durs)*99/100].Microseconds())/1000, "durable-p99-ms")
	}
}
