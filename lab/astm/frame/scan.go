package frame

import "fmt"

// Kind classifies a Token.
type Kind uint8

// Token kinds.
const (
	// KindNoise is a byte outside any frame that is not a control
	// character, or a frame abandoned part-way because STX arrived inside
	// it (the STX starts the next frame). Raw holds the bytes.
	KindNoise Kind = iota
	KindENQ
	KindACK
	KindNAK
	KindEOT
	// KindFrame is a complete frame whose checksum, frame number position,
	// text and trailer are valid. Frame holds it.
	KindFrame
	// KindBadFrame is a frame that does not decode; Err says why. A
	// receiver answers it NAK. It is a complete frame (it reached its
	// trailer), or a frame cut short by ENQ, ACK, NAK or EOT (ErrInterrupted),
	// which a sender never sends inside a frame: the character is taken to be
	// line noise in the frame, and is part of the token, so that the frame
	// gets the one answer its sender waits for (a NAK) and the character is
	// not answered as well — a second answer would put the sender out of step.
	KindBadFrame
)

var kindNames = [...]string{"noise", "ENQ", "ACK", "NAK", "EOT", "frame", "bad-frame"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// A Token is one unit of the byte stream.
type Token struct {
	Kind Kind
	// Frame is the frame, for KindFrame. For KindBadFrame it holds only the
	// frame number as read (-1 if there was none or it was not a digit
	// 0–7) and whether the frame ended ETX, for reports.
	Frame Frame
	Err   error // KindBadFrame: an *Error
	// Raw holds the bytes of the frame, bad frame or noise, capped at the
	// receive text limit plus the framing for frames that overrun it.
	Raw []byte
	// Size is the number of bytes the token spans in the stream, which may
	// exceed len(Raw).
	Size int
}

type scanState uint8

const (
	outside scanState = iota
	inFN
	inText
	inC1
	inC2
	inCR
	inLF
)

// A Scanner splits a byte stream into tokens. It keeps state between calls
// to Feed, so bytes may arrive in chunks of any size; the tokens are the same
// however the stream is cut. The zero Scanner is not usable: use NewScanner.
type Scanner struct {
	o     Options
	st    scanState
	raw   []byte
	size  int
	text  []byte
	fn    int
	last  bool
	sum   byte
	c1    byte
	bad   *Error
	limit int
}

// NewScanner returns a Scanner for frames shaped by o.
func NewScanner(o Options) *Scanner {
	return &Scanner{o: o, limit: o.ReceiveMax()}
}

// Reset drops any partial frame.
func (s *Scanner) Reset() {
	s.st = outside
	s.raw, s.text, s.bad = nil, nil, nil
	s.size = 0
}

// Buffered reports whether the scanner holds part of a frame.
func (s *Scanner) Buffered() bool { return s.st != outside }

// Feed scans p and appends the tokens it completes to toks.
func (s *Scanner) Feed(p []byte, toks []Token) []Token {
	for _, c := range p {
		toks = s.byte(c, toks)
	}
	return toks
}

func control(c byte) (Kind, bool) {
	switch c {
	case ENQ:
		return KindENQ, true
	case ACK:
		return KindACK, true
	case NAK:
		return KindNAK, true
	case EOT:
		return KindEOT, true
	}
	return 0, false
}

func (s *Scanner) begin() {
	s.raw = append(make([]byte, 0, 64), STX)
	s.size = 1
	s.text = make([]byte, 0, 64)
	s.fn, s.last, s.sum, s.c1, s.bad = -1, false, 0, 0, nil
	if s.o.NoFrameNumbers {
		s.st = inText
	} else {
		s.st = inFN
	}
}

func (s *Scanner) keep(c byte) {
	s.size++
	if len(s.raw) < s.limit+8 {
		s.raw = append(s.raw, c)
	}
}

func (s *Scanner) fail(err error, detail string) {
	if s.bad == nil {
		s.bad = &Error{Offset: s.size - 1, Err: err, Detail: detail}
	}
}

// abandon ends a partial frame as noise.
func (s *Scanner) abandon(toks []Token) []Token {
	toks = append(toks, Token{Kind: KindNoise, Raw: s.raw, Size: s.size})
	s.Reset()
	return toks
}

func (s *Scanner) emit(toks []Token) []Token {
	t := Token{Raw: s.raw, Size: s.size}
	if s.bad != nil {
		t.Kind, t.Err = KindBadFrame, s.bad
		t.Frame = Frame{Number: s.fn, Last: s.last}
	} else {
		t.Kind = KindFrame
		t.Frame = Frame{Number: s.fn, Text: s.text, Last: s.last}
	}
	s.Reset()
	return append(toks, t)
}

// interrupted handles a byte that cannot appear inside a frame: STX starts a
// new frame, and a control character ends the partial one as a bad frame
// that includes it. It reports whether c was consumed.
func (s *Scanner) interrupted(c byte, toks []Token) ([]Token, bool) {
	if c == STX {
		toks = s.abandon(toks)
		s.begin()
		return toks, true
	}
	if k, ok := control(c); ok {
		s.keep(c)
		s.fail(ErrInterrupted, fmt.Sprintf("%v inside the frame", k))
		return s.emit(toks), true
	}
	return toks, false
}

func hexVal(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// afterEnd moves past ETB/ETX or the checksum to the next expected part.
func (s *Scanner) afterChecksum(toks []Token) []Token {
	if s.o.NoTrailer {
		return s.emit(toks)
	}
	s.st = inCR
	return toks
}

func (s *Scanner) byte(c byte, toks []Token) []Token {
	switch s.st {
	case outside:
		if c == STX {
			s.begin()
			return toks
		}
		if k, ok := control(c); ok {
			return append(toks, Token{Kind: k, Raw: []byte{c}, Size: 1})
		}
		return append(toks, Token{Kind: KindNoise, Raw: []byte{c}, Size: 1})

	case inFN:
		if t, ok := s.interrupted(c, toks); ok {
			return t
		}
		s.keep(c)
		if c == ETX || c == ETB {
			s.fail(ErrFrameNumber, "frame ends before its number")
			return s.ended(c, toks)
		}
		s.sum += c
		if c >= '0' && c <= '7' {
			s.fn = int(c - '0')
		} else {
			s.fail(ErrFrameNumber, fmt.Sprintf("%q is not 0..7", c))
		}
		s.st = inText
		return toks

	case inText:
		if t, ok := s.interrupted(c, toks); ok {
			return t
		}
		s.keep(c)
		if c == ETX || c == ETB {
			return s.ended(c, toks)
		}
		s.sum += c
		switch {
		case Restricted(c):
			s.fail(ErrRestricted, fmt.Sprintf("0x%02X", c))
		case len(s.text) >= s.limit:
			s.fail(ErrTooLong, fmt.Sprintf("more than %d bytes", s.limit))
		default:
			s.text = append(s.text, c)
		}
		return toks

	case inC1, inC2:
		if t, ok := s.interrupted(c, toks); ok {
			return t
		}
		s.keep(c)
		v, ok := hexVal(c)
		if !ok {
			s.fail(ErrChecksum, fmt.Sprintf("%q is not a hex digit", c))
		}
		if s.st == inC1 {
			s.c1 = v
			s.st = inC2
			return toks
		}
		if got := s.c1<<4 | v; ok && got != s.sum {
			s.fail(ErrChecksum, fmt.Sprintf("frame says %02X, text sums to %02X", got, s.sum))
		}
		return s.afterChecksum(toks)

	case inCR, inLF:
		want := byte(CR)
		if s.st == inLF {
			want = LF
		}
		if c != want {
			if s.bad == nil { // an earlier error in the frame stays the one reported
				s.bad = &Error{Offset: s.size, Err: ErrTrailer,
					Detail: fmt.Sprintf("0x%02X where %s belongs", c, map[byte]string{CR: "CR", LF: "LF"}[want])}
			}
			if _, ok := control(c); ok {
				// A sender waits for the answer to a frame before it sends
				// anything else: a control character here is the trailer,
				// damaged, not a request of its own.
				s.keep(c)
				return s.emit(toks)
			}
			toks = s.emit(toks)
			return s.byte(c, toks) // the byte belongs to what follows
		}
		s.keep(c)
		if s.st == inCR {
			s.st = inLF
			return toks
		}
		return s.emit(toks)
	}
	panic("unreachable")
}

// ended handles ETX or ETB, already kept.
func (s *Scanner) ended(c byte, toks []Token) []Token {
	s.last = c == ETX
	if s.o.NoChecksum {
		return s.afterChecksum(toks)
	}
	s.sum += c
	s.st = inC1
	return toks
}
