package mllp

// An EventKind classifies a piece of the stream.
type EventKind uint8

// Event kinds.
const (
	Junk   EventKind = iota + 1 // bytes outside a frame other than CR and LF
	Gap                         // CR and LF outside a frame
	Open                        // a start byte: a frame begins
	Body                        // bytes inside a frame
	Close                       // the end sequence: the frame is complete
	Broken                      // the frame ended without its end sequence; Err says how
)

func (k EventKind) String() string {
	switch k {
	case Junk:
		return "junk"
	case Gap:
		return "gap"
	case Open:
		return "open"
	case Body:
		return "body"
	case Close:
		return "close"
	case Broken:
		return "broken"
	}
	return "EventKind(?)"
}

// An Event is one piece of the stream.
type Event struct {
	Kind EventKind
	// Data are the event's bytes: for Open the start byte, for Close the
	// end sequence, for Broken with ErrBadEnd the first end byte (the byte
	// after it is reported again, outside the frame), for Broken with
	// ErrTruncated nothing. Data aliases the slice given to Feed (or the
	// Framing) and is valid until the next call.
	Data   []byte
	Err    error // Broken: ErrTruncated (a new start byte, or the end of the stream) or ErrBadEnd
	Offset int64 // stream offset of the event's first byte (Broken: of the byte that broke the frame)
}

// A Scanner classifies a byte stream into frames and what lies between
// them, as it arrives: it holds no bytes, so a caller decides how much of a
// frame to keep and where (lab/hl7's Server spools over-size frames to
// disk). Reader is the pull-style reader built on it.
type Scanner struct {
	f    Framing
	in   bool  // inside a frame
	end0 bool  // inside a frame, the first of two end bytes was the last byte seen
	off  int64 // stream offset of the next byte
}

// NewScanner returns a scanner for framing f (which must be valid).
func NewScanner(f Framing) *Scanner { return &Scanner{f: f} }

// InFrame reports whether the bytes so far end inside a frame.
func (s *Scanner) InFrame() bool { return s.in }

// Offset returns the stream offset of the next byte.
func (s *Scanner) Offset() int64 { return s.off }

// Reset leaves the frame in progress, if any: the bytes that follow are
// outside a frame until the next start byte. (A server gives up on a frame
// that takes too long this way.)
func (s *Scanner) Reset() { s.in, s.end0 = false, false }

// Feed classifies p, the next bytes of the stream, appending the events to
// dst.
func (s *Scanner) Feed(p []byte, dst []Event) []Event {
	start, kind := 0, EventKind(0)
	flush := func(i int) {
		if kind != 0 && i > start {
			dst = append(dst, Event{Kind: kind, Data: p[start:i], Offset: s.off + int64(start)})
		}
		kind = 0
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		at := s.off + int64(i)
		if s.end0 {
			s.end0 = false
			flush(i)
			start = i + 1
			if c == s.f.End[1] {
				dst = append(dst, Event{Kind: Close, Data: s.f.End, Offset: at - 1})
				s.in = false
				continue
			}
			dst = append(dst, Event{Kind: Broken, Err: ErrBadEnd, Data: s.f.End[:1], Offset: at})
			s.in = false
			// c is read again, outside the frame.
		}
		var k EventKind
		switch {
		case c == s.f.Start:
			flush(i)
			if s.in {
				dst = append(dst, Event{Kind: Broken, Err: ErrTruncated, Offset: at})
			}
			dst = append(dst, Event{Kind: Open, Data: p[i : i+1], Offset: at})
			s.in = true
			start = i + 1
			continue
		case s.in && c == s.f.End[0]:
			flush(i)
			start = i + 1
			if len(s.f.End) == 1 {
				dst = append(dst, Event{Kind: Close, Data: p[i : i+1], Offset: at})
				s.in = false
			} else {
				s.end0 = true
			}
			continue
		case s.in:
			k = Body
		case c == '\r' || c == '\n':
			k = Gap
		default:
			k = Junk
		}
		if k != kind {
			flush(i)
			start, kind = i, k
		}
	}
	flush(len(p))
	s.off += int64(len(p))
	return dst
}

// End reports the end of the stream: a frame in progress is Broken with
// ErrTruncated (its pending first end byte, if any, as Data).
func (s *Scanner) End(dst []Event) []Event {
	if !s.in {
		return dst
	}
	ev := Event{Kind: Broken, Err: ErrTruncated, Offset: s.off}
	if s.end0 {
		ev.Data = s.f.End[:1]
	}
	s.in, s.end0 = false, false
	return append(dst, ev)
}
