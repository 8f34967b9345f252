// Package frame encodes and decodes the frames of the ASTM E1381 / CLSI LIS1-A
// low-level protocol, the layer under the ASTM E1394 / CLSI LIS2-A2 records.
//
// A frame is
//
//	STX FN text (ETB|ETX) C1 C2 CR LF
//
// where FN is the frame number '0'–'7' (the first frame of a transfer is '1',
// and the number wraps from 7 to 0), text is at most 240 bytes (E1381) or
// 63,993 bytes (LIS1-A) — this side sends at most the first and accepts up
// to the second unless told otherwise, because many instruments send a whole
// message in one frame of several kB — ETB ends an intermediate frame and ETX the last frame
// of a message, and C1 C2 are the checksum: the sum of the bytes from FN through
// ETB/ETX inclusive, modulo 256, written as two upper-case hexadecimal digits.
// For example, the frame
//
//	<STX>7L|1|N<CR><ETX>0A<CR><LF>
//
// from a Roche cobas c111 capture has checksum 55+76+124+49+124+78+13+3 = 522,
// and 522 mod 256 = 10 = 0x0A.
//
// Real instruments leave parts out: the Beckman AU series sends STX text ETX
// with neither frame number nor checksum. Options describes which parts a
// dialect uses; its zero value is the standard.
//
// The package is pure: Append and Parse work on byte slices, and Scanner turns
// an arbitrary stream of bytes, delivered in any chunks, into tokens (control
// characters, frames, bad frames and noise) for the link layer in
// lab/astm/link. Split cuts a message's records into frame texts according to
// a Packing. The wire format is specified in firmware-notes/astm-lis2a2.md.
package frame

import (
	"errors"
	"fmt"
)

// Control characters of E1381.
const (
	STX = 0x02 // start of text: begins a frame
	ETX = 0x03 // end of text: ends the last frame of a message
	EOT = 0x04 // end of transmission: ends a transfer; from a receiver, an interrupt request
	ENQ = 0x05 // enquiry: asks for the line
	ACK = 0x06 // acknowledge
	LF  = 0x0A // line feed: last byte of a frame
	CR  = 0x0D // carriage return: ends a record, and precedes LF in the frame trailer
	NAK = 0x15 // negative acknowledge: refusal, or "busy" in reply to ENQ
	ETB = 0x17 // end of transmission block: ends an intermediate frame
)

// Text limits.
const (
	// MaxTextE1381 is the E1381 limit on the text of one frame: 247 bytes
	// per frame less the 7 bytes of framing.
	MaxTextE1381 = 240
	// MaxTextLIS1A is the CLSI LIS1-A limit: 64,000 bytes per frame less 7.
	MaxTextLIS1A = 63993
)

// Options says which parts of the standard frame a dialect uses. The zero
// value is the standard: E1381's 240-byte text limit for frames this side
// sends, LIS1-A's 63,993 bytes for frames it receives.
type Options struct {
	NoFrameNumbers bool // no FN byte after STX (Beckman AU)
	NoChecksum     bool // no C1 C2 after ETB/ETX (Beckman AU)
	NoTrailer      bool // no CR LF at the end of the frame
	// MaxText is the most text bytes per frame this side sends (Append,
	// Split); 0 means MaxTextE1381.
	MaxText int
	// MaxReceive is the most text bytes per frame this side accepts
	// (Scanner, Parse); 0 means MaxTextLIS1A. A dialect may tighten it.
	MaxReceive int
}

// Max returns the effective limit on text sent.
func (o Options) Max() int {
	if o.MaxText <= 0 {
		return MaxTextE1381
	}
	return o.MaxText
}

// ReceiveMax returns the effective limit on text received.
func (o Options) ReceiveMax() int {
	if o.MaxReceive <= 0 {
		return MaxTextLIS1A
	}
	return o.MaxReceive
}

// Validate reports whether the options are usable.
func (o Options) Validate() error {
	if o.MaxText < 0 || o.MaxText > MaxTextLIS1A {
		return fmt.Errorf("frame: text limit %d out of range 1..%d", o.MaxText, MaxTextLIS1A)
	}
	if o.MaxReceive < 0 || o.MaxReceive > MaxTextLIS1A {
		return fmt.Errorf("frame: receive text limit %d out of range 1..%d", o.MaxReceive, MaxTextLIS1A)
	}
	return nil
}

// A Frame is one decoded frame.
type Frame struct {
	// Number is the frame number 0–7. It is -1 in frames parsed under
	// Options.NoFrameNumbers and ignored when encoding under them.
	Number int
	// Text is the frame text: record bytes, with CR ending each record.
	Text []byte
	// Last is true for a frame ending ETX (the last frame of a message) and
	// false for one ending ETB (an intermediate frame).
	Last bool
}

// Errors wrapped by *Error.
var (
	ErrChecksum    = errors.New("checksum mismatch")
	ErrFrameNumber = errors.New("bad frame number")
	ErrTooLong     = errors.New("text too long")
	ErrRestricted  = errors.New("restricted character in text")
	ErrTrailer     = errors.New("bad frame trailer")
	ErrIncomplete  = errors.New("incomplete frame")
	ErrInterrupted = errors.New("control character inside a frame")
	ErrSyntax      = errors.New("not a frame")
)

// An Error describes a frame that does not decode. Offset counts bytes from
// the frame's STX.
type Error struct {
	Offset int
	Err    error  // one of the Err* values above
	Detail string // what was found, for people
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("astm frame: byte %d: %v", e.Offset, e.Err)
	}
	return fmt.Sprintf("astm frame: byte %d: %v: %s", e.Offset, e.Err, e.Detail)
}

func (e *Error) Unwrap() error { return e.Err }

// Checksum returns the E1381 checksum of b: the sum of its bytes modulo 256.
// b must run from the frame number through ETB or ETX inclusive.
func Checksum(b []byte) byte {
	var s byte
	for _, c := range b {
		s += c
	}
	return s
}

// Restricted reports whether c may not appear in frame text. LIS1-A restricts
// SOH, STX, ETX, EOT, ENQ, ACK, DLE, NAK, SYN, ETB, LF and DC1–DC4; CR is
// allowed because it ends records.
func Restricted(c byte) bool {
	switch c {
	case 0x01, STX, ETX, EOT, ENQ, ACK, 0x10, NAK, 0x16, ETB, LF, 0x11, 0x12, 0x13, 0x14:
		return true
	}
	return false
}

const hexDigits = "0123456789ABCDEF"

// Append appends the encoded frame f to dst. It fails, appending nothing, if
// the text is too long or holds a restricted character, or if the frame
// number is out of range.
func Append(dst []byte, f Frame, o Options) ([]byte, error) {
	if len(f.Text) > o.Max() {
		return dst, &Error{Offset: 1 + len(f.Text), Err: ErrTooLong, Detail: fmt.Sprintf("%d bytes, limit %d", len(f.Text), o.Max())}
	}
	for i, c := range f.Text {
		if Restricted(c) {
			return dst, &Error{Offset: 2 + i, Err: ErrRestricted, Detail: fmt.Sprintf("0x%02X", c)}
		}
	}
	if !o.NoFrameNumbers && (f.Number < 0 || f.Number > 7) {
		return dst, &Error{Offset: 1, Err: ErrFrameNumber, Detail: fmt.Sprintf("%d is not 0..7", f.Number)}
	}
	dst = append(dst, STX)
	start := len(dst)
	if !o.NoFrameNumbers {
		dst = append(dst, '0'+byte(f.Number))
	}
	dst = append(dst, f.Text...)
	if f.Last {
		dst = append(dst, ETX)
	} else {
		dst = append(dst, ETB)
	}
	if !o.NoChecksum {
		c := Checksum(dst[start:])
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0xF])
	}
	if !o.NoTrailer {
		dst = append(dst, CR, LF)
	}
	return dst, nil
}

// Parse decodes b, which must hold exactly one frame from STX to the end of
// its trailer, under the receive limit. Lower-case checksum digits are
// accepted.
func Parse(b []byte, o Options) (Frame, error) {
	if len(b) == 0 || b[0] != STX {
		return Frame{}, &Error{Offset: 0, Err: ErrSyntax, Detail: "does not start with STX"}
	}
	s := NewScanner(o)
	toks := s.Feed(b, nil)
	if len(toks) == 0 {
		return Frame{}, &Error{Offset: len(b), Err: ErrIncomplete, Detail: "ends before the frame does"}
	}
	t := toks[0]
	switch t.Kind {
	case KindBadFrame:
		return Frame{}, t.Err
	case KindFrame:
		if t.Size != len(b) {
			return Frame{}, &Error{Offset: t.Size, Err: ErrSyntax, Detail: fmt.Sprintf("%d bytes after the frame", len(b)-t.Size)}
		}
		return t.Frame, nil
	}
	// The frame was abandoned part-way (an STX inside it).
	return Frame{}, &Error{Offset: len(t.Raw), Err: ErrIncomplete, Detail: fmt.Sprintf("interrupted by 0x%02X", b[min(t.Size, len(b)-1)])}
}
