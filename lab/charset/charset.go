// Package charset decodes and encodes the text of laboratory messages
// strictly: a byte that is not text in the message's character set is an
// error naming its offset, never U+FFFD, and a character the character set
// cannot hold is an error, never a '?'.
//
// ASTM E1394 records (lab/astm/record) and HL7 v2 messages (lab/hl7) both
// carry text in a character set fixed outside the text — the ASTM
// dialect's charset, HL7's MSH-18 — and in both the delimiters and escape
// codes are ASCII. So each protocol splits a message on its delimiters
// first and decodes only the text between them, here, with the same rules:
//
//   - ASCII refuses every byte above 0x7F.
//   - Latin1 (ISO-8859-1) and Latin9 (ISO-8859-15) refuse bytes 0x80–0x9F.
//     They decode to C1 control characters, which never appear in real
//     text; they almost always mean that the sender really writes
//     Windows-1252, which a dialect (ASTM) or Options.DefaultCharset (HL7)
//     then has to say.
//   - Windows1252 refuses its five undefined bytes (0x81, 0x8D, 0x8F, 0x90,
//     0x9D).
//   - UTF8 refuses invalid UTF-8: a stray continuation byte, a truncated or
//     overlong sequence, a surrogate.
//
// Encoding refuses the same way: a character the charset has no byte for,
// a C1 control character in a single-byte charset, text that is not valid
// UTF-8. Text that is ASCII is the same bytes in every charset.
//
// Each protocol names charsets its own way: HL7 by table 0211 ("8859/1"),
// ASTM dialect files by IANA-style names ("iso-8859-1"). This package
// uses the latter (String, Parse); a protocol that words its errors with
// its own names uses DecodeError.Describe and EncodeError.Describe. The
// single-byte tables are golang.org/x/text/encoding/charmap's.
package charset

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// A Charset is a character encoding of message text. The zero value is
// ASCII.
type Charset uint8

// Charsets.
const (
	ASCII       Charset = iota // US-ASCII
	Latin1                     // ISO-8859-1
	Latin9                     // ISO-8859-15
	UTF8                       // UTF-8
	Windows1252                // the Windows Western European code page
	numCharsets
)

var names = [numCharsets]string{"ascii", "iso-8859-1", "iso-8859-15", "utf-8", "windows-1252"}

// ErrUnknown is wrapped by the errors of Parse and of an invalid Charset.
var ErrUnknown = errors.New("unknown charset")

// Valid reports whether c is one of the Charsets above.
func (c Charset) Valid() bool { return c < numCharsets }

// String returns c's name: ascii, iso-8859-1, iso-8859-15, utf-8 or
// windows-1252.
func (c Charset) String() string {
	if c.Valid() {
		return names[c]
	}
	return fmt.Sprintf("Charset(%d)", uint8(c))
}

// Parse maps a name to a Charset, case-insensitively: a String form, or one
// of the aliases us-ascii, latin1, iso8859-1, latin9, iso8859-15, utf8 and
// cp1252.
func Parse(s string) (Charset, error) {
	switch strings.ToLower(s) {
	case "ascii", "us-ascii":
		return ASCII, nil
	case "iso-8859-1", "latin1", "iso8859-1":
		return Latin1, nil
	case "iso-8859-15", "latin9", "iso8859-15":
		return Latin9, nil
	case "utf-8", "utf8":
		return UTF8, nil
	case "windows-1252", "cp1252":
		return Windows1252, nil
	}
	return 0, fmt.Errorf("%w %q (want one of %s)", ErrUnknown, s, strings.Join(names[:], ", "))
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

// c1 reports whether r is a C1 control character, which no single-byte
// charset here decodes to or encodes.
func c1(r rune) bool { return r >= 0x80 && r <= 0x9F }

// A DecodeError is a byte that is not text in a charset.
type DecodeError struct {
	Charset Charset
	Offset  int  // of Byte in the input
	Byte    byte // the first byte that is not text
}

// Error words the error with the charset's String name.
func (e *DecodeError) Error() string { return e.Describe(e.Charset.String()) }

// Describe words the error with name for the charset, for a protocol that
// names charsets its own way: "byte 0x80 has no character in NAME", "byte
// 0xE9 is not ASCII", "byte 0xC3 is not valid UTF-8".
func (e *DecodeError) Describe(name string) string {
	switch e.Charset {
	case ASCII:
		return fmt.Sprintf("byte 0x%02X is not ASCII", e.Byte)
	case UTF8:
		return fmt.Sprintf("byte 0x%02X is not valid UTF-8", e.Byte)
	}
	return fmt.Sprintf("byte 0x%02X has no character in %s", e.Byte, name)
}

// An EncodeError is a character that a charset cannot hold.
type EncodeError struct {
	Charset Charset
	Offset  int  // of Rune in the text
	Rune    rune // utf8.RuneError where the text is not valid UTF-8
}

// Error words the error with the charset's String name.
func (e *EncodeError) Error() string { return e.Describe(e.Charset.String()) }

// Describe words the error with name for the charset, for a protocol that
// names charsets its own way: "'€' has no byte in NAME", "'ü' is not
// ASCII", "text is not valid UTF-8".
func (e *EncodeError) Describe(name string) string {
	switch e.Charset {
	case ASCII:
		return fmt.Sprintf("%q is not ASCII", e.Rune)
	case UTF8:
		return "text is not valid UTF-8"
	}
	return fmt.Sprintf("%q has no byte in %s", e.Rune, name)
}

// IsASCII reports whether every byte of b is below 0x80: text that is the
// same in every charset.
func IsASCII(b []byte) bool {
	for _, x := range b {
		if x >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// Decode returns the text of b, which is in c. A byte that is not text in
// c is a *DecodeError; an invalid c is an error wrapping ErrUnknown, unless
// b is ASCII.
func (c Charset) Decode(b []byte) (string, error) {
	if IsASCII(b) {
		return string(b), nil
	}
	if c == UTF8 {
		if err := c.check(b); err != nil {
			return "", err
		}
		return string(b), nil
	}
	out, err := c.AppendDecoded(make([]byte, 0, len(b)+len(b)/2), b)
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// AppendDecoded appends the text of b, which is in c, to dst as UTF-8.
// On error it returns dst unchanged and the error Decode returns.
func (c Charset) AppendDecoded(dst, b []byte) ([]byte, error) {
	if IsASCII(b) {
		return append(dst, b...), nil
	}
	if c == ASCII || c == UTF8 {
		if err := c.check(b); err != nil {
			return dst, err
		}
		return append(dst, b...), nil
	}
	cm := c.charmap()
	if cm == nil {
		return dst, fmt.Errorf("%w %d", ErrUnknown, uint8(c))
	}
	orig := len(dst)
	for i, x := range b {
		if x < utf8.RuneSelf {
			dst = append(dst, x)
			continue
		}
		r := cm.DecodeByte(x)
		if r == utf8.RuneError || c1(r) {
			return dst[:orig], &DecodeError{Charset: c, Offset: i, Byte: x}
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst, nil
}

// check finds the first byte of b that is not ASCII (c == ASCII) or not
// valid UTF-8 (c == UTF8).
func (c Charset) check(b []byte) error {
	if c == ASCII {
		for i, x := range b {
			if x >= utf8.RuneSelf {
				return &DecodeError{Charset: c, Offset: i, Byte: x}
			}
		}
		return nil
	}
	if utf8.Valid(b) {
		return nil
	}
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return &DecodeError{Charset: c, Offset: i, Byte: b[i]}
		}
		i += n
	}
	return nil
}

// Append appends s, encoded in c, to dst. A character that c cannot hold
// is an *EncodeError (for UTF8: s is not valid UTF-8); an invalid c is an
// error wrapping ErrUnknown. On error Append returns dst unchanged.
func (c Charset) Append(dst []byte, s string) ([]byte, error) {
	switch c {
	case UTF8:
		if !utf8.ValidString(s) {
			for i := 0; i < len(s); {
				r, n := utf8.DecodeRuneInString(s[i:])
				if r == utf8.RuneError && n <= 1 {
					return dst, &EncodeError{Charset: c, Offset: i, Rune: r}
				}
				i += n
			}
		}
		return append(dst, s...), nil
	case ASCII:
		for i, r := range s {
			if r >= utf8.RuneSelf {
				return dst, &EncodeError{Charset: c, Offset: i, Rune: r}
			}
		}
		return append(dst, s...), nil
	}
	cm := c.charmap()
	if cm == nil {
		return dst, fmt.Errorf("%w %d", ErrUnknown, uint8(c))
	}
	orig := len(dst)
	for i, r := range s {
		if r < utf8.RuneSelf {
			dst = append(dst, byte(r))
			continue
		}
		b, ok := cm.EncodeRune(r)
		if !ok || c1(r) {
			return dst[:orig], &EncodeError{Charset: c, Offset: i, Rune: r}
		}
		dst = append(dst, b)
	}
	return dst, nil
}
