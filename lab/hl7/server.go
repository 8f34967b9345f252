package hl7

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/lab/hl7/mllp"
)

// Received is a message that parsed, as handed to a Handler.
type Received struct {
	*Message
	Received time.Time
	// Results is the result structure of an ORU^R01, nil for other types.
	Results *ORU
	// Unknown lists the OBX-3 codes the code map did not know (all of them
	// if there is no map), in order of first appearance.
	Unknown []string
}

// Rejected is input that could not be accepted, for quarantine.
type Rejected struct {
	ID       chain.Hash // SHA-256 of Raw
	Raw      []byte     // the bytes inside the frame (or between frames), as received
	Size     int64      // len(Raw)
	Received time.Time
	Reason   error // *Error, or *mllp.Error for framing problems
}

// A Handler takes what a Server receives. The contract is that of
// lab/astm.Handler: Accept returning nil promises the message is durably
// kept, and only then is it acknowledged AA; Accept must be idempotent by
// ID, because a sender that missed the ACK sends the message again.
type Handler interface {
	Accept(ctx context.Context, m *Received) error
	Reject(ctx context.Context, r *Rejected) error
}

// A CodeMap turns instrument codes (OBX-3.1) into panel analytes
// (lab/astm/testcode.Map is one).
type CodeMap interface {
	Analyte(code string) (string, bool)
}

// OnFailure says what the Server answers when Handler.Accept fails.
type OnFailure uint8

const (
	// SendAE answers AE ("application error"): the sender should send the
	// message again.
	SendAE OnFailure = iota
	// SendNothing sends no acknowledgement, so that a sender which ignores
	// AE still times out and sends again.
	SendNothing
)

// A Server receives messages over one connection and acknowledges each
// only after its Handler has kept it:
//
//   - a message that parses and is accepted: AA;
//   - Handler.Accept fails: AE (or nothing, per OnFailure);
//   - a message that does not parse: handed to Handler.Reject with the raw
//     bytes and the reason, then AR if its MSH could be read (ERR-3 says
//     why), nothing if not; if Reject fails, no acknowledgement at all;
//   - framing problems (junk between frames, a frame cut short): handed to
//     Handler.Reject, never acknowledged.
type Server struct {
	Handler   Handler
	Framing   mllp.Framing // zero: mllp.Standard
	Options   Options      // parsing options (default charset)
	Codes     CodeMap
	App       string // MSH-3 of our ACKs
	Facility  string // MSH-4 of our ACKs
	OnFailure OnFailure
	MaxSize   int // largest message accepted; 0: mllp.DefaultMax
	// Types are the message types (MSH-9.1^MSH-9.2) accepted; nil:
	// DefaultTypes. Others are quarantined and answered AR (200, or 201 for
	// a known type with another trigger).
	Types  []string
	Now    func() time.Time // nil: time.Now
	Logger *slog.Logger     // nil: slog.Default()
}

// ServeConn serves one connection until the stream ends, fails, or ctx
// ends. If rw is an io.Closer it is closed when ctx ends, to unblock reads.
// It returns nil when the peer closes the connection cleanly.
func (s *Server) ServeConn(ctx context.Context, rw io.ReadWriter) error {
	if s.Handler == nil {
		return errors.New("hl7: Server needs a Handler")
	}
	f := s.Framing
	if f.End == nil {
		f = mllp.Standard
	}
	if err := f.Validate(); err != nil {
		return err
	}
	log := s.Logger
	if log == nil {
		log = slog.Default()
	}
	now := s.Now
	if now == nil {
		now = time.Now
	}
	if c, ok := rw.(io.Closer); ok {
		stop := context.AfterFunc(ctx, func() { c.Close() })
		defer stop()
	}
	r := mllp.NewReader(rw, f, s.MaxSize)
	for {
		raw, err := r.ReadMessage()
		if err != nil {
			var fe *mllp.Error
			if errors.As(err, &fe) {
				rj := &Rejected{ID: chain.Sum(fe.Data), Raw: fe.Data, Received: now(), Reason: fe}
				log.Warn("hl7: framing problem", "error", fe.Error())
				if err := s.Handler.Reject(ctx, rj); err != nil {
					log.Error("hl7: could not quarantine", "error", err)
				}
				continue
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err == io.EOF {
				return nil
			}
			return fmt.Errorf("hl7: reading: %w", err)
		}
		reply := s.handle(ctx, raw, now(), log)
		if reply == nil {
			continue
		}
		out, err := Encode(reply.segs, reply.d, reply.cs)
		if err != nil {
			log.Error("hl7: could not encode an acknowledgement", "error", err)
			continue
		}
		if err := mllp.Write(rw, out, f); err != nil {
			return fmt.Errorf("hl7: writing: %w", err)
		}
	}
}

// DefaultTypes are the message types (MSH-9.1^MSH-9.2) a Server accepts
// when Server.Types is nil: results, and the IHE work-order query, which
// is kept (no RSP is sent back).
var DefaultTypes = []string{"ORU^R01", "QBP^Q11"}

// checkHeader checks the MSH fields a message must fill and that its type
// is one the server takes.
func (s *Server) checkHeader(m *Message) error {
	msh := m.MSH()
	missing := func(n int, what string) error {
		return &Error{Segment: 1, Name: "MSH", Field: n, Offset: -1, Err: ErrMissing, Detail: what + " is empty"}
	}
	switch {
	case m.Type() == "":
		return missing(9, "MSH-9 message type")
	case m.Type() == "ACK":
		return &Error{Segment: 1, Name: "MSH", Field: 9, Offset: -1, Err: ErrType, Detail: "an acknowledgement sent to the receiver"}
	case m.Trigger() == "":
		return missing(9, "MSH-9.2 trigger event")
	case m.ControlID() == "":
		return missing(10, "MSH-10 message control id")
	case msh.Field(11).Component(1) == "":
		return missing(11, "MSH-11 processing id")
	case m.Version() == "":
		return missing(12, "MSH-12 version id")
	case !supportedVersion(m.Version()):
		return &Error{Segment: 1, Name: "MSH", Field: 12, Offset: -1, Err: ErrVersion, Detail: fmt.Sprintf("%q is not an HL7 v2 version", m.Version())}
	}
	types := s.Types
	if types == nil {
		types = DefaultTypes
	}
	typeKnown := false
	for _, t := range types {
		typ, trig, _ := strings.Cut(t, "^")
		if typ == m.Type() {
			typeKnown = true
			if trig == m.Trigger() {
				return nil
			}
		}
	}
	if typeKnown {
		return &Error{Segment: 1, Name: "MSH", Field: 9, Offset: -1, Err: ErrEvent, Detail: fmt.Sprintf("%s^%s (this receiver takes %s)", m.Type(), m.Trigger(), strings.Join(types, ", "))}
	}
	return &Error{Segment: 1, Name: "MSH", Field: 9, Offset: -1, Err: ErrType, Detail: fmt.Sprintf("%s^%s (this receiver takes %s)", m.Type(), m.Trigger(), strings.Join(types, ", "))}
}

// An answer is an acknowledgement to send, with what it is encoded in.
type answer struct {
	segs []Segment
	d    Delimiters
	cs   Charset
}

func (s *Server) answer(in *Message, code, text string, cause error, at time.Time) *answer {
	h := Header{SendingApp: s.App, SendingFacility: s.Facility, Time: at}
	return &answer{segs: NewAck(in, code, text, cause, h), d: in.Delimiters, cs: ackCharset(in)}
}

// handle decides what to do with one message (a frame's content, or one
// message of a batch) and returns its acknowledgement; nil means no
// acknowledgement may be sent (the message was not kept, or nobody can be
// addressed).
func (s *Server) handle(ctx context.Context, raw []byte, at time.Time, log *slog.Logger) *answer {
	m, err := Parse(raw, s.Options)
	if err == nil {
		err = s.checkHeader(m)
	}
	var oru *ORU
	if err == nil && m.Type() == "ORU" {
		oru, err = ParseORU(m)
	}
	if err != nil {
		rj := &Rejected{ID: chain.Sum(raw), Raw: raw, Size: int64(len(raw)), Received: at, Reason: err}
		log.Warn("hl7: rejected message", "id", rj.ID.String(), "reason", err.Error())
		if rerr := s.Handler.Reject(ctx, rj); rerr != nil {
			log.Error("hl7: could not quarantine; not acknowledging", "error", rerr)
			return nil
		}
		hdr := m
		if hdr == nil {
			hdr = readHeader(raw, s.Options)
		}
		if hdr == nil || hdr.Type() == "ACK" {
			return nil // nobody to address, or an acknowledgement (never acknowledged)
		}
		return s.answer(hdr, AR, err.Error(), err, at)
	}
	rc := &Received{Message: m, Received: at, Results: oru}
	if oru != nil {
		seen := map[string]bool{}
		for _, p := range oru.Patients {
			for _, g := range p.Orders {
				for _, ob := range g.Observations {
					known := false
					if s.Codes != nil {
						_, known = s.Codes.Analyte(ob.ID.Code)
					}
					if !known && !seen[ob.ID.Code] {
						seen[ob.ID.Code] = true
						rc.Unknown = append(rc.Unknown, ob.ID.Code)
					}
				}
			}
		}
	}
	err = s.Handler.Accept(ctx, rc)
	switch {
	case err == nil:
		return s.answer(m, AA, "", nil, at)
	case errors.Is(err, ErrRefused):
		log.Warn("hl7: message refused by the handler", "id", m.ID.String(), "error", err)
		return s.answer(m, AR, refusalText(err), err, at)
	}
	log.Error("hl7: message not kept", "id", m.ID.String(), "error", err)
	if s.OnFailure == SendNothing {
		return nil
	}
	return s.answer(m, AE, "message not stored; send it again", err, at)
}

// refusalText is the text of a refusal for MSA-3 and ERR-8.
func refusalText(err error) string {
	var rf *Refusal
	if errors.As(err, &rf) && err == error(rf) {
		return rf.Reason
	}
	return err.Error()
}

// A Client sends messages and waits for their acknowledgements, as an
// instrument (or a simulator) does.
type Client struct {
	rw      io.ReadWriter
	f       mllp.Framing
	r       *mllp.Reader
	Options Options
}

// NewClient returns a client over rw with framing f (zero: mllp.Standard).
func NewClient(rw io.ReadWriter, f mllp.Framing) *Client {
	if f.End == nil {
		f = mllp.Standard
	}
	return &Client{rw: rw, f: f, r: mllp.NewReader(rw, f, 0)}
}

type deadliner interface{ SetReadDeadline(time.Time) error }

// Send encodes and sends segs and returns the acknowledgement whose MSA-2
// names the message's control id. Other messages read while waiting are
// skipped. If the stream supports read deadlines, ctx's deadline bounds the
// wait.
func (c *Client) Send(ctx context.Context, segs []Segment, d Delimiters, cs Charset) (*Ack, error) {
	out, err := Encode(segs, d, cs)
	if err != nil {
		return nil, err
	}
	id := segs[0].Text(10)
	if err := mllp.Write(c.rw, out, c.f); err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		if rd, ok := c.rw.(deadliner); ok {
			_ = rd.SetReadDeadline(dl)
			defer rd.SetReadDeadline(time.Time{})
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		raw, err := c.r.ReadMessage()
		if err != nil {
			var fe *mllp.Error
			if errors.As(err, &fe) {
				continue
			}
			return nil, err
		}
		m, err := Parse(raw, c.Options)
		if err != nil {
			return nil, fmt.Errorf("hl7: acknowledgement does not parse: %w", err)
		}
		a, err := ParseAck(m)
		if err != nil || a.ControlID != id {
			continue
		}
		return a, nil
	}
}
