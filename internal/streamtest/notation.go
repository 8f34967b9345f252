package streamtest

import (
	"fmt"
	"strconv"
	"strings"
)

// names are the control characters written by name, as the ASTM and HL7
// standards write them.
var names = map[string]byte{"STX": 0x02, "ETX": 0x03, "EOT": 0x04, "ENQ": 0x05, "ACK": 0x06,
	"LF": 0x0A, "VT": 0x0B, "CR": 0x0D, "NAK": 0x15, "ETB": 0x17, "FS": 0x1C}

var byteNames = func() map[byte]string {
	m := map[byte]string{}
	for n, b := range names {
		m[b] = n
	}
	return m
}()

// isByteToken reports whether the text between '<' and '>' stands for a
// byte: x and two characters (which must be hex digits).
func isByteToken(tok string) bool { return len(tok) == 3 && tok[0] == 'x' }

// Decode turns the <STX> notation into bytes: <NAME> for the control
// characters STX ETX EOT ENQ ACK LF VT CR NAK ETB FS, <xHH> (two hex digits,
// either case) for any byte, every other character as itself. A '<' that
// does not start a name or <xHH> is literal; "<x" and two characters that
// are not hex digits, closed by '>', is an error.
func Decode(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '<' {
			out = append(out, c)
			continue
		}
		tok, _, ok := strings.Cut(s[i+1:], ">")
		switch {
		case !ok:
		case names[tok] != 0:
			out = append(out, names[tok])
			i += len(tok) + 1
			continue
		case isByteToken(tok):
			v, err := strconv.ParseUint(tok[1:], 16, 8)
			if err != nil {
				return nil, fmt.Errorf("streamtest: bad byte %q", "<"+tok+">")
			}
			out = append(out, byte(v))
			i += len(tok) + 1
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// Encode writes b in the <STX> notation, so that Decode(Encode(b)) is b:
// the named control characters by name, other bytes below 0x20 or from
// 0x7F up as <xHH>, a '<' that Decode would read as the start of a name or
// byte as <x3C>, a space at the very end as <x20> (editors strip trailing
// spaces), everything else as itself.
func Encode(b []byte) string {
	var sb strings.Builder
	for i, c := range b {
		switch n, ok := byteNames[c]; {
		case ok:
			sb.WriteString("<" + n + ">")
		case c < 0x20 || c >= 0x7F:
			fmt.Fprintf(&sb, "<x%02X>", c)
		case c == '<' && startsToken(b[i+1:]):
			sb.WriteString("<x3C>")
		case c == ' ' && i == len(b)-1:
			sb.WriteString("<x20>")
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

// startsToken reports whether the bytes after a '<' would be read by
// Decode as a name or a byte (or a bad byte) if the '<' were written
// as itself. What follows is encoded too, but only printable characters
// stand for themselves, so a token can only be formed by a run of
// printable bytes closed by a '>'.
func startsToken(rest []byte) bool {
	for j, c := range rest {
		if c == '>' {
			tok := string(rest[:j])
			return names[tok] != 0 || isByteToken(tok)
		}
		if c < 0x20 || c >= 0x7F {
			return false
		}
	}
	return false
}
