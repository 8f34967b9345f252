package astmtest

import (
	"fmt"
	"strconv"
	"strings"
)

var names = map[string]byte{"STX": 0x02, "ETX": 0x03, "EOT": 0x04, "ENQ": 0x05, "ACK": 0x06,
	"LF": 0x0A, "CR": 0x0D, "NAK": 0x15, "ETB": 0x17, "VT": 0x0B, "FS": 0x1C}

var byteNames = func() map[byte]string {
	m := map[byte]string{}
	for n, b := range names {
		m[b] = n
	}
	return m
}()

// Decode turns the <STX> notation into bytes. "<" followed by something
// that is not a known name or xHH is literal.
func Decode(s string) ([]byte, error) {
	var out []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '<' {
			out = append(out, c)
			continue
		}
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			out = append(out, c)
			continue
		}
		tok := s[i+1 : i+j]
		if b, ok := names[tok]; ok {
			out = append(out, b)
			i += j
			continue
		}
		if len(tok) == 3 && tok[0] == 'x' {
			v, err := strconv.ParseUint(tok[1:], 16, 8)
			if err != nil {
				return nil, fmt.Errorf("astmtest: bad byte %q", s[i:i+j+1])
			}
			out = append(out, byte(v))
			i += j
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// Encode writes b in the <STX> notation.
func Encode(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		switch n, ok := byteNames[c]; {
		case ok:
			sb.WriteString("<" + n + ">")
		case c < 0x20 || c >= 0x7F:
			fmt.Fprintf(&sb, "<x%02X>", c)
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}
