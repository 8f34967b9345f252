package labsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/lab/astm/frame"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
	"github.com/exhibit-forensics/exhibit/lab/astm/record"
	"github.com/exhibit-forensics/exhibit/lab/hl7"
	"github.com/exhibit-forensics/exhibit/lab/protocol"
	"github.com/exhibit-forensics/exhibit/lab/transport"
)

// Config configures a Sim.
type Config struct {
	Scenario *Scenario         // required
	Dialect  *protocol.Dialect // required
	Faults   Faults
	// Baud, if set, makes every write take as long as it would on a
	// serial line at this rate (8N1: ten bits a byte).
	Baud int
	// Timers are the ASTM link timers; zero fields take the E1381 values.
	Timers link.Timers
	// ReplyTimeout bounds the wait for the host's reply to a query (ASTM)
	// or for an acknowledgement (HL7); zero means 30 s.
	ReplyTimeout time.Duration
	// RetryWait is the pause before a message the host refused or did not
	// answer is sent again on the same connection; zero means 1 s.
	RetryWait time.Duration
	// Clock times everything the simulator waits for (link timers, reply
	// time-outs, retry waits, stalls) and dates its messages; nil:
	// clock.System.
	Clock clock.Clock
	// Timestamp, if set, dates every message instead of the clock (for
	// transcripts that must come out byte for byte the same).
	Timestamp time.Time
	Logger    *slog.Logger // nil: slog.Default()
	// OnAck, if set, is called for each message the host acknowledged
	// (ASTM: the ACK of its last frame; HL7: AA or AR), in order.
	OnAck func(Delivery)
}

// A Delivery is one results message and what became of it.
type Delivery struct {
	Protocol protocol.Protocol
	// MessageID is the message's id as the host records it: for ASTM the
	// SHA-256 of the records as sent, for HL7 the message's identity
	// (hl7.Identity).
	MessageID chain.Hash
	Rack      string
	Position  int
	// Tube holds the results actually sent (in host-query mode, those the
	// host ordered).
	Tube     Tube
	Attempts int // sends, including the successful one
	// Rejected is the reason an HL7 host gave for AR ("do not send again");
	// empty when the message was accepted.
	Rejected string
	// Forged: while the acknowledged attempt was out, the Corrupt fault
	// turned a byte the simulator read into an affirming one (Counts.Forged),
	// so the acknowledgement it acted on may be a refusal the line
	// garbled. The host may then hold the message only in quarantine, or
	// not at all: no protocol in use protects its replies.
	Forged bool
}

// Stats count what a run did.
type Stats struct {
	Counts
	Messages    int // results messages built
	Sends       int // send attempts, retransmissions included
	Acked       int // results messages acknowledged
	Rejected    int // HL7 messages answered AR
	Queries     int // host queries sent (host-query mode)
	NoOrders    int // tubes the host had no orders for
	HostQueries int // queries from the host answered
	Downloads   int // order messages the host downloaded (download mode) that held a new order
	// OrderRepeats are HL7 orders the host sent again (a placer order
	// number already held), taken as the same order (download mode).
	OrderRepeats int
}

// A Sim is a simulated analyser: it holds the scenario's racks, runs them
// in order, and sends each tube's results over whatever connection a
// transport gives Serve, as an ASTM instrument (lab/astm in the instrument
// role) or an HL7 ORU^R01 sender over MLLP. A message not acknowledged is sent
// again, byte for byte, on the same or the next connection, so the host
// can recognise it.
type Sim struct {
	cfg    Config
	log    *slog.Logger
	d      *allDice
	counts *counted
	tubes  []tubeAt
	sender record.Repeat
	enc    *record.Encoder

	session chan struct{} // one session drives the rack at a time

	mu     sync.Mutex
	next   int         // next tube to run
	queue  []*outgoing // built, not yet acknowledged
	ran    map[string]Delivery
	acked  []Delivery
	stats  Stats
	seq    int
	refuse int // host messages still to refuse (NAK storm)
	// Download mode: the test codes the host has ordered per specimen, and
	// a channel closed (and replaced) whenever an order arrives.
	ordered  map[string][]string
	orderSig chan struct{}
	// HL7 download mode: the placer order numbers taken (sim_hl7.go).
	placers  map[string]bool
	done     chan struct{}
	doneOnce sync.Once
}

type tubeAt struct {
	rack string
	pos  int
	tube *Tube
}

type outgoing struct {
	d    Delivery
	raws [][]byte      // ASTM records
	segs []hl7.Segment // HL7 segments
	wire []byte        // HL7: the encoded message, sent as it is each time
	size int           // bytes on the wire, about
}

// New returns a Sim.
func New(cfg Config) (*Sim, error) {
	if cfg.Scenario == nil || cfg.Dialect == nil || (cfg.Dialect.ASTM == nil) == (cfg.Dialect.HL7 == nil) {
		return nil, errors.New("labsim: Config needs a Scenario and an ASTM or HL7 dialect")
	}
	if err := cfg.Faults.validate(); err != nil {
		return nil, err
	}
	if cfg.Dialect.HL7 != nil {
		for _, r := range cfg.Scenario.Racks {
			for _, t := range r.Tubes {
				if t.Malformed != "" {
					return nil, fmt.Errorf("labsim: tube %s: malformed=%s is for ASTM dialects", t.ID, t.Malformed)
				}
			}
		}
	}
	if cfg.Dialect.HL7 != nil && cfg.Scenario.Query {
		return nil, errors.New("labsim: host-query mode needs ASTM (HL7 queries are not implemented)")
	}
	if cfg.Scenario.Query && cfg.Scenario.Download {
		return nil, errors.New("labsim: host-query and order download modes exclude each other")
	}
	if cfg.ReplyTimeout <= 0 {
		cfg.ReplyTimeout = 30 * time.Second
	}
	if cfg.RetryWait <= 0 {
		cfg.RetryWait = time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System
	}
	s := &Sim{cfg: cfg, log: cfg.Logger, d: newAllDice(cfg.Faults.Seed), counts: &counted{},
		session: make(chan struct{}, 1), ran: map[string]Delivery{}, done: make(chan struct{}),
		ordered: map[string][]string{}, orderSig: make(chan struct{})}
	if s.log == nil {
		s.log = slog.Default()
	}
	for _, r := range cfg.Scenario.Racks {
		for i := range r.Tubes {
			s.tubes = append(s.tubes, tubeAt{r.ID, i + 1, &r.Tubes[i]})
		}
	}
	name := cfg.Scenario.Analyser
	if name == "" {
		name = "ExhibitSim^1.0"
	}
	s.sender = record.Repeat(strings.Split(name, "^"))
	if d := cfg.Dialect.ASTM; d != nil {
		var err error
		if s.enc, err = record.NewEncoder(d.Record); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Done is closed when every tube has been run and every results message
// acknowledged.
func (s *Sim) Done() <-chan struct{} { return s.done }

// Acked returns the acknowledged deliveries, in order.
func (s *Sim) Acked() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.acked...)
}

// Stats returns the run's counts so far.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	st := s.stats
	s.mu.Unlock()
	st.Counts = s.counts.get()
	return st
}

// Serve runs the analyser over one connection until it ends or ctx ends.
// It is a transport.Session.
func (s *Sim) Serve(ctx context.Context, c transport.Conn) error {
	select {
	case s.session <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.session }()
	ln := &line{c: c, faults: &s.cfg.Faults, d: s.d, counts: s.counts, clk: s.cfg.Clock}
	if s.cfg.Baud > 0 {
		ln.bit = time.Second / time.Duration(s.cfg.Baud)
	}
	if s.cfg.Dialect.HL7 != nil {
		ln.affirms = func(b byte) bool { return b == 'A' }
		return s.serveHL7(ctx, ln)
	}
	ln.affirms = func(b byte) bool { return b == frame.ACK || b == frame.EOT }
	return s.serveASTM(ctx, ln)
}

var _ transport.Session = (*Sim)(nil).Serve

func (s *Sim) finish() { s.doneOnce.Do(func() { close(s.done) }) }

// errRunOver says every tube has been delivered.
var errRunOver = errors.New("labsim: run complete")

// head returns the first message waiting, building the next tube's
// message if none is (asking the host first in host-query mode). It
// returns errRunOver when there is nothing left.
func (s *Sim) head(ctx context.Context, ask func(ctx context.Context, t *Tube) ([]string, error)) (*outgoing, error) {
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			o := s.queue[0]
			s.mu.Unlock()
			return o, nil
		}
		if s.next >= len(s.tubes) {
			s.mu.Unlock()
			s.finish()
			return nil, errRunOver
		}
		s.mu.Unlock()
		if err := s.prepare(ctx, ask); err != nil {
			return nil, err
		}
	}
}

// prepare runs the next tube and queues its message (none if the host
// ordered nothing for it).
func (s *Sim) prepare(ctx context.Context, ask func(ctx context.Context, t *Tube) ([]string, error)) error {
	s.mu.Lock()
	if s.next >= len(s.tubes) {
		s.mu.Unlock()
		return nil
	}
	at := s.tubes[s.next]
	s.mu.Unlock()
	t := *at.tube
	if ask != nil {
		ordered, err := ask(ctx, at.tube)
		if err != nil {
			return err
		}
		want := map[string]bool{}
		for _, c := range ordered {
			want[c] = true
		}
		var keep []Result
		for _, r := range t.Results {
			if want[r.Code] {
				keep = append(keep, r)
			}
		}
		t.Results = keep
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	if len(t.Results) == 0 {
		s.stats.NoOrders++
		s.log.Info("labsim: the host has no orders for this tube; not run", "tube", t.ID)
		return nil
	}
	s.seq++
	o, err := s.build(at, t, s.seq)
	if err != nil {
		return err
	}
	s.stats.Messages++
	s.ran[t.ID] = o.d
	s.queue = append(s.queue, o)
	return nil
}

// markAcked records that the head message was acknowledged.
func (s *Sim) markAcked(o *outgoing, rejected string, forged bool) {
	s.mu.Lock()
	o.d.Forged = forged
	if len(s.queue) > 0 && s.queue[0] == o {
		s.queue = s.queue[1:]
	}
	o.d.Rejected = rejected
	if rejected != "" {
		s.stats.Rejected++
	} else {
		s.stats.Acked++
	}
	s.acked = append(s.acked, o.d)
	s.mu.Unlock()
	if s.cfg.OnAck != nil {
		s.cfg.OnAck(o.d)
	}
}

func (s *Sim) attempt(o *outgoing) {
	s.mu.Lock()
	o.d.Attempts++
	s.stats.Sends++
	s.mu.Unlock()
}

func (s *Sim) wait(ctx context.Context, d time.Duration) error {
	return clock.Sleep(ctx, s.cfg.Clock, d)
}

// now is when the message being built is dated.
func (s *Sim) now() time.Time {
	if !s.cfg.Timestamp.IsZero() {
		return s.cfg.Timestamp
	}
	return s.cfg.Clock.Now()
}

// beforeMessage injects the faults that precede a message and plans those
// that strike during it.
func (s *Sim) beforeMessage(ln *line, size int, nak byte) error {
	f := &s.cfg.Faults
	if s.d.garbage.roll(f.Garbage) {
		junk := make([]byte, 1+s.d.garbage.intN(64))
		for i := range junk {
			junk[i] = byte(s.d.garbage.intN(256))
		}
		sent, err := ln.raw(junk)
		if err != nil {
			return err
		}
		if sent { // not swallowed by a dead line
			s.counts.add(func(c *Counts) { c.GarbageBursts++ })
		}
	}
	if nak != 0 && s.d.nak.roll(f.NAKStorm) {
		burst := make([]byte, 3+s.d.nak.intN(18))
		for i := range burst {
			burst[i] = nak
		}
		s.mu.Lock()
		if s.cfg.Scenario.Query {
			s.refuse = link.MaxAttempts
		}
		s.mu.Unlock()
		sent, err := ln.raw(burst)
		if err != nil {
			return err
		}
		if sent {
			s.counts.add(func(c *Counts) { c.NAKStorms++ })
		}
	}
	ln.arm(size, s.d.disconnect.roll(f.Disconnect), s.d.timeout.roll(f.Timeout))
	return nil
}

// build makes the message for tube t, run as message number seq, in the
// dialect's protocol.
func (s *Sim) build(at tubeAt, t Tube, seq int) (*outgoing, error) {
	now := s.now()
	o := &outgoing{d: Delivery{Protocol: s.cfg.Dialect.Protocol, Rack: at.rack, Position: at.pos, Tube: t}}
	var err error
	if d := s.cfg.Dialect.ASTM; d != nil {
		err = s.buildASTM(o, d, at, t, seq, now)
	} else {
		err = s.buildHL7(o, at, t, seq, now)
	}
	if err != nil {
		return nil, fmt.Errorf("labsim: tube %s: %w", t.ID, err)
	}
	return o, nil
}

// qcNote is the comment a QC control's result carries (ASTM C record, HL7
// NTE): "QC lot=… level=… target=… sd=…".
func qcNote(t Tube, r Result) string {
	var parts []string
	for _, kv := range [][2]string{{"lot", t.Lot}, {"level", t.Level}, {"target", r.Target}, {"sd", r.SD}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	return strings.Join(append([]string{"QC"}, parts...), " ")
}
