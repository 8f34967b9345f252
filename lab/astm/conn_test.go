package astm

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/internal/streamtest"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
	"github.com/exhibit-forensics/exhibit/lab/astm/record"
	"github.com/exhibit-forensics/exhibit/lab/testcode"
	"github.com/exhibit-forensics/exhibit/lab/value"
)

var domainSession = []string{
	"<STX>1H|\\^&|||EdgeSim^1.0|||||||P|LIS2-A2|20240612103000<CR><ETX>FF<CR><LF>",
	"<STX>2P|1||CASE-0001<CR><ETX>41<CR><LF>",
	"<STX>3O|1|S240612-0001||^^^BENZ\\^^^GHB|R||||||N||||URINE<CR><ETX>2A<CR><LF>",
	"<STX>4R|1|^^^GHB|42.0|mg/L|0-10|H||F||||20240612102900<CR><ETX>9E<CR><LF>",
	"<STX>5L|1|N<CR><ETX>08<CR><LF>",
}

const domainRaw = "H|\\^&|||EdgeSim^1.0|||||||P|LIS2-A2|20240612103000\rP|1||CASE-0001\r" +
	"O|1|S240612-0001||^^^BENZ\\^^^GHB|R||||||N||||URINE\rR|1|^^^GHB|42.0|mg/L|0-10|H||F||||20240612102900\rL|1|N\r"

type host struct {
	t     *testing.T
	c     *Conn
	rec   *recorder
	peer  *streamtest.Peer
	clk   *clock.Fake
	steps chan link.Step
}

func startHost(t *testing.T, mod func(*Config)) *host {
	t.Helper()
	a, b := net.Pipe()
	h := &host{t: t, rec: newRecorder(), peer: &streamtest.Peer{RW: b, Wait: guard},
		clk: clock.NewFake(time.Date(2024, 6, 12, 10, 30, 0, 0, time.UTC)), steps: make(chan link.Step, 1000)}
	cfg := Config{Role: link.Host, Dialect: Standard(), Handler: h.rec, Clock: h.clk, Logger: quiet,
		Trace: func(s link.Step) { h.steps <- s }}
	if mod != nil {
		mod(&cfg)
	}
	c, err := NewConn(a, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() { cancel(); a.Close(); b.Close(); <-done })
	return h
}

func (h *host) w(s string) {
	h.t.Helper()
	if err := h.peer.Write(s); err != nil {
		h.t.Fatal(err)
	}
}

// raw writes bytes as they are.
func (h *host) raw(b []byte) {
	h.t.Helper()
	if _, err := h.peer.RW.Write(b); err != nil {
		h.t.Fatal(err)
	}
}

func (h *host) x(s string) {
	h.t.Helper()
	if err := h.peer.Expect(s); err != nil {
		h.t.Fatal(err)
	}
}

func (h *host) event(want string) {
	h.t.Helper()
	if got := h.rec.next(); got != want {
		h.t.Fatalf("handler event %q, want %q", got, want)
	}
}

func (h *host) waitStep(from link.State, ev link.Event) {
	h.t.Helper()
	deadline := time.After(guard)
	for {
		select {
		case s := <-h.steps:
			if s.From == from && s.Event == ev {
				return
			}
		case <-deadline:
			h.t.Fatalf("no transition %v --%v-->", from, ev)
		}
	}
}

func TestDomainMessageAcceptedBeforeLastACK(t *testing.T) {
	codes, _ := testcode.Parse([]byte("testcode v1\nGHB ghb mg/L\n"))
	h := startHost(t, func(c *Config) { c.Codes = codes })
	h.w("<ENQ>")
	h.x("<ACK>")
	for _, f := range domainSession[:4] {
		h.w(f)
		h.x("<ACK>")
	}
	h.w(domainSession[4])
	// The handler runs before the ACK of the last frame can be read.
	h.event("accept")
	h.x("<ACK>")
	h.w("<EOT>")
	acc, rej := h.rec.snapshot()
	if len(acc) != 1 || len(rej) != 0 {
		t.Fatalf("accepted %d, rejected %d", len(acc), len(rej))
	}
	m := acc[0]
	if string(m.Raw) != domainRaw {
		t.Errorf("raw = %q", m.Raw)
	}
	if m.ID != chain.Sum([]byte(domainRaw)) {
		t.Errorf("ID %v is not the SHA-256 of the raw records", m.ID)
	}
	if len(m.Results) != 1 || m.Results[0].Code != "GHB" || m.Results[0].Analyte != "ghb" || !m.Results[0].Known {
		t.Errorf("results %+v", m.Results)
	}
	if v := m.Results[0].Result.Value; v.Kind != value.Number || v.Decimal != "42.0" {
		t.Errorf("value %+v", v)
	}
	if m.Dialect != "lis2a2" || !m.Received.Equal(h.clk.Now()) {
		t.Errorf("dialect %q received %v", m.Dialect, m.Received)
	}
}

func TestAcceptFailureNAKsAndRetransmissionHasSameID(t *testing.T) {
	h := startHost(t, nil)
	h.rec.failAccept = 1
	h.w("<ENQ>")
	h.x("<ACK>")
	for _, f := range domainSession[:4] {
		h.w(f)
		h.x("<ACK>")
	}
	h.w(domainSession[4])
	h.event("accept-failed")
	h.x("<NAK>") // not stored, so not acknowledged
	h.w(domainSession[4])
	h.event("accept")
	h.x("<ACK>")
	h.w("<EOT>")

	// The instrument, unsure, later sends the whole message again.
	h.w("<ENQ>")
	h.x("<ACK>")
	for _, f := range domainSession {
		h.w(f)
		if f == domainSession[4] {
			h.event("accept")
		}
		h.x("<ACK>")
	}
	h.w("<EOT>")
	acc, _ := h.rec.snapshot()
	if len(acc) != 2 || acc[0].ID != acc[1].ID {
		t.Fatalf("accepted %d messages; IDs must match for the store to keep one", len(acc))
	}
}

func TestSixStorageFailuresAbortTransfer(t *testing.T) {
	h := startHost(t, nil)
	h.rec.failAccept = 6
	h.w("<ENQ>")
	h.x("<ACK>")
	for _, f := range domainSession[:4] {
		h.w(f)
		h.x("<ACK>")
	}
	for i := 0; i < 6; i++ {
		h.w(domainSession[4])
		h.event("accept-failed")
		h.x("<NAK>")
	}
	h.w("<EOT>") // the instrument gives up
	h.event("reject")
	// What it gave up on is quarantined, the refused frame included.
	_, rej := h.rec.snapshot()
	if !errors.Is(rej[0].Reason, ErrIncomplete) || !errors.Is(rej[0].Reason, link.ErrAbandoned) || string(rej[0].Raw) != domainRaw {
		t.Fatalf("reject %v %q", rej[0].Reason, rej[0].Raw)
	}
	if s := h.c.Stats(); s.StoreFailures != 6 || s.NAKs != 6 || s.Abandoned != 1 || s.Frames != 4 {
		t.Fatalf("stats %+v", s)
	}
}

func TestMalformedMessageQuarantinedThenACKed(t *testing.T) {
	h := startHost(t, nil)
	h.w("<ENQ>")
	h.x("<ACK>")
	h.w("<STX>1H|\\^&<CR><ETX>E5<CR><LF>")
	h.x("<ACK>")
	h.w("<STX>2X|1<CR><ETX>47<CR><LF>") // record type X
	h.x("<ACK>")
	h.w("<STX>3L|1|N<CR><ETX>06<CR><LF>")
	h.event("reject")
	h.x("<ACK>")
	_, rej := h.rec.snapshot()
	var re *record.Error
	if !errors.As(rej[0].Reason, &re) || !errors.Is(re, record.ErrType) || re.Record != 2 {
		t.Fatalf("reason %v", rej[0].Reason)
	}
	if string(rej[0].Raw) != "H|\\^&\rX|1\rL|1|N\r" || rej[0].ID != chain.Sum(rej[0].Raw) {
		t.Fatalf("raw %q", rej[0].Raw)
	}
}

func TestQuarantineFailureNAKs(t *testing.T) {
	h := startHost(t, nil)
	h.rec.failReject = 1
	h.w("<ENQ>")
	h.x("<ACK>")
	h.w("<STX>1H|\\^&<CR><ETX>E5<CR><LF>")
	h.x("<ACK>")
	h.w("<STX>2X|1<CR><ETX>47<CR><LF>")
	h.x("<ACK>")
	h.w("<STX>3L|1|N<CR><ETX>06<CR><LF>")
	h.event("reject-failed")
	h.x("<NAK>")
	h.w("<STX>3L|1|N<CR><ETX>06<CR><LF>")
	h.event("reject")
	h.x("<ACK>")
}

func TestRecordsOutsideMessage(t *testing.T) {
	h := startHost(t, nil)
	h.w("<ENQ>")
	h.x("<ACK>")
	h.w("<STX>1P|1<CR><ETX>3E<CR><LF>")
	h.x("<ACK>")
	h.w("<STX>2L|1|N<CR><ETX>05<CR><LF>")
	h.event("reject")
	h.x("<ACK>")
	_, rej := h.rec.snapshot()
	if !errors.Is(rej[0].Reason, ErrNoHeader) || string(rej[0].Raw) != "P|1\rL|1|N\r" {
		t.Fatalf("reject %v %q", rej[0].Reason, rej[0].Raw)
	}
}

func TestReceiveTimeoutQuarantinesPartial(t *testing.T) {
	h := startHost(t, nil)
	h.w("<ENQ>")
	h.x("<ACK>")
	h.w(domainSession[0])
	h.x("<ACK>")
	h.waitStep(link.Receiving, link.EvFrame)
	if got := h.clk.Pending(); len(got) != 1 || got[0] != 30*time.Second {
		t.Fatalf("timers %v", got)
	}
	h.clk.Advance(30 * time.Second)
	h.event("reject")
	_, rej := h.rec.snapshot()
	if !errors.Is(rej[0].Reason, ErrIncomplete) || !errors.Is(rej[0].Reason, link.ErrReceiveTimeout) {
		t.Fatalf("reason %v", rej[0].Reason)
	}
}

func TestNewHeaderBeforeTerminator(t *testing.T) {
	h := startHost(t, nil)
	h.w("<ENQ>")
	h.x("<ACK>")
	h.w(domainSession[0])
	h.x("<ACK>")
	h.w(domainSession[1])
	h.x("<ACK>")
	h.w("<STX>3H|\\^&<CR><ETX>E7<CR><LF>") // a new message starts without L
	h.event("reject")
	h.x("<ACK>")
	_, rej := h.rec.snapshot()
	if !errors.Is(rej[0].Reason, ErrIncomplete) {
		t.Fatalf("reason %v", rej[0].Reason)
	}
}

func TestTwoMessagesInOneTransfer(t *testing.T) {
	h := startHost(t, nil)
	h.w("<ENQ>")
	h.x("<ACK>")
	for _, f := range domainSession {
		h.w(f)
		if f == domainSession[4] {
			h.event("accept")
		}
		h.x("<ACK>")
	}
	h.w("<STX>6H|\\^&<CR><ETX>EA<CR><LF>")
	h.x("<ACK>")
	h.w("<STX>7L|1|N<CR><ETX>0A<CR><LF>")
	h.event("accept")
	h.x("<ACK>")
	h.w("<EOT>")
	acc, _ := h.rec.snapshot()
	if len(acc) != 2 || acc[0].ID == acc[1].ID {
		t.Fatalf("%d messages", len(acc))
	}
}

// A pair of Conns over a pipe and over a pty: the instrument's Send and the
// host's Accept see the same message ID; a query from the instrument is
// answered with orders.
func TestConnPair(t *testing.T) {
	t.Run("pipe", func(t *testing.T) {
		connPair(t, func(t *testing.T) (link.Stream, link.Stream) {
			a, b := net.Pipe()
			t.Cleanup(func() { a.Close(); b.Close() })
			return a, b
		})
	})
	t.Run("pty", func(t *testing.T) {
		connPair(t, func(t *testing.T) (link.Stream, link.Stream) {
			p := streamtest.PTY(t)
			return p.Terminal(), p
		})
	})
}

// connPair runs a host and an instrument Conn for every built-in dialect,
// each over a fresh stream pair from streams (closed when the subtest ends).
func connPair(t *testing.T, streams func(*testing.T) (hostRW, instRW link.Stream)) {
	for _, name := range Dialects() {
		t.Run(name, func(t *testing.T) {
			hostRW, instRW := streams(t)
			d, err := LookupDialect(name)
			if err != nil {
				t.Fatal(err)
			}
			hrec, irec := newRecorder(), newRecorder()
			clk := clock.NewFake(time.Date(2024, 6, 12, 10, 30, 0, 0, time.UTC))
			hc, err := NewConn(hostRW, Config{Role: link.Host, Dialect: d, Handler: hrec, Clock: clk, Logger: quiet,
				Sender: record.Repeat{"Exhibit"},
				Answer: OrdersAnswer(orderList{{PatientID: "CASE-9", SpecimenID: "S9", Tests: []string{"GHB", "BENZ"}, SpecimenType: "URINE"}})})
			if err != nil {
				t.Fatal(err)
			}
			ic, err := NewConn(instRW, Config{Role: link.Instrument, Dialect: d, Handler: irec, Clock: clk, Logger: quiet,
				Sender: record.Repeat{"Sim"}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			hd, id := make(chan error, 1), make(chan error, 1)
			go func() { hd <- hc.Run(ctx) }()
			go func() { id <- ic.Run(ctx) }()
			defer func() { cancel(); <-hd; <-id }()

			long := strings.Repeat("x", 300) // forces ETB splitting
			sent, err := ic.Send(ctx, &record.Message{
				Patients: []record.Patient{{LabID: "CASE-9", Name: record.Repeat{"Doe", "Jane"}, Orders: []record.Order{{
					SpecimenID: "S9", Tests: []record.TestID{{"", "", "", "GHB"}},
					Results: []record.Result{
						{Test: record.TestID{"", "", "", "GHB"}, Value: value.Value{Raw: "<0.5"}, Units: "mg/L", Status: "F",
							Comments: []record.Comment{{Source: "I", Text: record.Text("a|b^c " + long)}}},
					},
				}}}},
				Terminator: record.Terminator{Code: "N"},
			})
			if err != nil {
				t.Fatal(err)
			}
			if hrec.next() != "accept" {
				t.Fatal("host did not accept")
			}
			acc, _ := hrec.snapshot()
			if acc[0].ID != sent.ID {
				t.Fatalf("host ID %v, instrument ID %v", acc[0].ID, sent.ID)
			}
			r := acc[0].Results[0].Result
			if r.Value.Kind != value.Censored || r.Comments[0].Text.Text() != "a|b^c "+long {
				t.Fatalf("result %+v", r)
			}

			reply, err := ic.Query(ctx, "S9")
			if err != nil {
				t.Fatal(err)
			}
			o := reply.Parsed.Patients[0].Orders[0]
			if reply.Parsed.Patients[0].LabID != "CASE-9" || o.SpecimenID != "S9" || len(o.Tests) != 2 ||
				o.Tests[0].Code(d.TestCodeComponent) != "GHB" || o.ReportType != "Q" || reply.Parsed.Terminator.Code != d.ReplyTermination {
				t.Fatalf("reply %+v", reply.Parsed)
			}
			// A query for a specimen without orders gets "no information".
			reply, err = ic.Query(ctx, "S404")
			if err != nil {
				t.Fatal(err)
			}
			if reply.Parsed.Terminator.Code != "I" || len(reply.Parsed.Patients) != 0 {
				t.Fatalf("reply %+v", reply.Parsed)
			}
			if _, err := hc.Query(ctx, "S9"); !errors.Is(err, ErrNotInstrument) {
				t.Fatalf("host Query = %v", err)
			}
		})
	}
}

// The code map of lab/testcode is the CodeMap both protocols use.
var _ CodeMap = (*testcode.Map)(nil)
