package labsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/exhibit-forensics/exhibit/lab/charset"
	"github.com/exhibit-forensics/exhibit/lab/hl7"
	"github.com/exhibit-forensics/exhibit/lab/hl7/mllp"
	"github.com/exhibit-forensics/exhibit/lab/protocol"
	"github.com/exhibit-forensics/exhibit/lab/transport"
	"github.com/exhibit-forensics/exhibit/lab/value"
)

// The HL7 half of the simulator: an ORU^R01 sender over MLLP, and in
// order download mode an order port (ServeOrders) taking OML^O33, OML^O21
// and ORM^O01 from the host.

// buildHL7 fills in o's segments, its encoding, its message id (the
// message's hl7.Identity) and its size on the wire.
func (s *Sim) buildHL7(o *outgoing, at tubeAt, t Tube, seq int, now time.Time) error {
	o.segs = s.hl7Message(at, t, fmt.Sprintf("SIM%06d", seq), now, now.Format("20060102150405"))
	b, err := hl7.Encode(o.segs, hl7.Standard, charset.ASCII)
	if err != nil {
		return err
	}
	id, err := hl7.Identity(b)
	if err != nil {
		return err
	}
	o.wire, o.size, o.d.MessageID = b, len(b)+1+len(s.cfg.Dialect.HL7.Framing.End), id
	return nil
}

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
	var ask func(ctx context.Context, t *Tube) ([]string, error)
	if s.cfg.Scenario.Download {
		ask = s.awaitOrders // orders come over the order port (ServeOrders)
	}
	for {
		o, err := s.head(ctx, ask)
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
		before := ln.forgedReads()
		ack, err := s.sendHL7(ctx, ln, o, acks, rerr)
		forged := ln.forgedReads() != before
		switch {
		case errors.Is(err, errNoAck):
			s.log.Warn("labsim: no acknowledgement; sending again", "tube", o.d.Tube.ID)
		case err != nil:
			return err
		case ack.Code == hl7.AA:
			s.markAcked(o, "", forged)
		case ack.Code == hl7.AR:
			s.log.Warn("labsim: the host rejected a message", "tube", o.d.Tube.ID, "reason", ack.Text)
			s.markAcked(o, "AR: "+ack.Text, forged)
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
	if err := mllp.Write(ln, o.wire, s.cfg.Dialect.HL7.Framing); err != nil {
		return nil, err
	}
	id := o.segs[0].Text(10)
	t := s.cfg.Clock.NewTimer(s.cfg.ReplyTimeout)
	defer t.Stop()
	for {
		select {
		case a := <-acks:
			if a.ControlID == id {
				return a, nil
			}
		case err := <-rerr:
			return nil, err
		case <-t.C():
			return nil, errNoAck
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// ServeOrders is the analyser's HL7 order port, for order download mode
// (scenario "download yes" with an HL7 dialect): a transport.Session on a
// connection of its own, beside the one Serve sends results on, as HL7
// analysers keep orders (LIS → analyser) and results (analyser → LIS)
// apart. Several may run at once. For each order message (OML^O33, OML^O21
// or ORM^O01) it answers the application reply (ORL^O34, ORL^O22, ORR^O02;
// hl7.NewOrderReply):
//
//   - AR, with an ERR, if the message is not an order message that
//     ParseOrders reads, if an order's control code (ORC-1) is not NW, or
//     if a test is not on the analyser's menu (every result code of the
//     scenario): ERR-3 103, table value not found. None of its orders is
//     taken.
//   - AE ("busy") when the Busy fault comes up: nothing is taken; the host
//     may send it again.
//   - AA otherwise: the orders are taken, keyed by placer order number
//     (ORC-2). An order whose placer order number is already held — the
//     host sending again an order whose reply it missed — is the same
//     order: it is counted (Stats.OrderRepeats) and changes nothing. Each
//     specimen's tube then runs only the tests ordered for it.
//
// The Disconnect fault, when it comes up for an order message that was
// taken, drops the connection before the reply: the analyser has the
// orders, the host does not know it and must send them again.
//
// A frame that does not parse as HL7 is logged and not answered (there is
// no control id to answer). ServeOrders returns when the connection ends.
func (s *Sim) ServeOrders(ctx context.Context, c transport.Conn) error {
	dl := s.cfg.Dialect.HL7
	if dl == nil || !s.cfg.Scenario.Download {
		return errors.New("labsim: the HL7 order port needs an HL7 dialect and a scenario with download yes")
	}
	r := mllp.NewReader(c, dl.Framing, 0)
	for {
		raw, err := r.ReadMessage()
		if err != nil {
			var fe *mllp.Error
			if errors.As(err, &fe) {
				s.log.Warn("labsim: broken frame on the order port", "error", err)
				continue
			}
			if ctx.Err() != nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		m, err := hl7.Parse(raw, dl.Options)
		if err != nil {
			s.log.Warn("labsim: the host sent an order message that does not parse; not answered", "error", err)
			continue
		}
		code, text, cause := s.takeHL7Orders(m)
		if code == hl7.AA && s.d.disconnect.roll(s.cfg.Faults.Disconnect) {
			s.counts.add(func(c *Counts) { c.Disconnects++ })
			s.log.Info("labsim: dropping the order connection before the reply (fault)", "control", m.ControlID())
			return nil
		}
		reply := hl7.NewOrderReply(m, code, text, cause, hl7.Header{SendingApp: s.sender[0], Time: s.now()})
		out, err := hl7.Encode(reply, m.Delimiters, hl7.AckCharset(m))
		if err != nil {
			return fmt.Errorf("labsim: order reply: %w", err)
		}
		if err := mllp.Write(c, out, dl.Framing); err != nil {
			return nil // the host hung up; it sends the orders again
		}
	}
}

// errNotOnMenu is why an order for a test the analyser does not run is
// refused.
var errNotOnMenu = &hl7.Refusal{Code: "103", Reason: "test not on the analyser's menu"}

// takeHL7Orders decides the reply to one order message and, on AA, takes
// its orders.
func (s *Sim) takeHL7Orders(m *hl7.Message) (code, text string, cause error) {
	orders, err := hl7.ParseOrders(m)
	if err != nil {
		return hl7.AR, "not an order message: " + err.Error(), err
	}
	menu := map[string]bool{}
	for _, at := range s.tubes {
		for _, r := range at.tube.Results {
			menu[r.Code] = true
		}
	}
	for _, o := range orders {
		if o.Control != "NW" {
			return hl7.AR, fmt.Sprintf("order %s: order control %q is not supported (only NW)", o.PlacerOrder, o.Control), &hl7.Refusal{Code: "103"}
		}
		if o.PlacerOrder == "" || o.SpecimenID == "" {
			return hl7.AR, "an order has no placer order number or specimen id", &hl7.Error{Offset: -1, Err: hl7.ErrMissing}
		}
		if !menu[o.Test.Code] {
			return hl7.AR, fmt.Sprintf("order %s: test %s is not on the analyser's menu", o.PlacerOrder, o.Test.Code), errNotOnMenu
		}
	}
	if s.d.busy.roll(s.cfg.Faults.Busy) {
		s.counts.add(func(c *Counts) { c.BusyAnswers++ })
		return hl7.AE, "analyser busy; send the orders again", nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.placers == nil {
		s.placers = map[string]bool{}
	}
	fresh := false
	for _, o := range orders {
		if s.placers[o.PlacerOrder] {
			s.stats.OrderRepeats++
			continue
		}
		s.placers[o.PlacerOrder] = true
		if !slices.Contains(s.ordered[o.SpecimenID], o.Test.Code) {
			s.ordered[o.SpecimenID] = append(s.ordered[o.SpecimenID], o.Test.Code)
		}
		fresh = true
	}
	if fresh {
		s.stats.Downloads++
		close(s.orderSig)
		s.orderSig = make(chan struct{})
	}
	return hl7.AA, "", nil
}

// HeldOrders returns the orders the analyser holds, by placer order
// number (HL7 download mode): each number once, however often the host
// sent it.
func (s *Sim) HeldOrders() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.placers))
	for p := range s.placers {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}
