// Package mllp frames HL7 v2 messages with the Minimal Lower Layer Protocol:
//
//	<VT> message <FS><CR>        (0x0B … 0x1C 0x0D)
//
// Some vendors change the framing bytes, so they are a Framing value. Bytes
// between frames are reported, not silently skipped (except CR and LF, which
// some senders put after a frame), so that a port scanner's probe or a
// sender that lost sync shows up in the log. A frame cut short by a new
// start byte, by the end of the stream or by the size limit is reported with
// the bytes received. The wire format is described in
// firmware-notes/hl7-mllp.md.
package mllp

import (
	"bufio"
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

// A Reader reads framed messages.
type Reader struct {
	r    *bufio.Reader
	f    Framing
	max  int
	off  int64
	eof  bool
	back []byte // bytes to process again before reading more
}

// NewReader returns a reader of messages framed by f, none longer than max
// bytes (0: DefaultMax).
func NewReader(r io.Reader, f Framing, max int) *Reader {
	if max <= 0 {
		max = DefaultMax
	}
	return &Reader{r: bufio.NewReader(r), f: f, max: max}
}

func (r *Reader) byte() (byte, error) {
	if len(r.back) > 0 {
		c := r.back[0]
		r.back = r.back[1:]
		return c, nil
	}
	c, err := r.r.ReadByte()
	if err == nil {
		r.off++
	}
	return c, err
}

// ReadMessage returns the next message, without its framing. Framing
// problems are returned as *Error and reading can continue; any other error
// comes from the stream (io.EOF at a clean end).
func (r *Reader) ReadMessage() ([]byte, error) {
	if r.eof {
		return nil, io.EOF
	}
	// Outside a frame.
	var junk []byte
	junkAt := r.off
	for {
		c, err := r.byte()
		if err != nil {
			if len(junk) > 0 {
				r.eof = err == io.EOF
				return nil, &Error{Err: ErrJunk, Offset: junkAt, Data: junk}
			}
			return nil, err
		}
		if c == r.f.Start {
			if len(junk) > 0 {
				r.back = append([]byte{c}, r.back...)
				return nil, &Error{Err: ErrJunk, Offset: junkAt, Data: junk}
			}
			break
		}
		if c == '\r' || c == '\n' {
			continue
		}
		if len(junk) == 0 {
			junkAt = r.off - 1
		}
		if len(junk) < keep {
			junk = append(junk, c)
		}
	}
	// Inside a frame.
	start := r.off - 1
	var msg []byte
	size := 0
	for {
		c, err := r.byte()
		if err != nil {
			if err == io.EOF {
				r.eof = true
				return nil, &Error{Err: ErrTruncated, Offset: r.off, Data: capped(msg)}
			}
			return nil, err
		}
		switch {
		case c == r.f.Start:
			r.back = append([]byte{c}, r.back...)
			return nil, &Error{Err: ErrTruncated, Offset: r.off - 1, Data: capped(msg)}
		case c == r.f.End[0]:
			if len(r.f.End) == 2 {
				d, err := r.byte()
				if err != nil {
					if err == io.EOF {
						r.eof = true
						return nil, &Error{Err: ErrTruncated, Offset: r.off, Data: capped(msg)}
					}
					return nil, err
				}
				if d != r.f.End[1] {
					r.back = append([]byte{d}, r.back...)
					return nil, &Error{Err: ErrBadEnd, Offset: r.off - 1, Data: capped(msg)}
				}
			}
			if size > r.max {
				return nil, &Error{Err: ErrTooLarge, Offset: start, Data: capped(msg)}
			}
			return msg, nil
		default:
			size++
			if size <= r.max {
				msg = append(msg, c)
			}
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
