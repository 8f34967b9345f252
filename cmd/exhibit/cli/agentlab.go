package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/exhibit-forensics/exhibit/api/bench"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
	"github.com/exhibit-forensics/exhibit/lab/panel"
	"github.com/exhibit-forensics/exhibit/lab/receive"
	"github.com/exhibit-forensics/exhibit/lab/testcode"
	"github.com/exhibit-forensics/exhibit/lab/transport"
)

// agentAnalyser is one analyser the lab agent receives from in its own
// process: lab/receive's Receiver, configured as `exhibit lab receive`
// configures it (the same capture before acknowledgement, capture keys,
// order book wiring and checkpoints), run over the transport its file
// names, with the link's state kept for the bench's pages.
type agentAnalyser struct {
	cfg   *analyserConfig
	codes *testcode.Map
	rcv   *receive.Receiver
	run   transport.Runner
	out   *labOut

	mu    sync.Mutex
	st    bench.Link
	conns int
}

// newAgentAnalyser builds the receiver of one analyser file.
func newAgentAnalyser(e *env, data string, l *ledger.Ledger, log *slog.Logger, out *labOut, c *analyserConfig) (*agentAnalyser, error) {
	a := &agentAnalyser{cfg: c, out: out, st: bench.Link{Name: c.Name, Over: c.Transport.String(), State: "starting", Since: time.Now()}}
	var cm receive.CodeMap
	if c.Codes != "" {
		b, err := os.ReadFile(c.Codes)
		if err != nil {
			return nil, fmt.Errorf("analyser %s: %w", c.Name, err)
		}
		if a.codes, err = testcode.Parse(b); err != nil {
			return nil, fmt.Errorf("analyser %s: %s: %w", c.Name, c.Codes, err)
		}
		cm = a.codes
	}
	// As `exhibit lab receive`: oversized input waits in DIR/spool.
	spool := filepath.Join(data, "spool")
	if err := os.MkdirAll(spool, 0o700); err != nil {
		return nil, err
	}
	log = log.With("analyser", c.Name)
	cfg := receive.Config{Store: l, Dialect: c.Dialect, Case: c.Case, Analyser: c.Name, Codes: cm, Logger: log,
		Timers: link.Timers{Reply: c.ReplyTimer}, Spool: spool, Checkpoints: l, CheckpointEvery: c.CheckpointEvery,
		Observe: a.observe}
	download, every, connect, timeout := c.Download, c.DownloadEvery, c.OrdersConnect, c.OrdersTimeout
	if err := (&receiveOrders{download: &download, every: &every, connect: &connect, timeout: &timeout}).wire(e, data, l, log, &cfg); err != nil {
		return nil, fmt.Errorf("analyser %s: %w", c.Name, err)
	}
	var err error
	if a.rcv, err = receive.New(cfg); err != nil {
		return nil, fmt.Errorf("analyser %s: %w", c.Name, err)
	}
	a.run, err = c.Transport.Runner(transport.RunnerOptions{Logger: log, Ready: func(addr net.Addr) {
		a.set(func(s *bench.Link) { s.State = "listening on " + addr.String() })
		out.printf("analyser %s: listening on %s\n", c.Name, addr)
	}})
	if err != nil {
		return nil, fmt.Errorf("analyser %s: %w", c.Name, err)
	}
	return a, nil
}

// set changes the link's state (and its Since when the words change).
func (a *agentAnalyser) set(fn func(s *bench.Link)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	was := a.st.State
	fn(&a.st)
	if a.st.State != was {
		a.st.Since = time.Now()
	}
}

func (a *agentAnalyser) status() bench.Link {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.st
}

// observe counts what became of each message (after the order book has
// recorded its results: receiveOrders.wire puts the book's observer first).
func (a *agentAnalyser) observe(o receive.Outcome) {
	a.set(func(s *bench.Link) {
		switch o.Kind {
		case receive.Stored:
			s.Stored++
			s.Last = time.Now()
		case receive.Duplicate: // a retransmission, kept once already
			s.Last = time.Now()
		case receive.Quarantined:
			s.Quarantined++
			s.Last = time.Now()
		case receive.Failed:
			s.NotStored++
			s.Problem = "a message could not be stored, and the analyser was told to send it again"
		}
	})
	switch o.Kind {
	case receive.Stored:
		a.out.printf("analyser %s: stored %s %s results=%d unknown=%d\n", a.cfg.Name, o.Ref, o.Key, o.Results, len(o.Unknown))
	case receive.Quarantined:
		a.out.printf("analyser %s: quarantined %s %s reason=%q\n", a.cfg.Name, o.Ref, o.Key, o.Reason)
	}
}

// Run receives until ctx ends; the receiver signs a checkpoint on stop.
func (a *agentAnalyser) Run(ctx context.Context) error {
	waiting := "waiting for the analyser"
	if a.cfg.Transport.Transport == "serial" {
		waiting = "waiting for the serial line"
	}
	a.set(func(s *bench.Link) { s.State = waiting })
	a.out.printf("analyser %s: receiving %s (%s) over %s, case %s\n", a.cfg.Name, a.cfg.Dialect.Protocol, a.cfg.Dialect.Name, &a.cfg.Transport, a.cfg.Case)
	cp, err := a.rcv.Run(ctx, watchedRunner{a, waiting})
	a.set(func(s *bench.Link) {
		s.Up, s.State = false, "stopped"
		if err != nil {
			s.Problem = err.Error()
		}
	})
	st := a.status()
	line := fmt.Sprintf("analyser %s stopped: %d stored, %d quarantined, %d not stored", a.cfg.Name, st.Stored, st.Quarantined, st.NotStored)
	if cp != nil {
		line += fmt.Sprintf("; checkpoint: log size %d", cp.Size)
	}
	a.out.printf("%s\n", line)
	return err
}

// watchedRunner runs the receiver's sessions and keeps the link's state:
// up while a connection (or the serial line) is being served.
type watchedRunner struct {
	a       *agentAnalyser
	waiting string
}

func (w watchedRunner) Run(ctx context.Context, serve transport.Session) error {
	return w.a.run.Run(ctx, func(ctx context.Context, c transport.Conn) error {
		w.a.set(func(s *bench.Link) {
			w.a.conns++
			s.Up, s.State, s.Problem = true, "connected", ""
			if w.a.cfg.Transport.Transport == "serial" {
				s.State = "line open"
			}
		})
		err := serve(ctx, c)
		w.a.set(func(s *bench.Link) {
			w.a.conns--
			if w.a.conns == 0 {
				s.Up, s.State = false, w.waiting
			}
			if err != nil && ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				s.Problem = "the last connection ended: " + err.Error()
			}
		})
		return err
	})
}

// agentTests are the tests the bench's order form offers: every code of
// the analysers' code maps, named from the panel.
func agentTests(as []*agentAnalyser, p *panel.Panel) []bench.Test {
	var out []bench.Test
	seen := map[string]bool{}
	for _, a := range as {
		if a.codes == nil {
			continue
		}
		for _, en := range a.codes.Entries() {
			if seen[en.Code] {
				continue
			}
			seen[en.Code] = true
			name := en.Analyte
			if p != nil {
				if an, ok := p.Analyte(en.Analyte); ok {
					name = an.Name
				}
			}
			out = append(out, bench.Test{Code: en.Code, Name: name})
		}
	}
	return out
}
