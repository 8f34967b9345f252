package labsim

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/lab/astm"
	"github.com/exhibit-forensics/exhibit/lab/astm/frame"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
	"github.com/exhibit-forensics/exhibit/lab/astm/record"
	"github.com/exhibit-forensics/exhibit/lab/hl7"
	"github.com/exhibit-forensics/exhibit/lab/hl7/mllp"
	"github.com/exhibit-forensics/exhibit/lab/protocol"
)

const guard = 10 * time.Second

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func example(t *testing.T) *Scenario {
	t.Helper()
	data, err := os.ReadFile("testdata/example.scenario")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseScenario(data)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// hostRec keeps what a host Conn accepts.
type hostRec struct {
	mu   sync.Mutex
	msgs []*astm.Message
	ch   chan *astm.Message
	fail int
}

func (h *hostRec) Accept(ctx context.Context, m *astm.Message) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail > 0 {
		h.fail--
		return errors.New("store down")
	}
	h.msgs = append(h.msgs, m)
	h.ch <- m
	return nil
}

func (h *hostRec) Reject(ctx context.Context, r *astm.Rejected) error { return nil }

type orders map[string][]string

func (o orders) Orders(ctx context.Context, specimens []string) ([]astm.Order, error) {
	var out []astm.Order
	for _, s := range specimens {
		if tests, ok := o[s]; ok {
			out = append(out, astm.Order{PatientID: "CASE-0001", SpecimenID: s, Tests: tests})
		}
	}
	return out, nil
}

type pipeConn struct{ net.Conn }

func (pipeConn) String() string { return "pipe" }

// run starts a host Conn and the sim over a pipe.
func runASTM(t *testing.T, sc *Scenario, dialect string, hostAnswer astm.OrderSource, hostFails int, mod func(*Config, *astm.Config)) (*Sim, *astm.Conn, *hostRec) {
	t.Helper()
	d, err := protocol.Lookup(protocol.ASTM, dialect)
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	rec := &hostRec{ch: make(chan *astm.Message, 100), fail: hostFails}
	hcfg := astm.Config{Role: link.Host, Dialect: d.ASTM, Handler: rec, Logger: testLog(t),
		Trace: func(s link.Step) { traceHost(t, s) }}
	if hostAnswer != nil {
		hcfg.Answer = astm.OrdersAnswer(hostAnswer)
	}
	cfg := Config{Scenario: sc, Dialect: d, Logger: testLog(t), ReplyTimeout: guard, RetryWait: time.Millisecond}
	if mod != nil {
		mod(&cfg, &hcfg)
	}
	hc, err := astm.NewConn(a, hcfg)
	if err != nil {
		t.Fatal(err)
	}
	sim, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	hd, sd := make(chan error, 1), make(chan error, 1)
	go func() { hd <- hc.Run(ctx) }()
	go func() { sd <- sim.Serve(ctx, pipeConn{b}) }()
	t.Cleanup(func() { cancel(); a.Close(); b.Close(); <-hd; <-sd })
	return sim, hc, rec
}

var traceOn = os.Getenv("LABSIM_TRACE") != ""

func testLog(t *testing.T) *slog.Logger {
	if traceOn {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return quiet
}

func traceHost(t *testing.T, s link.Step) {
	if traceOn {
		t.Logf("host %s", s)
	}
}

func waitDone(t *testing.T, s *Sim) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(guard):
		t.Fatalf("run not done: %+v", s.Stats())
	}
}

// Every built-in dialect: the host receives each tube's message with the
// id the simulator expects and the results exactly as the scenario gives
// them; a message the host refuses is sent again, byte for byte.
func TestASTMRun(t *testing.T) {
	for _, dialect := range astm.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			sc := example(t)
			// The host refuses the first message's last frame seven times:
			// the link gives up after six, and the message is sent again.
			sim, _, rec := runASTM(t, sc, dialect, nil, 7, nil)
			waitDone(t, sim)
			acked := sim.Acked()
			rec.mu.Lock()
			msgs := rec.msgs
			rec.mu.Unlock()
			if len(acked) != 3 || len(msgs) != 3 {
				t.Fatalf("%d acked, %d received", len(acked), len(msgs))
			}
			if acked[0].Attempts != 2 || sim.Stats().Sends != 4 {
				t.Fatalf("attempts %d, sends %d", acked[0].Attempts, sim.Stats().Sends)
			}
			d, _ := astm.LookupDialect(dialect)
			for i, m := range msgs {
				dv := acked[i]
				if m.ID != dv.MessageID {
					t.Fatalf("message %d: id %s, simulator expected %s", i, m.ID, dv.MessageID)
				}
				if len(m.Results) != len(dv.Tube.Results) {
					t.Fatalf("message %d: %d results", i, len(m.Results))
				}
				o := m.Parsed.Patients[0].Orders[0]
				if o.SpecimenID != dv.Tube.ID || o.SpecimenParts.Component(2) != "R1" || (o.ActionCode == "Q") != dv.Tube.Control {
					t.Fatalf("order %+v", o)
				}
				for j, r := range m.Results {
					want := dv.Tube.Results[j]
					if r.Code != want.Code || r.Result.Value.Raw != want.Value || r.Result.Units != want.Units ||
						r.Result.Range != want.Range || strings.Join(r.Result.Flags, ",") != strings.Join(want.Flags, ",") || r.Result.Status != want.Status {
						t.Fatalf("message %d result %d: %+v, want %+v", i, j, r.Result, want)
					}
					if r.Result.Test.Code(d.TestCodeComponent) != want.Code {
						t.Fatalf("test code in the wrong component")
					}
				}
			}
			// The censored value stays censored.
			if v := msgs[0].Results[1].Result.Value; v.Kind.String() != "censored" || v.Comparator != "<" {
				t.Fatalf("value %+v", v)
			}
		})
	}
}

// Host-query mode: the simulator asks for each tube's orders and runs only
// the tests ordered; a tube without orders is not run.
func TestHostQueryMode(t *testing.T) {
	sc := example(t)
	sc.Query = true
	sim, _, rec := runASTM(t, sc, "lis2a2", orders{"S240612-0001": {"GHB", "THC"}, "QC-GHB-L1": {"GHB"}}, 0, nil)
	waitDone(t, sim)
	st := sim.Stats()
	if st.Queries != 3 || st.NoOrders != 1 || st.Acked != 2 {
		t.Fatalf("stats %+v", st)
	}
	acked := sim.Acked()
	var codes []string
	for _, r := range acked[0].Tube.Results {
		codes = append(codes, r.Code)
	}
	if acked[0].Tube.ID != "S240612-0001" || strings.Join(codes, ",") != "GHB,THC" || acked[1].Tube.ID != "QC-GHB-L1" {
		t.Fatalf("acked %+v", acked)
	}
	// The host stored the two results messages and the three queries.
	rec.mu.Lock()
	n := len(rec.msgs)
	rec.mu.Unlock()
	if n != 5 {
		t.Fatalf("host received %d messages", n)
	}
}

// Contention and busy faults in host-query mode still deliver everything.
func TestHostQueryModeContentionBusy(t *testing.T) {
	sc := Generate(60, 3, "C")
	sc.Query = true
	all := orders{}
	for _, r := range sc.Racks {
		for _, tb := range r.Tubes {
			for _, x := range tb.Results {
				all[tb.ID] = append(all[tb.ID], x.Code)
			}
		}
	}
	fast := link.Timers{Busy: 5 * time.Millisecond, InstrumentContention: time.Millisecond, HostContention: 50 * time.Millisecond}
	sim, _, _ := runASTM(t, sc, "lis2a2", all, 0, func(c *Config, h *astm.Config) {
		c.Faults = Faults{Contention: 0.5, Busy: 0.3, Seed: 9}
		c.Timers, h.Timers = fast, fast
	})
	waitDone(t, sim)
	st := sim.Stats()
	tubes, _ := sc.Counts()
	if st.Acked != tubes || st.Contentions == 0 || st.BusyAnswers == 0 {
		t.Fatalf("stats %+v (tubes %d)", st, tubes)
	}
}

// The simulator answers a query from the host with the results of a tube
// it has run, and "no information" for one it has not.
func TestAnswersHostQueries(t *testing.T) {
	sim, hc, rec := runASTM(t, example(t), "lis2a2", nil, 0, nil)
	waitDone(t, sim)
	for range 3 {
		<-rec.ch
	}
	ask := func(id string) *astm.Message {
		q := &record.Message{Queries: []record.Query{{Start: []record.Repeat{{"", id}}, Tests: []record.TestID{{"", "", "", "ALL"}}, Status: "F"}},
			Terminator: record.Terminator{Code: "N"}}
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		if _, err := hc.Send(ctx, q); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-rec.ch:
			return m
		case <-ctx.Done():
			t.Fatal("no answer")
			return nil
		}
	}
	m := ask("S240612-0002")
	if len(m.Results) != 1 || m.Results[0].Result.Value.Raw != "3.1" || m.Parsed.Terminator.Code != "F" ||
		m.Parsed.Patients[0].Orders[0].SpecimenID != "S240612-0002" {
		t.Fatalf("answer %+v", m.Parsed)
	}
	if m := ask("S-unknown"); len(m.Results) != 0 || m.Parsed.Terminator.Code != "I" {
		t.Fatalf("answer %+v", m.Parsed)
	}
	if sim.Stats().HostQueries != 2 {
		t.Fatalf("stats %+v", sim.Stats())
	}
}

type hl7Rec struct {
	mu   sync.Mutex
	got  []*hl7.Received
	fail int
}

func (h *hl7Rec) Accept(ctx context.Context, m *hl7.Received) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail > 0 {
		h.fail--
		return errors.New("store down")
	}
	h.got = append(h.got, m)
	return nil
}

func (h *hl7Rec) Reject(ctx context.Context, r *hl7.Rejected) error { return nil }

func TestHL7Run(t *testing.T) {
	for _, dialect := range protocol.Names(protocol.HL7) {
		t.Run(dialect, func(t *testing.T) {
			d, _ := protocol.Lookup(protocol.HL7, dialect)
			a, b := net.Pipe()
			rec := &hl7Rec{fail: 1}
			srv := &hl7.Server{Handler: rec, Framing: d.HL7.Framing, Options: d.HL7.Options, Logger: quiet}
			sim, err := New(Config{Scenario: example(t), Dialect: d, Logger: quiet, ReplyTimeout: guard, RetryWait: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			hd, sd := make(chan error, 1), make(chan error, 1)
			go func() { hd <- srv.ServeConn(ctx, a) }()
			go func() { sd <- sim.Serve(ctx, pipeConn{b}) }()
			defer func() { cancel(); a.Close(); b.Close(); <-hd; <-sd }()
			waitDone(t, sim)
			acked := sim.Acked()
			rec.mu.Lock()
			got := rec.got
			rec.mu.Unlock()
			if len(acked) != 3 || len(got) != 3 || acked[0].Attempts != 2 {
				t.Fatalf("%d acked (%+v), %d received", len(acked), acked, len(got))
			}
			for i, m := range got {
				if m.Identity != acked[i].MessageID {
					t.Fatalf("identity %s, expected %s", m.Identity, acked[i].MessageID)
				}
				g := m.Results.Patients[0].Orders[0]
				if g.SpecimenID != acked[i].Tube.ID {
					t.Fatalf("specimen %q", g.SpecimenID)
				}
				for j, ob := range g.Observations {
					want := acked[i].Tube.Results[j]
					if ob.ID.Code != want.Code || ob.Value.Raw != ExpectedValue(protocol.HL7, want.Value) || ob.Units != want.Units {
						t.Fatalf("observation %+v, want %+v", ob, want)
					}
				}
			}
			if v := got[0].Results.Patients[0].Orders[0].Observations[1].Value; v.Raw != "<^0.5" || v.Comparator != "<" {
				t.Fatalf("censored value %+v", v)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	a, _ := protocol.Lookup(protocol.ASTM, "lis2a2")
	h, _ := protocol.Lookup(protocol.HL7, "mllp")
	q := example(t)
	q.Query = true
	for _, cfg := range []Config{
		{Dialect: a},
		{Scenario: example(t)},
		{Scenario: q, Dialect: h},
		{Scenario: example(t), Dialect: a, Faults: Faults{Corrupt: 2}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestExpectedValue(t *testing.T) {
	for _, c := range []struct {
		p        protocol.Protocol
		raw, out string
	}{
		{protocol.ASTM, "<0.5", "<0.5"}, {protocol.HL7, "<0.5", "<^0.5"}, {protocol.HL7, ">=8", ">=^8"},
		{protocol.HL7, "42.0", "42.0"}, {protocol.HL7, "NEG", "NEG"}, {protocol.HL7, "7,41", "7,41"},
	} {
		if got := ExpectedValue(c.p, c.raw); got != c.out {
			t.Errorf("ExpectedValue(%s, %q) = %q, want %q", c.p, c.raw, got, c.out)
		}
	}
}

// The line's faults: corruption changes exactly one byte of a write,
// a disconnect cuts a write short and closes the connection, a stall
// swallows what is written, and pacing makes writes take their time on
// the wire.
func TestLineFaults(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	clk := clock.NewFake(time.Unix(0, 0))
	bit := time.Second / 115200
	l := &line{c: pipeConn{a}, faults: &Faults{Corrupt: 1, Stall: time.Minute}, d: newAllDice(1), counts: &counted{},
		clk: clk, bit: bit}
	// paced waits until a write is held back for its wire time, checks
	// how long, and lets the time pass.
	paced := func(bytes int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		if err := clk.BlockUntil(ctx, 1); err != nil {
			t.Fatalf("no write waited for its wire time: %v", err)
		}
		if p := clk.Pending(); len(p) != 1 || p[0] != time.Duration(bytes*10)*bit {
			t.Fatalf("paced %v, want %v for %d bytes", p, time.Duration(bytes*10)*bit, bytes)
		}
		clk.Advance(time.Duration(bytes*10) * bit)
	}
	read := func(n int) []byte {
		buf := make([]byte, n)
		if _, err := io.ReadFull(b, buf); err != nil {
			t.Fatal(err)
		}
		return buf
	}
	msg := []byte("0123456789")
	go l.Write(msg)
	paced(len(msg))
	got := read(len(msg))
	diff := 0
	for i := range msg {
		if got[i] != msg[i] {
			diff++
		}
	}
	if diff != 1 || l.counts.get().Corrupted != 1 {
		t.Fatalf("corrupted write %q: %d bytes differ", got, diff)
	}
	// Stall after 4 bytes: 4 arrive, the rest and later writes vanish
	// until the stall is over.
	l.faults.Corrupt = 0
	l.arm(5, false, true)
	l.stallAfter = 4
	errc := make(chan error, 1)
	go func() { _, err := l.Write(msg); errc <- err }()
	paced(4)
	if string(read(4)) != "0123" || <-errc != nil {
		t.Fatal("stall did not cut the write")
	}
	if n, err := l.Write(msg); n != len(msg) || err != nil {
		t.Fatalf("write on a dead line: %d, %v", n, err)
	}
	clk.Advance(2 * time.Minute)
	// Disconnect after 3 bytes of the next write.
	l.arm(5, true, false)
	l.cutAfter = 3
	go func() { _, err := l.Write(msg); errc <- err }()
	paced(3)
	if string(read(3)) != "012" {
		t.Fatal("disconnect did not cut the write")
	}
	if err := <-errc; !errors.Is(err, errCut) {
		t.Fatalf("cut write returned %v", err)
	}
	if _, err := b.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection still open after the disconnect")
	}
	if c := l.counts.get(); c.Stalls != 1 || c.Disconnects != 1 {
		t.Fatalf("counts %+v", c)
	}
}

// TestHL7ResendOnClock: the simulator's reply time-out runs on its Clock.
// A host that reads the first message and never acknowledges it gets the
// same bytes again only once the fake clock has passed ReplyTimeout, and
// every message is dated with Config.Timestamp.
func TestHL7ResendOnClock(t *testing.T) {
	d, err := protocol.Lookup(protocol.HL7, "mllp")
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC))
	stamp := time.Date(2024, 6, 12, 10, 30, 0, 0, time.UTC)
	sim, err := New(Config{Scenario: example(t), Dialect: d, Logger: quiet, Clock: clk, Timestamp: stamp,
		ReplyTimeout: 45 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	sd := make(chan error, 1)
	go func() { sd <- sim.Serve(ctx, pipeConn{b}) }()
	defer func() { cancel(); a.Close(); b.Close(); <-sd }()

	msgs := make(chan []byte, 4)
	go func() {
		r := mllp.NewReader(a, d.HL7.Framing, 0)
		for {
			m, err := r.ReadMessage()
			if err != nil {
				close(msgs)
				return
			}
			msgs <- m
		}
	}()
	next := func() []byte {
		t.Helper()
		select {
		case m, ok := <-msgs:
			if !ok {
				t.Fatal("the simulator's stream ended")
			}
			return m
		case <-ctx.Done():
			t.Fatal("no message")
		}
		return nil
	}
	first := next()
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if p := clk.Pending(); len(p) != 1 || p[0] != 45*time.Second {
		t.Fatalf("pending timers %v, want the 45 s reply time-out", p)
	}
	clk.Advance(44 * time.Second)
	select {
	case m := <-msgs:
		t.Fatalf("sent again before the time-out: %q", m)
	default:
	}
	clk.Advance(time.Second)
	if again := next(); string(again) != string(first) {
		t.Fatalf("resent %q, first %q", again, first)
	}
	m, err := hl7.Parse(first, d.HL7.Options)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Segments[0].Text(7); got != "20240612103000" {
		t.Fatalf("MSH-7 %q, want the configured timestamp", got)
	}
}

// TestLineCountsForgedReplies: every read the Corrupt fault turns into an
// affirming byte (for ASTM: ACK or EOT) is counted as forged, and no other
// read is — so that a fault run can tell an acknowledgement the host gave
// from one the line made out of a refusal.
func TestLineCountsForgedReplies(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	l := &line{c: pipeConn{a}, faults: &Faults{Corrupt: 1}, d: newAllDice(3), counts: &counted{},
		clk: clock.NewFake(time.Unix(0, 0)), affirms: func(c byte) bool { return c == frame.ACK || c == frame.EOT }}
	const n = 3000
	go func() {
		for range n {
			if _, err := b.Write([]byte{frame.NAK}); err != nil {
				return
			}
		}
	}()
	affirmed := 0
	buf := make([]byte, 1)
	for range n {
		if _, err := io.ReadFull(l, buf); err != nil {
			t.Fatal(err)
		}
		if buf[0] == frame.NAK {
			t.Fatal("a read was not corrupted at Corrupt 1")
		}
		if buf[0] == frame.ACK || buf[0] == frame.EOT {
			affirmed++
		}
	}
	c := l.counts.get()
	if affirmed == 0 {
		t.Fatalf("no NAK of %d became ACK or EOT; the test shows nothing (change the seed)", n)
	}
	if c.Forged != affirmed || l.forgedReads() != affirmed || c.Corrupted != n {
		t.Fatalf("forged %d (line %d), corrupted %d; read %d affirming bytes of %d", c.Forged, l.forgedReads(), c.Corrupted, affirmed, n)
	}
}
