// Package link runs the ASTM E1381 / CLSI LIS1-A low-level protocol: the
// ENQ/ACK/NAK/EOT exchange that carries frames (lab/astm/frame) between a
// clinical instrument and a host (LIS).
//
// A transfer goes
//
//	sender:   ENQ        frame 1       frame 2 …     EOT
//	receiver:      ACK           ACK           ACK
//
// The link is an explicit state machine (see Table and FormatTable; the
// table is printed in firmware-notes/astm-lis2a2.md) over any byte stream
// (a serial port, a pseudo-terminal, a TCP connection) and an injected
// clock (internal/clock): the link never sleeps, every wait is a timer of
// its Clock, so tests drive time with a clock.Fake. It plays both roles — host and instrument differ only in line
// contention, which the instrument wins — and both directions: Send
// transfers a message, and frames received from the other side go to a
// Receiver.
//
// Timers follow E1381: 15 s for a reply to ENQ or a frame; 30 s between
// frames when receiving, after which the partial message is discarded; 10 s
// after a NAK to ENQ ("busy"); on contention the instrument waits 1 s before
// its next ENQ and the host waits up to 20 s for it; 15 s hold after
// honouring a receiver interrupt. A frame refused six times aborts the
// message with EOT. A receiver may answer a frame with EOT instead of ACK to
// ask the sender to stop (receiver interrupt); the frame counts as accepted.
//
// ACK and NAK carry no number, so the link keeps to one answer per request
// on both sides: a reply read before our ENQ or frame went out is stale and
// ignored, the sender holds the line after a timeout, the receiver withholds
// an answer later than the sender's reply timer and does not answer an ENQ
// repeated before frame 1 (firmware-notes/astm-lis2a2.md says why).
//
// The durability guarantee rests on one rule: the Receiver sees each new
// frame before it is acknowledged, and if Receiver.Frame returns an error
// the frame is answered NAK, so the sender sends it again. The layer above
// (lab/astm) uses that to store a complete message before the ACK of its
// last frame leaves.
//
// No refusal is silent: every NAK this side sends as receiver (or withholds
// as too late) is reported to Config.OnNAK with the frame number, the
// reason and the frame's byte offset in the stream, and a transfer that
// ends while its last frame stands refused — the sender gave up on it —
// ends with a reason wrapping ErrAbandoned.
package link

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/lab/astm/frame"
)

// A Stream is the byte stream the link runs over.
type Stream interface {
	io.Reader
	io.Writer
}

// A Receiver takes the frames of transfers from the other side.
type Receiver interface {
	// Frame is called with each new frame, in order, before the frame is
	// acknowledged. If it returns an error the frame is answered NAK and
	// the Receiver must behave as if it had never seen it: the sender will
	// send the same frame again. It should return well within the sender's
	// 15 s reply timer.
	Frame(ctx context.Context, f frame.Frame) error
	// End is called when a transfer ends: err is nil after EOT, or says why
	// the transfer was abandoned (ErrReceiveTimeout, ErrRestarted, or the
	// link stopping). If the last frame the sender sent was refused (NAK)
	// and not sent again successfully, err wraps ErrAbandoned, saying which
	// frame, how often and why (with EOT it is then not nil). Frames since
	// the last complete message are then incomplete.
	End(ctx context.Context, err error)
}

// Timers are the protocol's waits. Zero fields take the E1381 values.
type Timers struct {
	Reply                time.Duration // sender waits for a reply to ENQ or a frame: 15 s
	Receive              time.Duration // receiver waits for a frame or EOT: 30 s
	Busy                 time.Duration // sender waits after NAK to ENQ: 10 s
	HostContention       time.Duration // host waits for the instrument's ENQ after contention: 20 s
	InstrumentContention time.Duration // instrument waits before its next ENQ after contention: 1 s
	InterruptHold        time.Duration // sender leaves the line after honouring an interrupt: 15 s
}

// DefaultTimers returns the E1381 timer values.
func DefaultTimers() Timers {
	return Timers{Reply: 15 * time.Second, Receive: 30 * time.Second, Busy: 10 * time.Second,
		HostContention: 20 * time.Second, InstrumentContention: time.Second, InterruptHold: 15 * time.Second}
}

func (t Timers) withDefaults() Timers {
	d := DefaultTimers()
	for _, p := range []struct{ v, d *time.Duration }{
		{&t.Reply, &d.Reply}, {&t.Receive, &d.Receive}, {&t.Busy, &d.Busy},
		{&t.HostContention, &d.HostContention}, {&t.InstrumentContention, &d.InstrumentContention},
		{&t.InterruptHold, &d.InterruptHold},
	} {
		if *p.v <= 0 {
			*p.v = *p.d
		}
	}
	return t
}

// MaxAttempts is the E1381 limit on sends of one frame: after the sixth
// refusal the sender aborts the message.
const MaxAttempts = 6

// Config configures a Link.
type Config struct {
	Role     Role          // Host or Instrument; required
	Frame    frame.Options // the dialect's frame shape
	Receiver Receiver      // required
	Clock    clock.Clock   // nil: clock.System
	Timers   Timers
	// MaxAttempts overrides the number of sends of one frame before the
	// message is aborted; 0 means MaxAttempts.
	MaxAttempts int
	// Busy, if set, is asked when an ENQ arrives; true answers NAK.
	Busy func() bool
	// Interrupt makes the link, as receiver, answer a frame with EOT
	// instead of ACK when a send of its own is waiting (once per transfer).
	Interrupt bool
	// IgnoreInterrupts makes the link, as sender, treat an EOT reply to a
	// frame as a plain ACK and carry on, as E1381 allows.
	IgnoreInterrupts bool
	// Trace, if set, is called for every transition, from the link's
	// goroutine.
	Trace func(Step)
	// OnNAK, if set, is told of every NAK this side sends as receiver, or
	// withholds because it is late, from the link's goroutine.
	OnNAK func(NAK)
}

// A NAK is a refusal this side gave as receiver: a frame answered NAK, or
// an ENQ answered NAK because Config.Busy said so.
type NAK struct {
	Time  time.Time
	Event Event // EvFrameBad, EvFrameRefused or EvENQBusy
	// Frame is the refused frame's number as read; -1 for an ENQ, a dialect
	// without frame numbers, or a number that could not be read.
	Frame int
	// Offset is where the refused frame (or ENQ) begins in the stream, in
	// bytes read since Run started.
	Offset int64
	// Attempt counts the refusals in a row in this transfer, since the
	// last frame accepted (1 for the first). E1381 senders give up after
	// the sixth.
	Attempt int
	// Reason is why: a *frame.Error (damaged or too long), an error
	// wrapping ErrOutOfSequence, the Receiver's error (EvFrameRefused), or
	// ErrBusy.
	Reason error
	// Withheld: the NAK was due later than the sender's reply timer and was
	// not sent (see "One answer per request").
	Withheld bool
}

// A Step is one transition, for tracing.
type Step struct {
	Time   time.Time
	From   State
	Event  Event
	To     State
	Action string
	Detail string // e.g. the frame number, or why a frame was bad
}

func (s Step) String() string {
	d := ""
	if s.Detail != "" {
		d = " (" + s.Detail + ")"
	}
	return fmt.Sprintf("%s --%s%s--> %s: %s", s.From, s.Event, d, s.To, s.Action)
}

// Errors.
var (
	ErrNoReply        = errors.New("astm link: no reply within the reply timer")
	ErrRefused        = errors.New("astm link: frame refused on every attempt")
	ErrInterrupted    = errors.New("astm link: receiver interrupted the message")
	ErrReceiveTimeout = errors.New("astm link: no frame within the receive timer")
	ErrRestarted      = errors.New("astm link: sender restarted the transfer")
	ErrClosed         = errors.New("astm link: stopped")
	// ErrAbandoned: the transfer ended while the last frame the sender
	// sent stood refused; the sender gave up on it.
	ErrAbandoned = errors.New("astm link: sender abandoned the transfer on a refused frame")
	// ErrOutOfSequence: a valid frame whose number is neither the one
	// expected nor a repeat of the last frame accepted.
	ErrOutOfSequence = errors.New("astm link: frame out of sequence")
	// ErrBusy: an ENQ answered NAK because Config.Busy said so.
	ErrBusy     = errors.New("astm link: busy")
	ErrRunning  = errors.New("astm link: already running")
	ErrNoFrames = errors.New("astm link: nothing to send")
)

type request struct {
	frames []frame.Frame
	done   chan error
}

// A Link runs the protocol over one stream.
type Link struct {
	cfg   Config
	rw    Stream
	clk   clock.Clock
	tm    Timers
	max   int
	reqs  chan *request
	cancl chan *request
	stop  chan struct{}
	once  sync.Once
	run   sync.Mutex

	// Owned by the Run goroutine.
	ctx      context.Context
	state    State
	timer    clock.Timer
	timerC   <-chan time.Time
	queue    []*request
	cur      *request
	idx      int // index of the frame being sent
	fn       int // its number
	attempts int
	expect   int
	last     frame.Frame
	haveLast bool
	intr     bool // interrupt requested in this transfer
	detail   string
	arrived  time.Time // when the token being handled was read
	offset   int64     // where it began in the stream
	event    Event     // the event whose action runs
	nakFN    int       // the number of the frame (or -1) about to be answered NAK
	nakWhy   error     // and why
	refusals int       // NAKs in a row in this transfer since the last accepted frame
	lastNAK  NAK
	sentAt   time.Time // when our last ENQ or frame began to go out
	enqAt    time.Time // when the ENQ we last answered ACK was read
	werr     error
	wbuf     []byte
}

// New returns a link over rw. Run must be called to start it.
func New(rw Stream, cfg Config) (*Link, error) {
	if cfg.Role != Host && cfg.Role != Instrument {
		return nil, fmt.Errorf("astm link: role must be Host or Instrument")
	}
	if cfg.Receiver == nil {
		return nil, fmt.Errorf("astm link: no Receiver")
	}
	if err := cfg.Frame.Validate(); err != nil {
		return nil, err
	}
	l := &Link{cfg: cfg, rw: rw, clk: cfg.Clock, tm: cfg.Timers.withDefaults(), max: cfg.MaxAttempts,
		reqs: make(chan *request), cancl: make(chan *request, 16), stop: make(chan struct{}), nakFN: -1}
	if l.clk == nil {
		l.clk = clock.System
	}
	if l.max <= 0 {
		l.max = MaxAttempts
	}
	return l, nil
}

// Send transfers one message, already cut into frames (frame.Split), and
// returns when the receiver has acknowledged the last frame and EOT has been
// sent, or the transfer failed (ErrNoReply, ErrRefused, ErrInterrupted,
// ErrClosed or the context's error). Frame numbers are assigned here. A
// message waits its turn behind earlier ones and behind transfers from the
// other side. If ctx ends mid-transfer the link sends EOT.
func (l *Link) Send(ctx context.Context, frames []frame.Frame) error {
	if len(frames) == 0 {
		return ErrNoFrames
	}
	for i, f := range frames {
		f.Number = 0
		if _, err := frame.Append(nil, f, l.cfg.Frame); err != nil {
			return fmt.Errorf("astm link: frame %d of %d: %w", i+1, len(frames), err)
		}
	}
	r := &request{frames: frames, done: make(chan error, 1)}
	select {
	case l.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-l.stop:
		return ErrClosed
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		select {
		case l.cancl <- r:
		case <-l.stop:
			return ErrClosed
		}
		select {
		case err := <-r.done:
			return err
		case <-l.stop:
			return ErrClosed
		}
	}
}

// Run runs the link until ctx ends or the stream fails, and returns why.
// The goroutine reading the stream ends when the stream's Read returns:
// close the stream after Run returns to release it. If Run stops while this
// side is sending, it sends EOT first, leaving the other side neutral.
func (l *Link) Run(ctx context.Context) error {
	if !l.run.TryLock() {
		return ErrRunning
	}
	defer l.run.Unlock()
	select {
	case <-l.stop:
		return ErrClosed
	default:
	}
	l.ctx = ctx
	toks := make(chan token, 64)
	rerr := make(chan error, 1)
	done := make(chan struct{})
	defer close(done)
	go l.read(toks, rerr, done)

	for {
		var err error
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case t := <-toks:
			l.arrived, l.offset = t.at, t.off
			l.onToken(t.Token)
		case <-l.timerC:
			l.timerC = nil
			l.fire(EvTimeout)
		case r := <-l.reqs:
			l.queue = append(l.queue, r)
			l.fire(EvSend) // starts it when idle; otherwise it waits

		case r := <-l.cancl:
			l.onCancel(r)
		case e := <-rerr:
			// Handle what was read before the error.
			for drained := false; !drained; {
				select {
				case t := <-toks:
					l.arrived, l.offset = t.at, t.off
					l.onToken(t.Token)
				default:
					drained = true
				}
			}
			err = fmt.Errorf("astm link: reading: %w", e)
		}
		if err == nil && l.werr != nil {
			err = fmt.Errorf("astm link: writing: %w", l.werr)
		}
		if err != nil {
			l.shutdown(err)
			return err
		}
	}
}

// A token is what the reader found, with the time it was read and its
// offset in the stream.
type token struct {
	frame.Token
	at  time.Time
	off int64
}

func (l *Link) read(toks chan<- token, rerr chan<- error, done <-chan struct{}) {
	sc := frame.NewScanner(l.cfg.Frame)
	buf := make([]byte, 4096)
	var ts []frame.Token
	var off int64
	for {
		n, err := l.rw.Read(buf)
		if n > 0 {
			at := l.clk.Now()
			ts = sc.Feed(buf[:n], ts[:0])
			for _, t := range ts {
				select {
				case toks <- token{t, at, off}:
				case <-done:
					return
				}
				off += int64(t.Size)
			}
		}
		if err != nil {
			select {
			case rerr <- err:
			case <-done:
			}
			return
		}
	}
}

// shutdown leaves the line neutral and fails every waiting send.
func (l *Link) shutdown(cause error) {
	l.once.Do(func() { close(l.stop) })
	l.stopTimer()
	switch l.state {
	case Establishing, Sending:
		if l.werr == nil {
			l.write(frame.EOT)
		}
	case Receiving:
		l.cfg.Receiver.End(context.WithoutCancel(l.ctx), l.abandoned(fmt.Errorf("%w: %w", ErrClosed, cause)))
	}
	err := fmt.Errorf("%w: %w", ErrClosed, cause)
	if l.cur != nil {
		l.cur.done <- err
		l.cur = nil
	}
	for _, r := range l.queue {
		r.done <- err
	}
	l.queue = nil
	l.state = Idle
}

func (l *Link) onCancel(r *request) {
	if r == l.cur {
		switch l.state {
		case Establishing, Sending, BusyWait, Contention:
			l.fire(EvCancel)
		default: // waiting behind a transfer from the other side
			l.cur = nil
			r.done <- context.Canceled
		}
		return
	}
	for i, q := range l.queue {
		if q == r {
			l.queue = append(l.queue[:i], l.queue[i+1:]...)
			r.done <- context.Canceled
			return
		}
	}
	// Already finished: its result is in r.done.
}

// fire runs the transition for e, if any.
func (l *Link) fire(e Event) {
	t, ok := find(l.state, e, l.cfg.Role)
	detail := l.detail
	l.detail = ""
	if !ok {
		if l.cfg.Trace != nil && e != EvOther {
			action := "ignored"
			if e == EvSend {
				action = "queued until the line is free"
			}
			l.cfg.Trace(Step{Time: l.clk.Now(), From: l.state, Event: e, To: l.state, Action: action, Detail: detail})
		}
		return
	}
	from := l.state
	l.state, l.event = t.To, e
	t.do(l)
	if l.detail != "" { // the action had something to add
		detail = strings.TrimPrefix(detail+"; "+l.detail, "; ")
		l.detail = ""
	}
	if l.cfg.Trace != nil {
		l.cfg.Trace(Step{Time: l.clk.Now(), From: from, Event: e, To: t.To, Action: t.Action, Detail: detail})
	}
	// Entering Idle with a message waiting starts it.
	if l.state == Idle && l.pending() && l.werr == nil {
		l.fire(EvSend)
	}
}

// onToken classifies a token in the current state and fires the event.
func (l *Link) onToken(t frame.Token) {
	sending := l.state == Sending
	if (sending || l.state == Establishing && t.Kind != frame.KindENQ) && l.arrived.Before(l.sentAt) {
		l.detail = fmt.Sprintf("%v read %v before our last send", t.Kind, l.sentAt.Sub(l.arrived))
		l.fire(EvStale)
		return
	}
	switch t.Kind {
	case frame.KindENQ:
		if sending {
			l.fire(l.nakEvent("ENQ in reply"))
			return
		}
		if l.state == Receiving && !l.haveLast && l.arrived.Sub(l.enqAt) < l.tm.Busy {
			l.detail = fmt.Sprintf("%v after our ACK", l.arrived.Sub(l.enqAt))
			l.fire(EvENQNoise)
			return
		}
		if l.cfg.Busy != nil && l.cfg.Busy() {
			l.nakFN, l.nakWhy = -1, ErrBusy
			l.fire(EvENQBusy)
		} else {
			l.fire(EvENQ)
		}
	case frame.KindACK:
		if sending && l.idx == len(l.cur.frames)-1 {
			l.fire(EvACKLast)
		} else {
			l.fire(EvACK)
		}
	case frame.KindNAK:
		if sending {
			l.fire(l.nakEvent(""))
		} else {
			l.fire(EvNAK)
		}
	case frame.KindEOT:
		switch {
		case !sending:
			l.fire(EvEOT)
		case l.cfg.IgnoreInterrupts && l.idx == len(l.cur.frames)-1:
			l.detail = "interrupt ignored"
			l.fire(EvACKLast)
		case l.cfg.IgnoreInterrupts:
			l.detail = "interrupt ignored"
			l.fire(EvACK)
		default:
			l.fire(EvInterrupt)
		}
	case frame.KindFrame:
		switch {
		case sending:
			l.fire(l.nakEvent("frame in reply"))
		case l.state == Receiving:
			l.fire(l.classifyFrame(t.Frame))
		default:
			l.fire(EvOther)
		}
	case frame.KindBadFrame:
		switch {
		case sending:
			l.fire(l.nakEvent("bad frame in reply"))
		case l.state == Receiving:
			l.detail = t.Err.Error()
			l.nakFN, l.nakWhy = t.Frame.Number, t.Err
			l.fire(EvFrameBad)
		default:
			l.fire(EvOther)
		}
	default: // noise
		if sending {
			l.fire(l.nakEvent(fmt.Sprintf("%q in reply", t.Raw)))
		} else {
			l.fire(EvOther)
		}
	}
}

// pending reports whether a message of ours waits to be sent.
func (l *Link) pending() bool { return l.cur != nil || len(l.queue) > 0 }

func (l *Link) nakEvent(why string) Event {
	l.detail = why
	if l.attempts >= l.max {
		return EvNAKLimit
	}
	return EvNAK
}

// classifyFrame checks a valid frame's number and, if it is new, hands it
// to the Receiver before the event is chosen.
func (l *Link) classifyFrame(f frame.Frame) Event {
	fnOn := !l.cfg.Frame.NoFrameNumbers
	if fnOn && f.Number != l.expect {
		if l.haveLast && f.Number == l.last.Number && f.Last == l.last.Last && bytes.Equal(f.Text, l.last.Text) {
			l.detail = fmt.Sprintf("frame %d again", f.Number)
			return EvFrameRepeat
		}
		l.detail = fmt.Sprintf("frame number %d, expected %d", f.Number, l.expect)
		l.nakFN, l.nakWhy = f.Number, fmt.Errorf("%w: %s", ErrOutOfSequence, l.detail)
		return EvFrameBad
	}
	if err := l.cfg.Receiver.Frame(l.ctx, f); err != nil {
		l.detail = err.Error()
		l.nakFN, l.nakWhy = f.Number, err
		return EvFrameRefused
	}
	l.last = frame.Frame{Number: f.Number, Text: append([]byte(nil), f.Text...), Last: f.Last}
	l.haveLast = true
	if fnOn {
		l.detail = fmt.Sprintf("frame %d", f.Number)
		l.expect = (f.Number + 1) % 8
	}
	if l.cfg.Interrupt && !l.intr && l.pending() {
		return EvFrameInterrupt
	}
	return EvFrame
}

// --- actions ---

func (l *Link) write(b ...byte) {
	if l.werr != nil {
		return
	}
	if _, err := l.rw.Write(b); err != nil {
		l.werr = err
	}
}

func (l *Link) startTimer(d time.Duration) {
	l.stopTimer()
	l.timer = l.clk.NewTimer(d)
	l.timerC = l.timer.C()
}

func (l *Link) stopTimer() {
	if l.timer != nil {
		l.timer.Stop()
		l.timer, l.timerC = nil, nil
	}
}

func (l *Link) noop() { l.stopTimer() }

// ignore does nothing: the state and its timer stay as they are.
func (l *Link) ignore() {}

func (l *Link) sendENQ() {
	if l.cur == nil {
		l.cur, l.queue = l.queue[0], l.queue[1:]
	}
	l.sentAt = l.clk.Now()
	l.write(frame.ENQ)
	l.startTimer(l.tm.Reply)
}

func (l *Link) acceptENQ() {
	l.enqAt = l.arrived
	l.write(frame.ACK)
	l.expect, l.haveLast, l.intr, l.refusals = 1, false, false, 0
	l.startTimer(l.tm.Receive)
}

func (l *Link) refuseENQ() {
	l.write(frame.NAK)
	l.report(EvENQBusy, true)
}

// report tells Config.OnNAK of the NAK just given for the token being
// handled. Frame NAKs count towards the transfer's refusals.
func (l *Link) report(e Event, sent bool) {
	n := NAK{Time: l.clk.Now(), Event: e, Frame: l.nakFN, Offset: l.offset, Reason: l.nakWhy, Withheld: !sent}
	if e != EvENQBusy {
		l.refusals++
		n.Attempt = l.refusals
		l.lastNAK = n
	}
	l.nakFN, l.nakWhy = -1, nil
	if l.cfg.OnNAK != nil {
		l.cfg.OnNAK(n)
	}
}

// abandoned returns the reason a transfer ends with: cause, wrapped in
// ErrAbandoned if the last frame the sender sent stands refused.
func (l *Link) abandoned(cause error) error {
	n := l.refusals
	l.refusals = 0
	if n == 0 {
		return cause
	}
	last := l.lastNAK
	which := "a frame"
	if last.Frame >= 0 {
		which = fmt.Sprintf("frame %d", last.Frame)
	}
	err := fmt.Errorf("%w: %s was refused %d time(s) in a row, last at byte %d because %w", ErrAbandoned, which, n, last.Offset, last.Reason)
	if cause == nil {
		return err
	}
	return fmt.Errorf("%w: %w", cause, err)
}

func (l *Link) sendFrame() {
	f := l.cur.frames[l.idx]
	f.Number = l.fn
	var err error
	l.wbuf, err = frame.Append(l.wbuf[:0], f, l.cfg.Frame)
	if err != nil { // checked in Send; cannot happen
		l.werr = err
		return
	}
	l.sentAt = l.clk.Now()
	l.write(l.wbuf...)
	l.startTimer(l.tm.Reply)
}

func (l *Link) sendFirst() {
	l.idx, l.fn, l.attempts = 0, 1, 1
	l.sendFrame()
}

func (l *Link) sendNext() {
	l.idx++
	l.fn = (l.fn + 1) % 8
	l.attempts = 1
	l.sendFrame()
}

func (l *Link) resend() {
	l.attempts++
	l.sendFrame()
}

func (l *Link) busyWait() { l.startTimer(l.tm.Busy) }

func (l *Link) contend() {
	if l.cfg.Role == Instrument {
		l.startTimer(l.tm.InstrumentContention)
	} else {
		l.startTimer(l.tm.HostContention)
	}
}

func (l *Link) done(err error) {
	l.stopTimer()
	if l.cur != nil {
		l.cur.done <- err
		l.cur = nil
	}
}

func (l *Link) finish() {
	l.write(frame.EOT)
	l.done(l.werr)
}

func (l *Link) abortNoReply() {
	l.write(frame.EOT)
	l.done(ErrNoReply)
	l.startTimer(l.tm.Reply)
}

func (l *Link) abortCancelled() {
	l.write(frame.EOT)
	l.done(context.Canceled)
}

func (l *Link) dropCancelled() { l.done(context.Canceled) }

func (l *Link) abortNAKs() {
	l.write(frame.EOT)
	l.done(fmt.Errorf("%w: frame %d (%d of %d) refused %d times", ErrRefused, l.fn, l.idx+1, len(l.cur.frames), l.attempts))
}

func (l *Link) honourInterrupt() {
	l.write(frame.EOT)
	var err error
	if l.idx < len(l.cur.frames)-1 {
		err = fmt.Errorf("%w after frame %d of %d", ErrInterrupted, l.idx+1, len(l.cur.frames))
	}
	l.done(err)
	l.startTimer(l.tm.InterruptHold)
}

// reply answers the frame being handled, unless the answer would be later
// than the sender's reply timer (the same 15 s on both sides): by then the
// sender has given up and sent EOT, and a late ACK or NAK would be read as
// the answer to its next ENQ or frame, putting the two sides out of step —
// the sender could then take its last frame for acknowledged when it was
// not. Withholding is safe: the sender sends the message again, and a
// message kept before is recognised by its id.
func (l *Link) reply(b byte) bool {
	if late := l.clk.Now().Sub(l.arrived); !l.arrived.IsZero() && late >= l.tm.Reply {
		l.detail = fmt.Sprintf("reply withheld: the frame was handled %v after it arrived, past the sender's reply timer", late)
		return false
	}
	l.write(b)
	return true
}

func (l *Link) ackFrame() {
	l.reply(frame.ACK)
	l.refusals = 0
	l.startTimer(l.tm.Receive)
}

func (l *Link) interruptFrame() {
	l.intr = true
	l.reply(frame.EOT)
	l.refusals = 0
	l.startTimer(l.tm.Receive)
}

func (l *Link) nakFrame() {
	sent := l.reply(frame.NAK)
	l.startTimer(l.tm.Receive)
	l.report(l.event, sent)
}

func (l *Link) ackRepeat() { l.ackFrame() }

func (l *Link) endTransfer() {
	l.stopTimer()
	l.cfg.Receiver.End(l.ctx, l.abandoned(nil))
}

func (l *Link) restartTransfer() {
	l.cfg.Receiver.End(l.ctx, l.abandoned(ErrRestarted))
	l.acceptENQ()
}

func (l *Link) restartBusy() {
	l.stopTimer()
	l.cfg.Receiver.End(l.ctx, l.abandoned(ErrRestarted))
	l.write(frame.NAK)
	l.report(EvENQBusy, true)
}

func (l *Link) receiveTimeout() {
	l.stopTimer()
	l.cfg.Receiver.End(l.ctx, l.abandoned(ErrReceiveTimeout))
}
