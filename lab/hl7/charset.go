package hl7

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// A Charset is a character set named by MSH-18.
type Charset uint8

// Charsets.
const (
	ASCII       Charset = iota // "ASCII", HL7's default when MSH-18 is empty
	Latin1                     // "8859/1"
	Latin9                     // "8859/15"
	UTF8                       // "UNICODE UTF-8"
	Windows1252                // not an HL7 name; for senders that send it undeclared (Options.DefaultCharset)
)

var charsetNames = [...]string{"ASCII", "8859/1", "8859/15", "UNICODE UTF-8", "WINDOWS-1252"}

// String returns the MSH-18 name.
func (c Charset) String() string {
	if int(c) < len(charsetNames) {
		return charsetNames[c]
	}
	return fmt.Sprintf("Charset(%d)", uint8(c))
}

// MSH18 returns the name MSH-18 gives c in HL7 table 0211: "" for ASCII
// (the default, left empty) and for Windows1252, which the table does not
// name.
func (c Charset) MSH18() string {
	switch c {
	case Latin1, Latin9, UTF8:
		return charsetNames[c]
	}
	return ""
}

// ParseCharset maps an MSH-18 value (HL7 table 0211) to a Charset. It also
// accepts "UTF-8", which some senders write.
func ParseCharset(s string) (Charset, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "", "ASCII":
		return ASCII, nil
	case "8859/1":
		return Latin1, nil
	case "8859/15":
		return Latin9, nil
	case "UNICODE UTF-8", "UTF-8":
		return UTF8, nil
	case "WINDOWS-1252", "CP1252":
		return Windows1252, nil
	}
	return 0, fmt.Errorf("%w: %q (want ASCII, 8859/1, 8859/15 or UNICODE UTF-8)", ErrCharsetName, s)
}

func (c Charset) charmap() *charmap.Charmap {
	switch c {
	case Latin1:
		return charmap.ISO8859_1
	case Latin9:
		return charmap.ISO8859_15
	case Windows1252:
		return charmap.Windows1252
	}
	return nil
}

// decode returns the text, or where and why it cannot be decoded.
func (c Charset) decode(b []byte) (string, int, string) {
	ascii := true
	for _, x := range b {
		if x >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b), 0, ""
	}
	switch c {
	case ASCII:
		for i, x := range b {
			if x >= 0x80 {
				return "", i, fmt.Sprintf("byte 0x%02X is not ASCII (MSH-18 is empty or ASCII)", x)
			}
		}
	case UTF8:
		for i := 0; i < len(b); {
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n <= 1 {
				return "", i, fmt.Sprintf("byte 0x%02X is not valid UTF-8", b[i])
			}
			i += n
		}
		return string(b), 0, ""
	}
	cm := c.charmap()
	if cm == nil {
		return "", 0, "unknown charset"
	}
	var sb strings.Builder
	for i, x := range b {
		if x < 0x80 {
			sb.WriteByte(x)
			continue
		}
		r := cm.DecodeByte(x)
		if r == utf8.RuneError || (r >= 0x80 && r <= 0x9F) {
			return "", i, fmt.Sprintf("byte 0x%02X has no character in %v", x, c)
		}
		sb.WriteRune(r)
	}
	return sb.String(), 0, ""
}

func (c Charset) encode(dst []byte, s string) ([]byte, error) {
	switch c {
	case UTF8:
		if !utf8.ValidString(s) {
			return dst, fmt.Errorf("%w: invalid UTF-8", ErrCharset)
		}
		return append(dst, s...), nil
	case ASCII:
		for _, r := range s {
			if r >= 0x80 {
				return dst, fmt.Errorf("%w: %q is not ASCII", ErrCharset, r)
			}
		}
		return append(dst, s...), nil
	}
	cm := c.charmap()
	if cm == nil {
		return dst, fmt.Errorf("%w: unknown charset", ErrCharset)
	}
	for _, r := range s {
		if r < 0x80 {
			dst = append(dst, byte(r))
			continue
		}
		b, ok := cm.EncodeRune(r)
		if !ok || (r >= 0x80 && r <= 0x9F) {
			return dst, fmt.Errorf("%w: %q has no byte in %v", ErrCharset, r, c)
		}
		dst = append(dst, b)
	}
	return dst, nil
}
