package hl7

import (
	"errors"
	"fmt"
	"strings"

	"github.com/exhibit-forensics/exhibit/lab/charset"
)

// charsetNames are the names this package gives charsets, in MSH-18 and in
// its errors: HL7 table 0211's, and WINDOWS-1252, which the table does not
// have.
var charsetNames = [...]string{
	charset.ASCII:       "ASCII",
	charset.Latin1:      "8859/1",
	charset.Latin9:      "8859/15",
	charset.UTF8:        "UNICODE UTF-8",
	charset.Windows1252: "WINDOWS-1252",
}

func charsetName(cs charset.Charset) string {
	if int(cs) < len(charsetNames) {
		return charsetNames[cs]
	}
	return cs.String()
}

// MSH18 returns the name MSH-18 gives cs in HL7 table 0211: "" for ASCII
// (the default, left empty) and for Windows1252, which the table does not
// name.
func MSH18(cs charset.Charset) string {
	switch cs {
	case charset.Latin1, charset.Latin9, charset.UTF8:
		return charsetNames[cs]
	}
	return ""
}

// ParseMSH18 maps an MSH-18 value (HL7 table 0211) to a charset. It also
// accepts "UTF-8", and "WINDOWS-1252" and "CP1252", which some senders
// write.
func ParseMSH18(s string) (charset.Charset, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "", "ASCII":
		return charset.ASCII, nil
	case "8859/1":
		return charset.Latin1, nil
	case "8859/15":
		return charset.Latin9, nil
	case "UNICODE UTF-8", "UTF-8":
		return charset.UTF8, nil
	case "WINDOWS-1252", "CP1252":
		return charset.Windows1252, nil
	}
	return 0, fmt.Errorf("%w: %q (want ASCII, 8859/1, 8859/15 or UNICODE UTF-8)", ErrCharsetName, s)
}

// decode returns the text of b, which is in cs, or where and why it cannot
// be decoded, worded with this package's charset names.
func decode(cs charset.Charset, b []byte) (string, int, string) {
	s, err := cs.Decode(b)
	if err == nil {
		return s, 0, ""
	}
	var de *charset.DecodeError
	if !errors.As(err, &de) {
		return "", 0, err.Error()
	}
	detail := de.Describe(charsetName(cs))
	if cs == charset.ASCII {
		detail += " (MSH-18 is empty or ASCII)"
	}
	return "", de.Offset, detail
}

// encode appends s in cs to dst; an error wraps ErrCharset.
func encode(cs charset.Charset, dst []byte, s string) ([]byte, error) {
	out, err := cs.Append(dst, s)
	if err == nil {
		return out, nil
	}
	var ee *charset.EncodeError
	if errors.As(err, &ee) {
		return dst, fmt.Errorf("%w: %s", ErrCharset, ee.Describe(charsetName(cs)))
	}
	return dst, fmt.Errorf("%w: %v", ErrCharset, err)
}
