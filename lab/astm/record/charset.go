package record

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// A Charset is the character encoding of record text on the wire.
// Delimiters and escape codes are always ASCII.
type Charset uint8

// Charsets.
const (
	// Latin1 is ISO-8859-1. Bytes 0x80–0x9F decode to C1 control
	// characters, which never appear in real text; they are refused, because
	// they almost always mean the instrument actually sends Windows-1252.
	Latin1 Charset = iota
	// ASCII refuses every byte above 0x7F.
	ASCII
	// Windows1252 is the Windows Western European code page. Its five
	// undefined bytes (0x81, 0x8D, 0x8F, 0x90, 0x9D) are refused.
	Windows1252
	// UTF8 refuses invalid UTF-8.
	UTF8
)

var charsetNames = [...]string{"iso-8859-1", "ascii", "windows-1252", "utf-8"}

func (c Charset) String() string {
	if int(c) < len(charsetNames) {
		return charsetNames[c]
	}
	return fmt.Sprintf("Charset(%d)", uint8(c))
}

// ParseCharset parses a charset name: the String forms, case-insensitively,
// and the aliases latin1, us-ascii, cp1252 and utf8.
func ParseCharset(s string) (Charset, error) {
	switch strings.ToLower(s) {
	case "iso-8859-1", "latin1", "iso8859-1":
		return Latin1, nil
	case "ascii", "us-ascii":
		return ASCII, nil
	case "windows-1252", "cp1252":
		return Windows1252, nil
	case "utf-8", "utf8":
		return UTF8, nil
	}
	return 0, fmt.Errorf("record: unknown charset %q (want one of %v)", s, charsetNames)
}

// errByte is a charset failure at a byte offset within the decoded slice.
type errByte struct {
	at     int
	detail string
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// decode turns wire bytes into a Go (UTF-8) string.
func (c Charset) decode(b []byte) (string, *errByte) {
	if isASCII(b) {
		return string(b), nil
	}
	switch c {
	case ASCII:
		for i, x := range b {
			if x >= 0x80 {
				return "", &errByte{i, fmt.Sprintf("byte 0x%02X is not ASCII", x)}
			}
		}
	case UTF8:
		if !utf8.Valid(b) {
			for i := 0; i < len(b); {
				r, n := utf8.DecodeRune(b[i:])
				if r == utf8.RuneError && n <= 1 {
					return "", &errByte{i, fmt.Sprintf("byte 0x%02X is not valid UTF-8", b[i])}
				}
				i += n
			}
		}
		return string(b), nil
	case Latin1, Windows1252:
		cm := charmap.ISO8859_1
		if c == Windows1252 {
			cm = charmap.Windows1252
		}
		var sb strings.Builder
		sb.Grow(len(b) + len(b)/2)
		for i, x := range b {
			if x < 0x80 {
				sb.WriteByte(x)
				continue
			}
			r := cm.DecodeByte(x)
			if r == utf8.RuneError || (r >= 0x80 && r <= 0x9F) {
				return "", &errByte{i, fmt.Sprintf("byte 0x%02X has no character in %v", x, c)}
			}
			sb.WriteRune(r)
		}
		return sb.String(), nil
	}
	return "", &errByte{0, fmt.Sprintf("unknown charset %d", c)}
}

// encode appends s in charset c to dst.
func (c Charset) encode(dst []byte, s string) ([]byte, error) {
	switch c {
	case UTF8:
		if !utf8.ValidString(s) {
			return dst, fmt.Errorf("%w: text is not valid UTF-8", ErrCharset)
		}
		return append(dst, s...), nil
	case ASCII, Latin1, Windows1252:
		for _, r := range s {
			if r < 0x80 {
				dst = append(dst, byte(r))
				continue
			}
			if c == ASCII {
				return dst, fmt.Errorf("%w: %q is not ASCII", ErrCharset, r)
			}
			cm := charmap.ISO8859_1
			if c == Windows1252 {
				cm = charmap.Windows1252
			}
			b, ok := cm.EncodeRune(r)
			if !ok || (r >= 0x80 && r <= 0x9F) {
				return dst, fmt.Errorf("%w: %q has no byte in %v", ErrCharset, r, c)
			}
			dst = append(dst, b)
		}
		return dst, nil
	}
	return dst, fmt.Errorf("%w: unknown charset %d", ErrCharset, c)
}
