package hl7

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/lab/charset"
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

// Rejected is input that could not be accepted, for quarantine: a message
// that did not parse or was refused (its bytes exactly as received inside
// the frame, or in its batch), a frame that began as a message but was cut
// short, too slow or too large, or a burst of junk (see JunkError).
type Rejected struct {
	ID       chain.Hash // SHA-256 of the body
	Raw      []byte     // the body, when held in memory; nil when it was spooled to disk (read Body)
	Size     int64      // the body's length
	Received time.Time
	Reason   error // *Error, *FrameError or *JunkError

	spool *spool
	lost  bool // the body could not be spooled: it cannot be quarantined
}

// Body reads the body: Raw, or the spool file of an over-size frame. A
// spooled body is valid only during the Handler.Reject call; the file is
// removed after it.
func (r *Rejected) Body() io.Reader {
	if r.spool != nil {
		return r.spool.body()
	}
	return bytes.NewReader(r.Raw)
}

// A Handler takes what a Server receives. The contract is that of
// lab/astm.Handler: Accept returning nil promises the message is durably
// kept, and only then is it acknowledged AA; Accept must be idempotent by
// Identity, because a sender that missed the ACK sends the message again
// (perhaps with a new MSH-7). Accept returning an error that wraps
// ErrRefused says the handler has kept the message in quarantine and
// refuses it for good: it is answered AR. Any other error is answered AE.
// Reject returning nil promises the input is durably kept.
type Handler interface {
	Accept(ctx context.Context, m *Received) error
	Reject(ctx context.Context, r *Rejected) error
}

// A CodeMap turns instrument codes (OBX-3.1) into panel analytes
// (lab/testcode.Map is one).
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

// Defaults of the Server's limits.
const (
	DefaultMessageTimeout = time.Minute
	DefaultJunkQuiet      = 2 * time.Second
	DefaultJunkMax        = 64 << 10
	DefaultSpoolMax       = 256 << 20
)

// A Server receives messages over one connection and acknowledges each
// only after its Handler has kept it (firmware-notes/hl7-mllp.md has the
// full table):
//
//   - a message that parses, has the MSH fields it needs and is of a type
//     the server takes, and is accepted: AA;
//   - Handler.Accept fails: AE (or nothing, per OnFailure); it refuses
//     (ErrRefused): AR;
//   - any other message whose MSH can be read: handed to Handler.Reject
//     with its bytes and the reason, then AR with an ERR saying where and
//     why; if Reject fails, no acknowledgement at all;
//   - a batch (FHS/BHS … BTS/FTS): each message as above, answered by one
//     batch of acknowledgements;
//   - a message frame over MaxSize: spooled to disk as it arrives, handed
//     to Reject, then AR if its MSH can be read;
//   - a message frame cut short, or not complete within MessageTimeout:
//     handed to Reject, not answered;
//   - junk (bytes outside frames, frames that do not begin as a message):
//     one Reject per burst (see JunkError), never answered.
type Server struct {
	Handler   Handler
	Framing   mllp.Framing // zero: mllp.Standard
	Options   Options      // parsing options (default charset)
	Codes     CodeMap
	App       string // MSH-3 of our ACKs when the message's MSH-5 is empty
	Facility  string // MSH-4 of our ACKs when the message's MSH-6 is empty
	OnFailure OnFailure
	// MaxSize is the largest message (frame content) accepted, and the most
	// of one frame held in memory; 0: mllp.DefaultMax.
	MaxSize int
	// Spool is the directory where frames over MaxSize are kept while they
	// arrive; "": os.TempDir(). SpoolMax bounds what is kept of one frame
	// (0: DefaultSpoolMax); past it the bytes are only counted and hashed.
	Spool    string
	SpoolMax int64
	// MessageTimeout bounds how long a message frame may take to arrive,
	// from its start byte to its end; 0: DefaultMessageTimeout.
	MessageTimeout time.Duration
	// JunkQuiet ends a burst of junk after that long without a byte
	// (0: DefaultJunkQuiet); JunkMax is how much of a burst is kept
	// (0: DefaultJunkMax).
	JunkQuiet time.Duration
	JunkMax   int
	// Types are the message types (MSH-9.1^MSH-9.2) accepted; nil:
	// DefaultTypes. Others are quarantined and answered AR (200, or 201 for
	// a known type with another trigger).
	Types  []string
	Clock  clock.Clock      // nil: clock.System; times MessageTimeout and JunkQuiet
	Now    func() time.Time // nil: Clock.Now; stamps Received
	Logger *slog.Logger     // nil: slog.Default()

	step func(fed int64) // tests: told, whenever ServeConn waits, how many bytes it has taken in
}

type chunk struct {
	data []byte
	err  error
}

// timer is one of ServeConn's deadlines.
type timer struct {
	t  clock.Timer
	at time.Time
}

func (t *timer) set(clk clock.Clock, at time.Time, on bool) {
	if !on {
		if t.t != nil {
			t.t.Stop()
			t.t = nil
		}
		return
	}
	if t.t != nil && t.at.Equal(at) {
		return
	}
	if t.t != nil {
		t.t.Stop()
	}
	t.t, t.at = clk.NewTimer(at.Sub(clk.Now())), at
}

func (t *timer) c() <-chan time.Time {
	if t.t == nil {
		return nil
	}
	return t.t.C()
}

// ServeConn serves one connection until the stream ends, fails, or ctx
// ends. If rw is an io.Closer it is closed when ctx ends, to unblock reads.
// It returns nil when the peer closes the connection cleanly. Whatever is
// pending when it returns (a burst of junk, a frame cut short) is handed to
// Handler.Reject first.
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
	clk := s.Clock
	if clk == nil {
		clk = clock.System
	}
	now := s.Now
	if now == nil {
		now = clk.Now
	}
	maxSize := s.MaxSize
	if maxSize <= 0 {
		maxSize = mllp.DefaultMax
	}
	spoolMax, timeout, quiet, junkMax := s.SpoolMax, s.MessageTimeout, s.JunkQuiet, s.JunkMax
	if spoolMax <= 0 {
		spoolMax = DefaultSpoolMax
	}
	spoolMax = max(spoolMax, int64(maxSize))
	if timeout <= 0 {
		timeout = DefaultMessageTimeout
	}
	if quiet <= 0 {
		quiet = DefaultJunkQuiet
	}
	if junkMax <= 0 {
		junkMax = DefaultJunkMax
	}
	if c, ok := rw.(io.Closer); ok {
		stop := context.AfterFunc(ctx, func() { c.Close() })
		defer stop()
	}
	in := newIntake(f, maxSize, junkMax, spoolMax, s.Spool, timeout)
	defer in.discard()

	chunks := make(chan chunk)
	done := make(chan struct{})
	defer close(done)
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := rw.Read(buf)
			c := chunk{data: append([]byte(nil), buf[:n]...), err: err}
			select {
			case chunks <- c:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()

	var msgTimer, quietTimer timer
	defer msgTimer.set(clk, time.Time{}, false)
	defer quietTimer.set(clk, time.Time{}, false)
	lastByte := clk.Now()
	for {
		dl, open := in.deadline()
		msgTimer.set(clk, dl, open)
		quietTimer.set(clk, lastByte.Add(quiet), in.burstOpen())
		if s.step != nil {
			s.step(in.sc.Offset())
		}
		var units []unit
		var rerr error
		select {
		case <-ctx.Done():
			s.process(ctx, rw, f, in.end("the end of the connection", now()), log)
			return ctx.Err()
		case c := <-chunks:
			if len(c.data) > 0 {
				lastByte = clk.Now()
				units = in.feed(c.data, now())
			}
			rerr = c.err
		case <-msgTimer.c():
			msgTimer.t = nil
			units = in.expire(clk.Now())
			if len(units) > 0 {
				log.Warn("hl7: a message frame took too long; quarantining what arrived", "timeout", timeout)
			}
		case <-quietTimer.c():
			quietTimer.t = nil
			units = in.quiet(quiet)
		}
		if err := s.process(ctx, rw, f, units, log); err != nil {
			return err
		}
		if rerr != nil {
			if err := s.process(ctx, rw, f, in.end("the end of the connection", now()), log); err != nil && rerr == io.EOF {
				return err
			}
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case rerr == io.EOF:
				return nil
			}
			return fmt.Errorf("hl7: reading: %w", rerr)
		}
	}
}

// process handles what the intake found, in order, writing the
// acknowledgements.
func (s *Server) process(ctx context.Context, w io.Writer, f mllp.Framing, units []unit, log *slog.Logger) error {
	for i := range units {
		u := &units[i]
		out := s.unit(ctx, u, log)
		u.release()
		if out == nil {
			continue
		}
		if err := mllp.Write(w, out, f); err != nil {
			for j := i + 1; j < len(units); j++ {
				units[j].release()
			}
			return fmt.Errorf("hl7: writing: %w", err)
		}
	}
	return nil
}

// unit handles one unit and returns the reply to write, if any.
func (s *Server) unit(ctx context.Context, u *unit, log *slog.Logger) []byte {
	if u.msg != nil {
		var a []*answer
		if isBatch(u.msg) {
			return s.batch(ctx, u.msg, u.at, log)
		}
		if r, _ := s.handle(ctx, u.msg, u.at, log); r != nil {
			a = append(a, r)
		}
		return encodeAnswers(a, log)
	}
	rj := u.rej
	if rj.lost {
		log.Error("hl7: a frame could not be kept; not acknowledging", "reason", rj.Reason.Error())
		return nil
	}
	log.Warn("hl7: quarantining input", "id", rj.ID.String(), "size", rj.Size, "reason", rj.Reason.Error())
	if err := s.Handler.Reject(ctx, rj); err != nil {
		log.Error("hl7: could not quarantine; not acknowledging", "error", err)
		return nil
	}
	if u.head == nil {
		return nil
	}
	hdr := readHeader(u.head, s.Options)
	if hdr == nil || hdr.Type() == "ACK" {
		return nil
	}
	hdr.ID = rj.ID
	return encodeAnswers([]*answer{s.answer(hdr, AR, rj.Reason.Error(), rj.Reason, u.at)}, log)
}

// encodeAnswers encodes acknowledgements, one after the other.
func encodeAnswers(as []*answer, log *slog.Logger) []byte {
	var out []byte
	for _, a := range as {
		b, err := Encode(a.segs, a.d, a.cs)
		if err != nil {
			log.Error("hl7: could not encode an acknowledgement", "error", err)
			return nil
		}
		out = append(out, b...)
	}
	return out
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
	cs   charset.Charset
}

func (s *Server) answer(in *Message, code, text string, cause error, at time.Time) *answer {
	h := Header{SendingApp: s.App, SendingFacility: s.Facility, Time: at}
	return &answer{segs: NewAck(in, code, text, cause, h), d: in.Delimiters, cs: ackCharset(in)}
}

// handle decides what to do with one message (a frame's content, or one
// message of a batch) and returns its acknowledgement (nil when nobody can
// be addressed) and false if no reply at all may be sent for it: the
// message was not kept and the sender must time out and send it again.
func (s *Server) handle(ctx context.Context, raw []byte, at time.Time, log *slog.Logger) (*answer, bool) {
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
			return nil, false
		}
		hdr := m
		if hdr == nil {
			hdr = readHeader(raw, s.Options)
		}
		if hdr == nil || hdr.Type() == "ACK" {
			return nil, true // nobody to address, or an acknowledgement (never acknowledged)
		}
		return s.answer(hdr, AR, err.Error(), err, at), true
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
		return s.answer(m, AA, "", nil, at), true
	case errors.Is(err, ErrRefused):
		log.Warn("hl7: message refused by the handler", "id", m.ID.String(), "error", err)
		return s.answer(m, AR, refusalText(err), err, at), true
	}
	log.Error("hl7: message not kept", "id", m.ID.String(), "error", err)
	if s.OnFailure == SendNothing {
		return nil, false
	}
	return s.answer(m, AE, "message not stored; send it again", err, at), true
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
func (c *Client) Send(ctx context.Context, segs []Segment, d Delimiters, cs charset.Charset) (*Ack, error) {
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

// isBatch reports whether a frame's content is a batch.
func isBatch(b []byte) bool {
	b = bytes.TrimLeft(b, "\r\n")
	return bytes.HasPrefix(b, []byte("FHS")) || bytes.HasPrefix(b, []byte("BHS"))
}
