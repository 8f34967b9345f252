package labsim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/lab/astm"
	"github.com/exhibit-forensics/exhibit/lab/astm/frame"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
	"github.com/exhibit-forensics/exhibit/lab/astm/record"
	"github.com/exhibit-forensics/exhibit/lab/value"
)

// The ASTM half of the simulator: an instrument on lab/astm.

// buildASTM fills in o's records, its message id (the SHA-256 of the
// records as sent, each followed by CR) and its size on the wire.
func (s *Sim) buildASTM(o *outgoing, d *astm.Dialect, at tubeAt, t Tube, seq int, now time.Time) error {
	if t.Malformed != "" {
		// The first result's value is written as a marker the encoder
		// leaves alone, then replaced by a value with an escape sequence
		// no dialect defines: ESC Q ESC.
		t.Results = slices.Clone(t.Results)
		t.Results[0].Value = malformedMarker
	}
	m := s.astmMessage(d, at, t, strconv.Itoa(seq), now.Format("20060102150405"))
	raws, err := s.enc.Encode(m.Build())
	if err != nil {
		return err
	}
	if t.Malformed != "" {
		e := d.Record.Delimiters.Escape
		if d.Record.Delimiters == (record.Delimiters{}) {
			e = record.Standard.Escape
		}
		broken := []byte{'4', e, 'Q', e, '2'}
		for i, r := range raws {
			raws[i] = bytes.ReplaceAll(r, []byte(malformedMarker), broken)
		}
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
			return err
		}
		o.size += len(b)
	}
	return nil
}

// malformedMarker stands for a malformed value until the message is
// encoded (letters only: no dialect escapes it).
const malformedMarker = "EXHIBITSIMMALFORMEDVALUE"

func testID(d *astm.Dialect, code string) record.TestID {
	id := make(record.TestID, d.TestCodeComponent)
	id[d.TestCodeComponent-1] = code
	return id
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
	if h.s.cfg.Scenario.Download {
		h.s.takeOrders(m)
	}
	return nil
}

// takeOrders keeps the orders of a host's download (called with s.mu
// held): the test codes of every O record with action code N, A or none,
// added to what the specimen already has. Orders with results attached,
// or of report type Q (a reply to a query), are not downloads.
func (s *Sim) takeOrders(m *astm.Message) {
	d := s.cfg.Dialect.ASTM
	took := false
	for _, p := range m.Parsed.Patients {
		for _, o := range p.Orders {
			if len(o.Results) > 0 || o.ReportType == "Q" || (o.ActionCode != "" && o.ActionCode != "N" && o.ActionCode != "A") {
				continue
			}
			for _, tid := range o.Tests {
				c := tid.Code(d.TestCodeComponent)
				if c != "" && !slices.Contains(s.ordered[o.SpecimenID], c) {
					s.ordered[o.SpecimenID] = append(s.ordered[o.SpecimenID], c)
				}
			}
			if _, ok := s.ordered[o.SpecimenID]; !ok {
				s.ordered[o.SpecimenID] = []string{}
			}
			took = true
		}
	}
	if took {
		s.stats.Downloads++
		close(s.orderSig)
		s.orderSig = make(chan struct{})
	}
}

// awaitOrders is the download-mode counterpart of ask: it waits up to
// ReplyTimeout for the host to have downloaded an order for the tube, and
// returns the codes ordered (none: the tube is not run).
func (s *Sim) awaitOrders(ctx context.Context, t *Tube) ([]string, error) {
	tm := s.cfg.Clock.NewTimer(s.cfg.ReplyTimeout)
	defer tm.Stop()
	for {
		s.mu.Lock()
		codes, ok := s.ordered[t.ID]
		sig := s.orderSig
		s.mu.Unlock()
		if ok {
			return codes, nil
		}
		select {
		case <-sig:
		case <-tm.C():
			s.log.Info("labsim: no order downloaded for the tube in time", "tube", t.ID)
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
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
		Timestamp: s.now().Format("20060102150405")}, Terminator: record.Terminator{Code: "F"}}
	for _, d := range found {
		one := s.astmMessage(qu.Dialect, tubeAt{d.Rack, d.Position, &d.Tube}, d.Tube, "", m.Header.Timestamp)
		m.Patients = append(m.Patients, one.Patients...)
	}
	return m, nil
}

func (s *Sim) serveASTM(ctx context.Context, ln *line) error {
	d := s.cfg.Dialect.ASTM
	conn, err := astm.NewConn(ln, astm.Config{Role: link.Instrument, Dialect: d, Handler: simHandler{s},
		Answer: hostQueries{s}, Sender: s.sender, Timers: s.cfg.Timers, Logger: s.log, Clock: s.cfg.Clock,
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
	if s.cfg.Scenario.Download {
		return s.awaitOrders
	}
	if !s.cfg.Scenario.Query {
		return nil
	}
	d := s.cfg.Dialect.ASTM
	return func(ctx context.Context, t *Tube) ([]string, error) {
		for {
			s.mu.Lock()
			s.stats.Queries++
			s.mu.Unlock()
			qctx, cancel := clock.WithTimeout(ctx, s.cfg.Clock, s.cfg.ReplyTimeout)
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
		if ask != nil && s.cfg.Scenario.Query && more && s.d.contention.roll(s.cfg.Faults.Contention) {
			s.counts.add(func(c *Counts) { c.Contentions++ })
			contend = make(chan error, 1)
			go func() { contend <- s.prepare(ctx, ask) }()
		}
		if err := s.beforeMessage(ln, o.size, frame.NAK); err != nil {
			return err
		}
		s.attempt(o)
		forged := ln.forgedReads()
		err = conn.SendRecords(ctx, o.raws)
		if contend != nil {
			if cerr := <-contend; cerr != nil && err == nil {
				err = cerr
			}
		}
		if err == nil {
			s.markAcked(o, "", ln.forgedReads() != forged)
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
