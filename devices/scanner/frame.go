package scanner

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// Control characters of the protocol (firmware-notes/barcode-scanner.md).
const (
	CR  = 0x0d // ends a line (alone, or followed by LF)
	LF  = 0x0a // ends a line (alone, or after CR)
	GS  = 0x1d // group separator: what the scanner sends for a GS1 FNC1
	ACK = 0x06 // host: line received (ACK/NAK mode)
	NAK = 0x15 // host: line damaged, send it again (ACK/NAK mode)
	SYN = 0x16 // starts a serial trigger command, SYN T CR or SYN U CR
)

// Trigger commands (Honeywell serial trigger mode).
var (
	TriggerOn  = []byte{SYN, 'T', CR} // activate: read the next barcode
	TriggerOff = []byte{SYN, 'U', CR} // deactivate
)

// MaxData is the longest barcode data read: a kit label's is at most 256
// characters (docs/samples.md §3, lab/sample.MaxScan).
const MaxData = 256

// MaxLine bounds a line's bytes: MaxData with room for a prefix and an AIM
// identifier.
const MaxLine = MaxData + 64

// Why a line is damaged. A damaged line is not a scan: it is never
// delivered, and in ACK/NAK mode it is NAKed.
var (
	// ErrNoise: a byte that no barcode sends (a control character other
	// than GS, or a byte above 0x7E) inside the line.
	ErrNoise = errors.New("scanner: line noise")
	// ErrOverlong: more than MaxLine bytes without a line end.
	ErrOverlong = errors.New("scanner: line too long")
	// ErrNoPrefix: a prefix is configured and the line lacks it.
	ErrNoPrefix = errors.New("scanner: line without the configured prefix")
)

// A Line is one line cut from the stream.
type Line struct {
	// Raw is the line as received, without its terminator and without any
	// bytes discarded before it (leading noise, the remains of a cut
	// line before a resynchronising prefix).
	Raw []byte
	// Data is Raw without the prefix: the barcode data as the scanner
	// formatted it (AIM identifier, GS separators).
	Data []byte
	// Bad is nil, or why the line is damaged (ErrNoise, ErrOverlong,
	// ErrNoPrefix, wrapped with detail).
	Bad error
}

// FrameStats counts what the Framer dropped.
type FrameStats struct {
	Lines    int // lines completed, damaged ones included
	Noise    int // bytes of leading noise dropped
	Partial  int // incomplete lines dropped (a gap, or a resynchronising prefix)
	Damaged  int // lines with noise inside or without the prefix
	Overlong int // lines longer than MaxLine
}

// Framer cuts a scanner's byte stream into lines. The zero value frames
// lines without a prefix and without gap detection. A Framer is not safe
// for concurrent use.
type Framer struct {
	// Prefix, if not empty, starts every line; a line is resynchronised at
	// the last occurrence of it, and a line without it is damaged.
	Prefix []byte
	// Gap: if more than Gap passes between two Feeds while a line is
	// incomplete, its bytes are dropped as a partial line. Zero: no gap
	// detection.
	Gap time.Duration

	buf      []byte
	last     time.Time
	overlong bool
	stats    FrameStats
}

// Stats returns the counters.
func (f *Framer) Stats() FrameStats { return f.stats }

// Pending reports whether an incomplete line is buffered.
func (f *Framer) Pending() bool { return len(f.buf) > 0 || f.overlong }

// Reset drops an incomplete line (counted as partial), as after the port
// was re-opened.
func (f *Framer) Reset() {
	if f.Pending() {
		f.stats.Partial++
	}
	f.buf, f.overlong = f.buf[:0], false
}

// noise reports whether b can be no part of a barcode line: kit labels are
// printable ASCII, with GS for FNC1.
func noise(b byte) bool { return (b < 0x20 && b != GS) || b > 0x7e }

// Feed adds bytes that arrived at now and returns the lines they completed,
// damaged ones included (with Bad set).
func (f *Framer) Feed(now time.Time, p []byte) []Line {
	var lines []Line
	if f.Gap > 0 && f.Pending() && now.Sub(f.last) > f.Gap {
		f.Reset()
	}
	f.last = now
	for _, b := range p {
		switch {
		case b == CR || b == LF:
			if f.overlong {
				f.overlong = false
				f.stats.Lines++
				f.stats.Overlong++
				lines = append(lines, Line{Bad: fmt.Errorf("%w: more than %d bytes", ErrOverlong, MaxLine)})
				continue
			}
			if len(f.buf) == 0 {
				continue // an empty line, or the LF of CR LF
			}
			lines = append(lines, f.finish())
		case f.overlong:
		case len(f.buf) == 0 && noise(b) && (len(f.Prefix) == 0 || b != f.Prefix[0]):
			f.stats.Noise++
		default:
			f.buf = append(f.buf, b)
			if len(f.buf) > MaxLine {
				f.buf, f.overlong = f.buf[:0], true
			}
		}
	}
	return lines
}

// finish turns the buffered bytes into a Line.
func (f *Framer) finish() Line {
	raw := bytes.Clone(f.buf)
	f.buf = f.buf[:0]
	f.stats.Lines++
	l := Line{Raw: raw, Data: raw}
	if len(f.Prefix) > 0 {
		i := bytes.LastIndex(raw, f.Prefix)
		if i < 0 {
			f.stats.Damaged++
			l.Bad = fmt.Errorf("%w %q", ErrNoPrefix, f.Prefix)
			return l
		}
		if i > 0 {
			// Whatever came before the last prefix is the remains of a
			// line the scanner never finished.
			f.stats.Partial++
			l.Raw = raw[i:]
		}
		l.Data = l.Raw[len(f.Prefix):]
	}
	for i, b := range l.Data {
		if noise(b) {
			f.stats.Damaged++
			l.Bad = fmt.Errorf("%w: byte %#02x at %d", ErrNoise, b, i)
			break
		}
	}
	return l
}
