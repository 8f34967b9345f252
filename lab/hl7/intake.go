package hl7

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/lab/hl7/mllp"
)

// ErrSlow: a message frame was not complete within Server.MessageTimeout
// of its start byte.
var ErrSlow = errors.New("message not complete in time")

// A FrameError is why a frame that began as a message (with MSH, FHS or
// BHS) was quarantined instead of handled.
type FrameError struct {
	Err    error // mllp.ErrTruncated, mllp.ErrBadEnd, mllp.ErrTooLarge or ErrSlow
	Offset int64 // stream offset of the frame's start byte
	Size   int64 // bytes received inside the frame
	Kept   int64 // bytes kept (the quarantined body): fewer than Size only past Server.SpoolMax
	Sum    chain.Hash
	Detail string
}

func (e *FrameError) Error() string {
	s := fmt.Sprintf("mllp: byte %d: %v: a message frame: %s", e.Offset, e.Err, e.Detail)
	if e.Kept < e.Size {
		s += fmt.Sprintf("; the first %d of its %d bytes are kept (SHA-256 of all: %s)", e.Kept, e.Size, e.Sum)
	}
	return s
}

func (e *FrameError) Unwrap() error { return e.Err }

// A JunkError is why a burst of bytes that held no message was
// quarantined. A burst is every byte from the first one that is not part
// of a message frame (and not CR or LF between frames) up to the start
// byte of the next frame that begins as a message, a quiet period
// (Server.JunkQuiet without a byte), or the end of the connection; frames
// that do not begin with MSH, FHS or BHS are part of it, framing bytes
// included. Only its first Server.JunkMax bytes are kept.
type JunkError struct {
	Offset int64      // stream offset of the burst's first byte
	Size   int64      // bytes in the burst
	Kept   int64      // bytes kept (the quarantined body)
	Sum    chain.Hash // SHA-256 of all Size bytes
	Frames int        // frames begun in the burst
	First  string     // the first problem in it
	Ended  string     // what ended it
}

func (e *JunkError) Error() string {
	s := fmt.Sprintf("mllp: byte %d: %v: a burst of %d bytes (%d frames begun), first %s; ended by %s",
		e.Offset, mllp.ErrJunk, e.Size, e.Frames, e.First, e.Ended)
	if e.Kept < e.Size {
		s += fmt.Sprintf("; the first %d bytes are kept (SHA-256 of all: %s)", e.Kept, e.Sum)
	}
	return s
}

func (e *JunkError) Unwrap() error { return mllp.ErrJunk }

// A spool holds a frame's bytes: in memory up to mem bytes, then in a
// temporary file, up to max bytes kept; past that it only counts and
// hashes them.
type spool struct {
	dir   string
	mem   int
	max   int64
	buf   []byte
	head  []byte // the first bytes, kept when the rest goes to the file
	f     *os.File
	kept  int64
	total int64
	hKept hash.Hash // of the kept bytes, once spilled to the file
	hAll  hash.Hash // of all bytes, once spilled
	err   error
}

const headMax = 64 << 10

func (s *spool) write(p []byte) {
	s.total += int64(len(p))
	if s.f == nil && s.err == nil {
		room := s.mem - len(s.buf)
		if len(p) <= room {
			s.buf = append(s.buf, p...)
			s.kept += int64(len(p))
			return
		}
		// Memory is filled first, so that the head is the frame's start.
		s.buf = append(s.buf, p[:room]...)
		s.kept += int64(room)
		p = p[room:]
		s.spill()
	}
	if s.hAll != nil {
		s.hAll.Write(p)
	}
	room := s.max - s.kept
	if room <= 0 {
		return
	}
	if int64(len(p)) > room {
		p = p[:room]
	}
	s.kept += int64(len(p))
	if s.err != nil {
		return
	}
	s.hKept.Write(p)
	if _, err := s.f.Write(p); err != nil {
		s.err = err
	}
}

// spill moves the bytes held in memory to a temporary file.
func (s *spool) spill() {
	s.hKept, s.hAll = sha256.New(), sha256.New()
	s.hKept.Write(s.buf)
	s.hAll.Write(s.buf)
	s.head = append([]byte(nil), s.buf[:min(len(s.buf), headMax)]...)
	f, err := os.CreateTemp(s.dir, "exhibit-hl7-spool-*")
	if err != nil {
		s.err = err
		return
	}
	s.f = f
	if _, err := f.Write(s.buf); err != nil {
		s.err = err
	}
	s.buf = nil
}

func (s *spool) spilled() bool { return s.f != nil || s.err != nil }

// remove deletes the spool file, if any.
func (s *spool) remove() {
	if s.f != nil {
		name := s.f.Name()
		s.f.Close()
		os.Remove(name)
		s.f = nil
	}
}

// A unit is what the intake found: a message frame to handle, or something
// to quarantine.
type unit struct {
	msg  []byte    // the content of a complete message frame within MaxSize
	rej  *Rejected // something to quarantine
	head []byte    // for a rejected over-size frame: its first bytes, to address an AR
	at   time.Time
}

// release removes a unit's spool file.
func (u *unit) release() {
	if u.rej != nil && u.rej.spool != nil {
		u.rej.spool.remove()
	}
}

type frameState uint8

const (
	noFrame   frameState = iota
	pending              // a frame began; too few bytes yet to tell what it is
	message              // a frame that began with MSH, FHS or BHS
	junkFrame            // any other frame: part of the burst
)

// maxLead is how many CR or LF bytes may come between a start byte and
// the MSH (FHS, BHS) of a message frame.
const maxLead = 8

// An intake turns the bytes of a connection into units. It is a plain
// state machine: the Server feeds it the bytes read and tells it when a
// deadline has passed.
type intake struct {
	sc       *mllp.Scanner
	evs      []mllp.Event
	maxSize  int
	junkMax  int
	spoolMax int64
	spoolDir string
	timeout  time.Duration

	state  frameState
	prefix []byte // pending: the start byte and what followed it
	openAt time.Time
	openOf int64
	frame  *spool // message

	burst *burst
	out   []unit
}

type burst struct {
	data   []byte
	size   int64
	h      hash.Hash
	at     time.Time
	offset int64
	first  string
	frames int
}

func newIntake(f mllp.Framing, maxSize, junkMax int, spoolMax int64, spoolDir string, timeout time.Duration) *intake {
	return &intake{sc: mllp.NewScanner(f), maxSize: maxSize, junkMax: junkMax, spoolMax: spoolMax, spoolDir: spoolDir, timeout: timeout}
}

// feed takes bytes read at now.
func (in *intake) feed(p []byte, now time.Time) []unit {
	in.evs = in.sc.Feed(p, in.evs[:0])
	for _, e := range in.evs {
		in.event(e, now)
	}
	return in.take()
}

func (in *intake) take() []unit {
	out := in.out
	in.out = nil
	return out
}

// junk adds bytes to the burst, opening one if need be.
func (in *intake) junk(b []byte, offset int64, problem string, now time.Time) {
	if len(b) == 0 {
		return
	}
	if in.burst == nil {
		in.burst = &burst{h: sha256.New(), at: now, offset: offset, first: problem}
	}
	bu := in.burst
	bu.h.Write(b)
	bu.size += int64(len(b))
	if room := in.junkMax - len(bu.data); room > 0 {
		bu.data = append(bu.data, b[:min(room, len(b))]...)
	}
}

// flushBurst quarantines the burst, if any.
func (in *intake) flushBurst(why string) {
	bu := in.burst
	if bu == nil {
		return
	}
	in.burst = nil
	var sum chain.Hash
	bu.h.Sum(sum[:0])
	reason := &JunkError{Offset: bu.offset, Size: bu.size, Kept: int64(len(bu.data)), Sum: sum, Frames: bu.frames, First: bu.first, Ended: why}
	in.out = append(in.out, unit{at: bu.at, rej: &Rejected{ID: chain.Sum(bu.data), Raw: bu.data, Size: int64(len(bu.data)), Received: bu.at, Reason: reason}})
}

func (in *intake) event(e mllp.Event, now time.Time) {
	switch e.Kind {
	case mllp.Gap:
		if in.burst != nil {
			in.junk(e.Data, e.Offset, "", now)
		}
	case mllp.Junk:
		in.junk(e.Data, e.Offset, fmt.Sprintf("bytes outside a frame at stream byte %d: %s", e.Offset, quoted(e.Data)), now)
	case mllp.Open:
		in.state, in.prefix, in.openAt, in.openOf = pending, append(in.prefix[:0], e.Data...), now, e.Offset
	case mllp.Body:
		switch in.state {
		case pending:
			in.prefix = append(in.prefix, e.Data...)
			in.classify(now)
		case message:
			in.frame.write(e.Data)
		case junkFrame:
			in.junk(e.Data, e.Offset, "", now)
		}
	case mllp.Close:
		switch in.state {
		case pending:
			in.junkPrefix("a frame that does not begin with MSH, FHS or BHS", now)
			in.junk(e.Data, e.Offset, "", now)
		case message:
			in.completeFrame(now)
		case junkFrame:
			in.junk(e.Data, e.Offset, "", now)
		}
		in.state = noFrame
	case mllp.Broken:
		switch in.state {
		case pending:
			in.junkPrefix(fmt.Sprintf("a frame cut short at stream byte %d (%v)", e.Offset, e.Err), now)
			in.junk(e.Data, e.Offset, "", now)
		case message:
			in.cutFrame(e.Err, fmt.Sprintf("cut short at stream byte %d", e.Offset), now)
			in.junk(e.Data, e.Offset, "", now)
		case junkFrame:
			in.junk(e.Data, e.Offset, "", now)
		}
		in.state = noFrame
	}
}

// classify decides what a pending frame is once enough of it has arrived.
func (in *intake) classify(now time.Time) {
	content := in.prefix[1:]
	lead := 0
	for lead < len(content) && (content[lead] == '\r' || content[lead] == '\n') {
		lead++
	}
	if lead > maxLead {
		in.junkPrefix("a frame that does not begin with MSH, FHS or BHS", now)
		in.state = junkFrame
		return
	}
	if len(content)-lead < 3 {
		return
	}
	switch string(content[lead : lead+3]) {
	case "MSH", "FHS", "BHS":
		in.flushBurst("a message frame")
		in.state = message
		in.frame = &spool{dir: in.spoolDir, mem: in.maxSize, max: in.spoolMax}
		in.frame.write(content)
	default:
		in.junkPrefix("a frame that does not begin with MSH, FHS or BHS", now)
		in.state = junkFrame
	}
}

// junkPrefix moves a pending frame's bytes to the burst.
func (in *intake) junkPrefix(problem string, now time.Time) {
	if in.burst == nil {
		in.junk(in.prefix, in.openOf, fmt.Sprintf("%s at stream byte %d: %s", problem, in.openOf, quoted(in.prefix)), now)
	} else {
		in.junk(in.prefix, in.openOf, "", now)
	}
	in.burst.frames++
	in.prefix = in.prefix[:0]
}

// completeFrame hands on a message frame that ended well.
func (in *intake) completeFrame(now time.Time) {
	fr := in.frame
	in.frame = nil
	if !fr.spilled() {
		in.out = append(in.out, unit{msg: fr.buf, at: now})
		return
	}
	u := in.quarantine(fr, mllp.ErrTooLarge, fmt.Sprintf("%d bytes, over the size limit of %d bytes", fr.total, in.maxSize), now)
	u.head = fr.head // a complete frame: its sender waits for an answer
}

// cutFrame quarantines a message frame that did not end well.
func (in *intake) cutFrame(cause error, detail string, now time.Time) {
	fr := in.frame
	in.frame = nil
	in.quarantine(fr, cause, detail, now)
}

// quarantine adds a unit quarantining a message frame and returns it.
func (in *intake) quarantine(fr *spool, cause error, detail string, now time.Time) *unit {
	reason := &FrameError{Err: cause, Offset: in.openOf, Size: fr.total, Kept: fr.kept, Detail: detail}
	rj := &Rejected{Received: now, Reason: reason, Size: fr.kept}
	u := unit{at: now, rej: rj}
	switch {
	case !fr.spilled():
		rj.Raw, rj.ID = fr.buf, chain.Sum(fr.buf)
		reason.Sum = rj.ID
	case fr.err != nil:
		// The spool could not be written: nothing can be quarantined.
		fr.remove()
		rj.Reason = fmt.Errorf("%w (and it could not be spooled: %v)", reason, fr.err)
		rj.lost = true
	default:
		fr.hKept.Sum(rj.ID[:0])
		fr.hAll.Sum(reason.Sum[:0])
		rj.spool = fr
	}
	in.out = append(in.out, u)
	return &in.out[len(in.out)-1]
}

// deadline returns when the message frame in progress must be complete.
func (in *intake) deadline() (time.Time, bool) {
	if in.state == pending || in.state == message {
		return in.openAt.Add(in.timeout), true
	}
	return time.Time{}, false
}

// expire gives up on the message frame in progress if its deadline has
// passed: the partial frame is quarantined and what follows is outside a
// frame.
func (in *intake) expire(now time.Time) []unit {
	dl, ok := in.deadline()
	if !ok || now.Before(dl) {
		return nil
	}
	detail := fmt.Sprintf("not complete %v after its start byte", in.timeout)
	switch in.state {
	case pending:
		in.junkPrefix(fmt.Sprintf("a frame %s", detail), now)
	case message:
		in.cutFrame(ErrSlow, detail, now)
	}
	in.state = noFrame
	in.sc.Reset()
	return in.take()
}

// burstOpen reports whether junk is waiting to be quarantined.
func (in *intake) burstOpen() bool { return in.burst != nil }

// quiet quarantines the burst after a quiet period.
func (in *intake) quiet(d time.Duration) []unit {
	in.flushBurst(fmt.Sprintf("%v without a byte", d))
	return in.take()
}

// end is the end of the connection: a frame in progress is cut short and
// the burst quarantined.
func (in *intake) end(why string, now time.Time) []unit {
	for _, e := range in.sc.End(in.evs[:0]) {
		in.event(e, now)
	}
	in.flushBurst(why)
	return in.take()
}

// discard drops a frame in progress (its spool file too).
func (in *intake) discard() {
	if in.frame != nil {
		in.frame.remove()
		in.frame = nil
	}
}

// body returns a reader of a spooled frame's kept bytes.
func (s *spool) body() io.Reader {
	if s.f == nil {
		return bytes.NewReader(nil)
	}
	return io.NewSectionReader(s.f, 0, s.kept)
}
