package light

import (
	"errors"
	"fmt"
)

// Wire format constants; see firmware-notes/light-engine.md.
const (
	// MaxLine is the longest frame either side sends or accepts, counting
	// the terminating '\n' (and an optional '\r' before it).
	MaxLine = 64
	// NoSeq is Frame.Seq for the "??" sequence field, which a device uses
	// in an E01/E04 reply when it could not read the command's sequence
	// number.
	NoSeq = -1
)

// CRC16 is CRC-16/IBM-3740 (also known as CRC-16/CCITT-FALSE): polynomial
// x^16+x^12+x^5+1 (0x1021), initial value 0xFFFF, no reflection, no final
// XOR. Its check value (the CRC of "123456789") is 0x29B1. The bitwise form
// below is what the firmware runs; it needs no table.
func CRC16(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, c := range b {
		crc ^= uint16(c) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// Frame is one protocol line: a sequence number and space-separated words.
// For a command, Words[0] is the command (ID, VER, ST, B, F, L, ON, OFF) and
// the rest its arguments; for a reply, Words[0] is "OK" followed by KEY=VALUE
// fields, or an error code "Enn" followed by a mnemonic.
type Frame struct {
	Seq   int // 0–255, or NoSeq
	Words []string
}

// ErrFrame is wrapped by every FrameError.
var ErrFrame = errors.New("light: bad frame")

// FrameError says what is wrong with a frame and at which byte offset.
type FrameError struct {
	Offset   int    // byte offset in the line where the problem was found
	Reason   string // what is wrong
	Checksum bool   // the frame was well formed but its CRC did not match
}

func (e *FrameError) Error() string {
	return fmt.Sprintf("light: bad frame at byte %d: %s", e.Offset, e.Reason)
}

// Unwrap makes errors.Is(err, ErrFrame) hold.
func (e *FrameError) Unwrap() error { return ErrFrame }

// Append appends the encoded frame, including its CRC and the final '\n',
// to dst. Words must be non-empty printable ASCII without spaces or '*'; the
// caller (driver or simulator) only ever passes protocol tokens.
func (f Frame) Append(dst []byte) []byte {
	start := len(dst)
	if f.Seq == NoSeq {
		dst = append(dst, "??"...)
	} else {
		dst = append(dst, hexDigits[f.Seq>>4&0xF], hexDigits[f.Seq&0xF])
	}
	for _, w := range f.Words {
		dst = append(dst, ' ')
		dst = append(dst, w...)
	}
	crc := CRC16(dst[start:])
	return append(dst, '*', hexDigits[crc>>12], hexDigits[crc>>8&0xF], hexDigits[crc>>4&0xF], hexDigits[crc&0xF], '\n')
}

func (f Frame) String() string {
	b := f.Append(nil)
	return string(b[:len(b)-1])
}

const hexDigits = "0123456789ABCDEF"

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// ParseFrame decodes one line. A trailing "\n" or "\r\n" is allowed and
// ignored. On error the returned Frame still carries the sequence number if
// the first two bytes were a valid one (so that a device can address its E01
// reply), and NoSeq otherwise; the error is a *FrameError.
func ParseFrame(line []byte) (Frame, error) {
	f := Frame{Seq: NoSeq}
	if len(line) > MaxLine {
		return f, &FrameError{Offset: MaxLine, Reason: fmt.Sprintf("line is %d bytes, longer than %d", len(line), MaxLine)}
	}
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
	}
	bad := func(off int, format string, args ...any) (Frame, error) {
		return f, &FrameError{Offset: off, Reason: fmt.Sprintf(format, args...)}
	}
	if len(line) < 2 {
		return bad(0, "too short for a sequence number")
	}
	hi, ok1 := unhex(line[0])
	lo, ok2 := unhex(line[1])
	switch {
	case ok1 && ok2:
		f.Seq = int(hi<<4 | lo)
	case line[0] == '?' && line[1] == '?':
		f.Seq = NoSeq
	default:
		return bad(0, "sequence %q is not two upper-case hex digits or \"??\"", line[:2])
	}
	star := -1
	for i := 2; i < len(line); i++ {
		c := line[i]
		if c == '*' {
			star = i
			break
		}
		if c < 0x20 || c > 0x7e {
			return bad(i, "byte 0x%02X is not printable ASCII", c)
		}
	}
	if star < 0 {
		return bad(len(line), "no '*' before the checksum")
	}
	if len(line) != star+5 {
		return bad(star+1, "want exactly four hex digits after '*', have %q", line[star+1:])
	}
	var want uint16
	for _, c := range line[star+1:] {
		v, ok := unhex(c)
		if !ok {
			return bad(star+1, "checksum %q is not four upper-case hex digits", line[star+1:])
		}
		want = want<<4 | uint16(v)
	}
	if got := CRC16(line[:star]); want != got {
		return f, &FrameError{Offset: star + 1, Reason: fmt.Sprintf("checksum %04X, computed %04X", want, got), Checksum: true}
	}
	// Words: each preceded by exactly one space.
	i := 2
	for i < star {
		if line[i] != ' ' {
			return bad(i, "want a space before each word, have %q", line[i])
		}
		i++
		j := i
		for j < star && line[j] != ' ' {
			j++
		}
		if j == i {
			return bad(i, "empty word")
		}
		f.Words = append(f.Words, string(line[i:j]))
		i = j
	}
	if len(f.Words) == 0 {
		return bad(star, "no command or reply word")
	}
	return f, nil
}
