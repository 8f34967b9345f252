// Package mllp frames HL7 v2 messages with the Minimal Lower Layer Protocol:
//
//	<VT> message <FS><CR>        (0x0B … 0x1C 0x0D)
//
// Some vendors change the framing bytes, so they are a Framing value. Bytes
// between frames are reported, not silently skipped (except CR and LF, which
// some senders put after a frame), so that a port scanner's probe or a
// sender that lost sync shows up in the log. A frame cut short by a new
// start byte, by the end of the stream or by the size limit is reported with
// the bytes received. Scanner classifies a stream as it arrives, holding no
// bytes, for a caller that decides what to keep (lab/hl7's Server); Reader
// returns one message at a time. The wire format is described in
// firmware-notes/hl7-mllp.md.
package mllp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Framing is the start byte and end sequence of a block.
type Framing struct {
	Start byte
	End   []byte // 1 or 2 bytes
}

// Standard is the MLLP framing of HL7 v2: VT, then FS CR.
var Standard = Framing{Start: 0x0B, End: []byte{0x1C, 0x0D}}

// Validate checks the framing.
func (f Framing) Validate() error {
	if len(f.End) < 1 || len(f.End) > 2 {
		return fmt.Errorf("mllp: end sequence must be 1 or 2 bytes, not %d", len(f.End))
	}
	if f.Start == f.End[0] {
		return fmt.Errorf("mllp: start byte 0x%02X also begins the end sequence", f.Start)
	}
	if f.Start >= 0x20 && f.Start < 0x7F || f.End[0] >= 0x20 && f.End[0] < 0x7F {
		return fmt.Errorf("mllp: framing bytes must not be printable characters")
	}
	return nil
}

// DefaultMax is the default limit on a message's size.
const DefaultMax = 4 << 20

// Errors wrapped by *Error.
var (
	ErrJunk      = errors.New("bytes outside a frame")
	ErrTruncated = errors.New("frame cut short")
	ErrTooLarge  = errors.New("frame too large")
	ErrBadEnd    = errors.New("bad end sequence")
)

// An Error is a framing problem. The reader can go on after one.
type Error struct {
	Err    error
	Offset int64  // stream offset where the problem was found
	Data   []byte // the junk or partial frame (capped at 4 KiB)
}

func (e *Error) Error() string {
	return fmt.Sprintf("mllp: byte %d: %v (%d bytes kept)", e.Offset, e.Err, len(e.Data))
}

func (e *Error) Unwrap() error { return e.Err }

const keep = 4096

// A Reader reads framed messages, one at a time (a Scanner underneath).
type Reader struct {
	r   io.Reader
	s   *Scanner
	max int
	buf []byte
	evs []Event
	out []readResult // read but not yet returned
	err error        // the stream's error, returned once out is empty

	junk   []byte
	junkAt int64
	inJunk bool
	msg    []byte
	size   int
	start  int64
}

type readResult struct {
	msg []byte
	err error
}

// NewReader returns a reader of messages framed by f, none longer than max
// bytes (0: DefaultMax).
func NewReader(r io.Reader, f Framing, max int) *Reader {
	if max <= 0 {
		max = DefaultMax
	}
	return &Reader{r: r, s: NewScanner(f), max: max, buf: make([]byte, 4096)}
}

// ReadMessage returns the next message, without its framing. Framing
// problems are returned as *Error and reading can continue; any other error
// comes from the stream (io.EOF at a clean end).
func (r *Reader) ReadMessage() ([]byte, error) {
	for len(r.out) == 0 {
		if r.err != nil {
			return nil, r.err
		}
		n, err := r.r.Read(r.buf)
		if n > 0 {
			r.evs = r.s.Feed(r.buf[:n], r.evs[:0])
			r.take(r.evs)
		}
		if err != nil {
			if err == io.EOF {
				r.take(r.s.End(r.evs[:0]))
				r.flushJunk()
			}
			r.err = err
		}
	}
	res := r.out[0]
	r.out = r.out[1:]
	return res.msg, res.err
}

func (r *Reader) flushJunk() {
	if r.inJunk {
		r.out = append(r.out, readResult{err: &Error{Err: ErrJunk, Offset: r.junkAt, Data: r.junk}})
		r.junk, r.inJunk = nil, false
	}
}

func (r *Reader) take(evs []Event) {
	for _, e := range evs {
		switch e.Kind {
		case Junk:
			if !r.inJunk {
				r.inJunk, r.junkAt = true, e.Offset
			}
			if room := keep - len(r.junk); room > 0 {
				r.junk = append(r.junk, e.Data[:min(room, len(e.Data))]...)
			}
		case Open:
			r.flushJunk()
			r.msg, r.size, r.start = []byte{}, 0, e.Offset
		case Body:
			r.size += len(e.Data)
			if room := r.max - len(r.msg); room > 0 {
				r.msg = append(r.msg, e.Data[:min(room, len(e.Data))]...)
			}
		case Close:
			if r.size > r.max {
				r.out = append(r.out, readResult{err: &Error{Err: ErrTooLarge, Offset: r.start, Data: capped(r.msg)}})
			} else {
				r.out = append(r.out, readResult{msg: r.msg})
			}
			r.msg = nil
		case Broken:
			r.out = append(r.out, readResult{err: &Error{Err: e.Err, Offset: e.Offset, Data: capped(r.msg)}})
			r.msg = nil
		}
	}
}

func capped(b []byte) []byte {
	if len(b) > keep {
		return b[:keep]
	}
	return b
}

// Append appends msg framed by f to dst. It fails if msg holds a framing
// byte.
func Append(dst, msg []byte, f Framing) ([]byte, error) {
	if err := f.Validate(); err != nil {
		return dst, err
	}
	if i := bytes.IndexByte(msg, f.Start); i >= 0 {
		return dst, fmt.Errorf("mllp: message byte %d is the start byte 0x%02X", i, f.Start)
	}
	if i := bytes.IndexByte(msg, f.End[0]); i >= 0 {
		return dst, fmt.Errorf("mllp: message byte %d is the end byte 0x%02X", i, f.End[0])
	}
	dst = append(dst, f.Start)
	dst = append(dst, msg...)
	return append(dst, f.End...), nil
}

// Write writes msg framed by f in one Write call.
func Write(w io.Writer, msg []byte, f Framing) error {
	b, err := Append(nil, msg, f)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
