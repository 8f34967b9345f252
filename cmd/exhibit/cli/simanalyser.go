package cli

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/serialport/pty"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
	"github.com/exhibit-forensics/exhibit/lab/labsim"
	"github.com/exhibit-forensics/exhibit/lab/protocol"
	"github.com/exhibit-forensics/exhibit/lab/transport"
)

// labMaxScenario bounds a scenario file (a million results is about 40 MB).
const labMaxScenario = 64 << 20

// runSimAnalyser runs `exhibit sim analyser` (args are those after
// "analyser"): a simulated analyser that runs a scenario file over a
// pseudo-terminal or TCP, with faults, and exits 0 once every message has
// been acknowledged (or keeps answering the host with --stay).
func runSimAnalyser(e *env, args []string) int {
	fs := newFlags(e, "sim analyser", "sim analyser --protocol astm|hl7 --transport pty|tcp [--link PATH | --listen ADDR | --connect ADDR] [--dialect NAME] --scenario FILE [faults...]")
	proto := fs.String("protocol", "", "astm or hl7")
	var tr transport.Spec
	tr.Flags(fs, transport.Instrument)
	dialect := fs.String("dialect", "", "dialect (astm: "+strings.Join(protocol.Names(protocol.ASTM), ", ")+"; hl7: "+strings.Join(protocol.Names(protocol.HL7), ", ")+"); default: the standard")
	scenario := fs.String("scenario", "", "the scenario file (\"analyser-scenario v1\"; see firmware-notes/analyser-simulator.md)")
	baud := fs.Int("baud", 0, "pace writes as a serial line at this baud rate (8N1); 0: as fast as the transport goes")
	stay := fs.Bool("stay", false, "keep running after the scenario is delivered (answering host queries) until interrupted")
	at := fs.String("time", "", "timestamp messages with this RFC 3339 time instead of the clock (reproducible bytes)")
	reply := fs.Duration("reply-timer", 15*time.Second, "astm: the instrument's reply timer (E1381: 15 s)")
	replyTimeout := fs.Duration("reply-timeout", 30*time.Second, "wait for a query's answer (astm) or an acknowledgement (hl7)")
	retry := fs.Duration("retry-wait", time.Second, "pause before sending a refused or unanswered message again")
	level := fs.String("log-level", "warn", "stderr log level: debug, info, warn, error")
	ordersListen := fs.String("orders-listen", "", "hl7, scenario with download yes: listen on this address (host:port) as the analyser's order port, taking OML^O33 / ORM^O01 from the host")
	var faults labsim.Faults
	faults.AddFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) > 0 {
		return e.usageErr(fs, "unexpected arguments %q", pos)
	}
	if *proto == "" || tr.Transport == "" || *scenario == "" {
		return e.usageErr(fs, "--protocol, --transport and --scenario are required")
	}
	d, err := lookupDialect(*proto, *dialect)
	if err != nil {
		return e.usageErr(fs, "%v", err)
	}
	if err := tr.Validate(); err != nil {
		return e.usageErr(fs, "%v", err)
	}
	if *baud < 0 || *reply <= 0 || *replyTimeout <= 0 || *retry <= 0 {
		return e.usageErr(fs, "--baud, --reply-timer, --reply-timeout and --retry-wait must be positive")
	}
	var stamp time.Time
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return e.usageErr(fs, "--time %q: want RFC 3339, e.g. 2024-06-12T10:30:00Z", *at)
		}
		stamp = t
	}
	log, err := labLogger(e, *level)
	if err != nil {
		return e.usageErr(fs, "%v", err)
	}
	fi, err := os.Stat(*scenario)
	if err != nil {
		return e.fail("sim analyser", err)
	}
	if fi.Size() > labMaxScenario {
		return e.fail("sim analyser", fmt.Errorf("%s: %d bytes; a scenario may have at most %d", *scenario, fi.Size(), labMaxScenario))
	}
	b, err := os.ReadFile(*scenario)
	if err != nil {
		return e.fail("sim analyser", err)
	}
	sc, err := labsim.ParseScenario(b)
	if err != nil {
		return e.fail("sim analyser", fmt.Errorf("%s: %w", *scenario, err))
	}
	out := &labOut{w: e.stdout}
	sim, err := labsim.New(labsim.Config{Scenario: sc, Dialect: d, Faults: faults, Baud: *baud, Timestamp: stamp, Logger: log,
		Timers: link.Timers{Reply: *reply}, ReplyTimeout: *replyTimeout, RetryWait: *retry,
		OnAck: func(dv labsim.Delivery) {
			verdict := "acked"
			if dv.Rejected != "" {
				verdict = "rejected"
			}
			out.printf("%s %s tube=%s rack=%s position=%d results=%d attempts=%d\n", verdict, dv.MessageID, dv.Tube.ID, dv.Rack,
				dv.Position, len(dv.Tube.Results), dv.Attempts)
		}})
	if err != nil {
		return e.fail("sim analyser", err)
	}
	runner, err := tr.Runner(transport.RunnerOptions{Logger: log,
		Ready: func(a net.Addr) { out.printf("listening on %s\n", a) },
		PTY: func(link string) transport.Runner {
			return &labsim.PTYLine{Link: pty.Link(link), Logger: log,
				Ready: func(path string) { out.printf("line %s -> %s\n", link, path) }}
		}})
	if err != nil {
		return e.fail("sim analyser", err)
	}
	tubes, results := sc.Counts()
	out.printf("analyser %s (%s): %d tubes, %d results; faults: %s\n", d.Protocol, d.Name, tubes, results, faults)
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	done := make(chan error, 1)
	if *ordersListen != "" {
		if d.HL7 == nil || !sc.Download {
			return e.usageErr(fs, "--orders-listen is for --protocol hl7 with a scenario that says download yes")
		}
		osrv := &transport.Server{Addr: *ordersListen, Logger: log, Ready: func(a net.Addr) { out.printf("order port listening on %s\n", a) }}
		oerr := make(chan error, 1)
		go func() { oerr <- osrv.Run(ctx, sim.ServeOrders) }()
		defer func() { cancel(); <-oerr }()
	} else if d.HL7 != nil && sc.Download {
		return e.usageErr(fs, "an hl7 scenario with download yes needs --orders-listen ADDR (the analyser's order port)")
	}
	go func() { done <- runner.Run(ctx, sim.Serve) }()
	complete := false
	select {
	case <-sim.Done():
		complete = true
		if *stay {
			err = <-done
			break
		}
		cancel()
		err = <-done
	case err = <-done:
	}
	st := sim.Stats()
	out.printf("done: %d of %d tubes acknowledged (%d rejected), %d sends; injected: %d corrupted, %d NAK storms, %d busy, %d contentions, %d stalls, %d disconnects, %d garbage\n",
		st.Acked+st.Rejected, tubes, st.Rejected, st.Sends, st.Corrupted, st.NAKStorms, st.BusyAnswers, st.Contentions, st.Stalls, st.Disconnects, st.GarbageBursts)
	if err != nil {
		return e.fail("sim analyser", err)
	}
	if !complete {
		return e.fail("sim analyser", fmt.Errorf("stopped before every message was acknowledged"))
	}
	return exitOK
}
