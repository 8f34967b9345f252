package labsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/lab/astm"
	"github.com/exhibit-forensics/exhibit/lab/astm/frame"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
	"github.com/exhibit-forensics/exhibit/lab/astm/record"
	"github.com/exhibit-forensics/exhibit/lab/astm/value"
	"github.com/exhibit-forensics/exhibit/lab/hl7"
	"github.com/exhibit-forensics/exhibit/lab/hl7/mllp"
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
	Now       func() time.Time // message timestamps; nil: time.Now
	Logger    *slog.Logger     // nil: slog.Default()
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

	mu       sync.Mutex
	next     int         // next tube to run
	queue    []*outgoing // built, not yet acknowledged
	ran      map[string]Delivery
	acked    []Delivery
	stats    Stats
	seq      int
	refuse   int // host messages still to refuse (NAK storm)
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
	if cfg.Dialect.HL7 != nil && cfg.Scenario.Query {
		return nil, errors.New("labsim: host-query mode needs ASTM (HL7 queries are not implemented)")
	}
	if cfg.ReplyTimeout <= 0 {
		cfg.ReplyTimeout = 30 * time.Second
	}
	if cfg.RetryWait <= 0 {
		cfg.RetryWait = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Sim{cfg: cfg, log: cfg.Logger, d: newAllDice(cfg.Faults.Seed), counts: &counted{},
		session: make(chan struct{}, 1), ran: map[string]Delivery{}, done: make(chan struct{})}
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
	ln := &line{c: c, faults: &s.cfg.Faults, d: s.d, counts: s.counts, clk: clock.System}
	if s.cfg.Baud > 0 {
		ln.bit = time.Second / time.Duration(s.cfg.Baud)
	}
	if s.cfg.Dialect.HL7 != nil {
		return s.serveHL7(ctx, ln)
	}
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
func (s *Sim) markAcked(o *outgoing, rejected string) {
	s.mu.Lock()
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

func (s *Sim) wait(ctx context.Context, d time.Duration) error { return transport.Sleep(ctx, d) }

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

// --- ASTM ---

func (s *Sim) build(at tubeAt, t Tube, seq int) (*outgoing, error) {
	now := s.cfg.Now()
	ts := now.Format("20060102150405")
	o := &outgoing{d: Delivery{Protocol: s.cfg.Dialect.Protocol, Rack: at.rack, Position: at.pos, Tube: t}}
	if d := s.cfg.Dialect.ASTM; d != nil {
		m := s.astmMessage(d, at, t, strconv.Itoa(seq), ts)
		raws, err := s.enc.Encode(m.Build())
		if err != nil {
			return nil, fmt.Errorf("labsim: tube %s: %w", t.ID, err)
		}
		var raw []byte
		for _, r := range raws {
			raw = append(append(raw, r...), frame.CR)
		}
		o.raws, o.d.MessageID = raws, chain.Sum(raw)
		// The bytes this side writes for the message: ENQ and the frames.
		o.size = 1
		for i, f := range frame.Split(raws, d.Packing, d.Frame.Max()) {
			f.Number = (i + 1) % 8
			b, err := frame.Append(nil, f, d.Frame)
			if err != nil {
				return nil, fmt.Errorf("labsim: tube %s: %w", t.ID, err)
			}
			o.size += len(b)
		}
		return o, nil
	}
	o.segs = s.hl7Message(at, t, fmt.Sprintf("SIM%06d", seq), now, ts)
	b, err := hl7.Encode(o.segs, hl7.Standard, hl7.ASCII)
	if err != nil {
		return nil, fmt.Errorf("labsim: tube %s: %w", t.ID, err)
	}
	id, err := hl7.Identity(b)
	if err != nil {
		return nil, fmt.Errorf("labsim: tube %s: %w", t.ID, err)
	}
	o.size, o.d.MessageID = len(b)+1+len(s.cfg.Dialect.HL7.Framing.End), id
	return o, nil
}

func testID(d *astm.Dialect, code string) record.TestID {
	id := make(record.TestID, d.TestCodeComponent)
	id[d.TestCodeComponent-1] = code
	return id
}

func qcNote(t Tube, r Result) string {
	var parts []string
	for _, kv := range [][2]string{{"lot", t.Lot}, {"level", t.Level}, {"target", r.Target}, {"sd", r.SD}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	return strings.Join(append([]string{"QC"}, parts...), " ")
}

func (s *Sim) astmMessage(d *astm.Dialect, at tubeAt, t Tube, control, ts string) *record.Message {
	o := record.Order{SpecimenParts: record.Repeat{t.ID, at.rack, strconv.Itoa(at.pos)}, Priority: "R", ActionCode: "N", ReportType: "F"}
	if t.Control {
		o.ActionCode = "Q"
	}
	if t.Type != "" {
		o.SpecimenDescriptor = record.Repeat{t.Type}
	}
	for _, r := range t.Results {
		o.Tests = append(o.Tests, testID(d, r.Code))
		x := record.Result{Test: testID(d, r.Code), Value: value.Value{Raw: r.Value}, Units: r.Units, Range: r.Range,
			Flags: r.Flags, Status: r.Status, Completed: ts}
		if t.Control {
			x.Comments = []record.Comment{{Source: "I", Text: record.Text(qcNote(t, r)), Type: "G"}}
		}
		o.Results = append(o.Results, x)
	}
	return &record.Message{
		Header:     record.Header{Sender: s.sender, ControlID: control, ProcessingID: "P", Version: "LIS2-A2", Timestamp: ts},
		Patients:   []record.Patient{{LabID: t.Patient, Orders: []record.Order{o}}},
		Terminator: record.Terminator{Code: "N"},
	}
}

// simHandler takes what the host sends the instrument: replies to queries
// (handed to the waiting Query by the Conn) and anything else, which is
// only logged. During a NAK storm it refuses the host's messages.
type simHandler struct{ s *Sim }

func (h simHandler) Accept(ctx context.Context, m *astm.Message) error {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	if h.s.refuse > 0 {
		h.s.refuse--
		return errors.New("labsim: refusing (NAK storm)")
	}
	return nil
}

func (h simHandler) Reject(ctx context.Context, r *astm.Rejected) error {
	h.s.log.Warn("labsim: the host sent something unreadable", "reason", r.Reason)
	return nil
}

// hostQueries answers queries from the host with the results of the tubes
// asked about that have been run; "no information" for the others.
type hostQueries struct{ s *Sim }

func (q hostQueries) Answer(ctx context.Context, qu *astm.Query) (*record.Message, error) {
	s := q.s
	s.mu.Lock()
	s.stats.HostQueries++
	var found []Delivery
	for _, id := range qu.Specimens {
		if d, ok := s.ran[id]; ok {
			found = append(found, d)
		}
	}
	s.mu.Unlock()
	if len(found) == 0 {
		return &record.Message{Terminator: record.Terminator{Code: "I"}}, nil
	}
	m := &record.Message{Header: record.Header{Sender: s.sender, ProcessingID: "P", Version: "LIS2-A2",
		Timestamp: s.cfg.Now().Format("20060102150405")}, Terminator: record.Terminator{Code: "F"}}
	for _, d := range found {
		one := s.astmMessage(qu.Dialect, tubeAt{d.Rack, d.Position, &d.Tube}, d.Tube, "", m.Header.Timestamp)
		m.Patients = append(m.Patients, one.Patients...)
	}
	return m, nil
}

func (s *Sim) serveASTM(ctx context.Context, ln *line) error {
	d := s.cfg.Dialect.ASTM
	conn, err := astm.NewConn(ln, astm.Config{Role: link.Instrument, Dialect: d, Handler: simHandler{s},
		Answer: hostQueries{s}, Sender: s.sender, Timers: s.cfg.Timers, Logger: s.log, Clock: clock.System,
		Busy: func() bool {
			if s.d.busy.roll(s.cfg.Faults.Busy) {
				s.counts.add(func(c *Counts) { c.BusyAnswers++ })
				return true
			}
			return false
		}})
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- conn.Run(rctx) }()
	err = s.sendASTM(rctx, conn, ln)
	if errors.Is(err, errRunOver) {
		// Everything is delivered: stay on the line, answering the host,
		// until it or we hang up.
		select {
		case <-ctx.Done():
		case err = <-runErr:
			return err
		}
		err = nil
	}
	cancel()
	ln.Close()
	if rerr := <-runErr; err == nil && ctx.Err() == nil {
		err = rerr
	}
	return err
}

func (s *Sim) ask(conn *astm.Conn) func(ctx context.Context, t *Tube) ([]string, error) {
	if !s.cfg.Scenario.Query {
		return nil
	}
	d := s.cfg.Dialect.ASTM
	return func(ctx context.Context, t *Tube) ([]string, error) {
		for {
			s.mu.Lock()
			s.stats.Queries++
			s.mu.Unlock()
			qctx, cancel := context.WithTimeout(ctx, s.cfg.ReplyTimeout)
			reply, err := conn.Query(qctx, t.ID)
			cancel()
			if err == nil {
				codes, ok := ordersFor(reply, t.ID, d)
				if ok {
					return codes, nil
				}
				// ASTM replies carry no reference to the query: a reply
				// about another specimen is a late answer to an earlier
				// query, and an E terminator an error. Ask again.
				err = fmt.Errorf("reply does not answer for %s (terminator %q)", t.ID, reply.Parsed.Terminator.Code)
			}
			if ctx.Err() != nil || errors.Is(err, link.ErrClosed) {
				return nil, err
			}
			s.log.Warn("labsim: query failed; asking again", "tube", t.ID, "error", err)
			if err := s.wait(ctx, s.cfg.RetryWait); err != nil {
				return nil, err
			}
		}
	}
}

// ordersFor reads the test codes ordered for specimen from a reply. It
// reports false if the reply is not an answer about specimen: orders for
// other specimens only, or an error terminator.
func ordersFor(reply *astm.Message, specimen string, d *astm.Dialect) ([]string, bool) {
	var codes []string
	about := false
	for _, p := range reply.Parsed.Patients {
		for _, o := range p.Orders {
			if o.SpecimenID != specimen {
				continue
			}
			about = true
			for _, tid := range o.Tests {
				codes = append(codes, tid.Code(d.TestCodeComponent))
			}
		}
	}
	if about {
		return codes, true
	}
	// No orders for it: believable only as "no information" (I).
	return nil, len(reply.Parsed.Patients) == 0 && reply.Parsed.Terminator.Code == "I"
}

func (s *Sim) sendASTM(ctx context.Context, conn *astm.Conn, ln *line) error {
	ask := s.ask(conn)
	for {
		o, err := s.head(ctx, ask)
		if err != nil {
			return err
		}
		// Contention: send these results while the next tube's query goes
		// out, so that the host's reply and our next transfer bid for the
		// line together.
		var contend chan error
		s.mu.Lock()
		more := s.next < len(s.tubes) && len(s.queue) == 1
		s.mu.Unlock()
		if ask != nil && more && s.d.contention.roll(s.cfg.Faults.Contention) {
			s.counts.add(func(c *Counts) { c.Contentions++ })
			contend = make(chan error, 1)
			go func() { contend <- s.prepare(ctx, ask) }()
		}
		if err := s.beforeMessage(ln, o.size, frame.NAK); err != nil {
			return err
		}
		s.attempt(o)
		err = conn.SendRecords(ctx, o.raws)
		if contend != nil {
			if cerr := <-contend; cerr != nil && err == nil {
				err = cerr
			}
		}
		if err == nil {
			s.markAcked(o, "")
			continue
		}
		if ctx.Err() != nil || errors.Is(err, link.ErrClosed) {
			return err
		}
		s.log.Warn("labsim: message not acknowledged; sending it again", "tube", o.d.Tube.ID, "error", err)
		if err := s.wait(ctx, s.cfg.RetryWait); err != nil {
			return err
		}
	}
}

// --- HL7 ---

func (s *Sim) hl7Message(at tubeAt, t Tube, control string, now time.Time, ts string) []hl7.Segment {
	msh := hl7.Seg("MSH")
	msh.Set(3, hl7.C(s.sender...))
	msh.Set(4, hl7.T("LAB"))
	msh.Set(5, hl7.T("EXHIBIT"))
	msh.Set(6, hl7.T("LAB"))
	msh.Set(7, hl7.T(now.Format("20060102150405")))
	msh.Set(9, hl7.C("ORU", "R01", "ORU_R01"))
	msh.Set(10, hl7.T(control))
	msh.Set(11, hl7.T("P"))
	msh.Set(12, hl7.T("2.5.1"))
	segs := []hl7.Segment{msh, hl7.Seg("PID", hl7.T("1"), nil, hl7.T(t.Patient))}
	segs = append(segs, hl7.Seg("ORC", hl7.T("RE"), hl7.T(t.ID), hl7.T(t.ID)))
	obr := hl7.Seg("OBR", hl7.T("1"), hl7.T(t.ID), hl7.T(t.ID), hl7.C("TOX", "Toxicology", "L"))
	obr.Set(15, hl7.T(t.Type))
	segs = append(segs, obr)
	if t.Control {
		segs = append(segs, hl7.Seg("NTE", hl7.T("1"), hl7.T("L"), hl7.T(fmt.Sprintf("QC control lot=%s level=%s rack=%s position=%d", t.Lot, t.Level, at.rack, at.pos))))
	}
	for i, r := range t.Results {
		typ, val := hl7Value(r.Value)
		obx := hl7.Seg("OBX", hl7.T(strconv.Itoa(i+1)), hl7.T(typ), hl7.C(r.Code, "", "L"), nil, val, hl7.T(r.Units), hl7.T(r.Range))
		var flags hl7.Field
		for _, f := range r.Flags {
			flags = append(flags, hl7.Rep{hl7.Comp{f}})
		}
		obx.Set(8, flags)
		obx.Set(11, hl7.T(r.Status))
		obx.Set(14, hl7.T(ts))
		segs = append(segs, obx)
		if t.Control {
			segs = append(segs, hl7.Seg("NTE", hl7.T("1"), hl7.T("L"), hl7.T(qcNote(t, r))))
		}
	}
	return segs
}

// hl7Value picks OBX-2 and OBX-5 for a value's text: NM for a plain
// number, SN (comparator ^ number) for a censored one, ST for the rest.
func hl7Value(raw string) (string, hl7.Field) {
	v := value.Parse(raw, value.Point)
	switch v.Kind {
	case value.Number:
		return "NM", hl7.T(raw)
	case value.Censored:
		return "SN", hl7.C(v.Comparator, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(raw), v.Comparator)))
	}
	return "ST", hl7.T(raw)
}

// ExpectedValue returns the value text a receiver keeps for a result the
// scenario gives as raw: the text itself for ASTM, and for HL7 the OBX-5
// field as sent (a censored value goes as SN, "<^0.5").
func ExpectedValue(p protocol.Protocol, raw string) string {
	if p != protocol.HL7 {
		return raw
	}
	typ, f := hl7Value(raw)
	if typ == "SN" {
		return f.Component(1) + "^" + f.Component(2)
	}
	return raw
}

var errNoAck = errors.New("labsim: no acknowledgement in time")

// serveHL7 sends each tube's ORU^R01 and waits for its acknowledgement,
// sending it again (on the same connection, as a serial instrument must)
// after AE or when no acknowledgement comes within ReplyTimeout. It reads
// acknowledgements itself rather than through hl7.Client, whose Send can
// only stop waiting on streams with read deadlines, and a pseudo-terminal
// has none.
func (s *Sim) serveHL7(ctx context.Context, ln *line) error {
	dl := s.cfg.Dialect.HL7
	acks := make(chan *hl7.Ack, 16)
	rerr := make(chan error, 1)
	go func() {
		r := mllp.NewReader(ln, dl.Framing, 0)
		for {
			raw, err := r.ReadMessage()
			if err != nil {
				var fe *mllp.Error
				if errors.As(err, &fe) {
					continue
				}
				rerr <- err
				return
			}
			m, err := hl7.Parse(raw, dl.Options)
			if err != nil {
				s.log.Warn("labsim: the host sent something unreadable", "error", err)
				continue
			}
			if a, err := hl7.ParseAck(m); err == nil {
				acks <- a
			}
		}
	}()
	// The connection is closed by the transport when Serve returns, which
	// ends the reader.
	for {
		o, err := s.head(ctx, nil)
		if errors.Is(err, errRunOver) {
			select {
			case <-ctx.Done():
				return nil
			case err := <-rerr:
				return err
			}
		}
		if err != nil {
			return err
		}
		if err := s.beforeMessage(ln, o.size, 0); err != nil {
			return err
		}
		s.attempt(o)
		ack, err := s.sendHL7(ctx, ln, o, acks, rerr)
		switch {
		case errors.Is(err, errNoAck):
			s.log.Warn("labsim: no acknowledgement; sending again", "tube", o.d.Tube.ID)
		case err != nil:
			return err
		case ack.Code == hl7.AA:
			s.markAcked(o, "")
		case ack.Code == hl7.AR:
			s.log.Warn("labsim: the host rejected a message", "tube", o.d.Tube.ID, "reason", ack.Text)
			s.markAcked(o, "AR: "+ack.Text)
		default:
			s.log.Warn("labsim: the host could not keep a message; sending it again", "tube", o.d.Tube.ID, "code", ack.Code, "text", ack.Text)
			if err := s.wait(ctx, s.cfg.RetryWait); err != nil {
				return err
			}
		}
	}
}

// sendHL7 writes one message and waits at most ReplyTimeout for the
// acknowledgement naming its control id.
func (s *Sim) sendHL7(ctx context.Context, ln *line, o *outgoing, acks <-chan *hl7.Ack, rerr <-chan error) (*hl7.Ack, error) {
	b, err := hl7.Encode(o.segs, hl7.Standard, hl7.ASCII)
	if err != nil {
		return nil, err
	}
	if err := mllp.Write(ln, b, s.cfg.Dialect.HL7.Framing); err != nil {
		return nil, err
	}
	id := o.segs[0].Text(10)
	t := time.NewTimer(s.cfg.ReplyTimeout)
	defer t.Stop()
	for {
		select {
		case a := <-acks:
			if a.ControlID == id {
				return a, nil
			}
		case err := <-rerr:
			return nil, err
		case <-t.C:
			return nil, errNoAck
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
