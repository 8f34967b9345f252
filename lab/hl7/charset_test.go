package hl7

import (
	"errors"
	"testing"

	"github.com/exhibit-forensics/exhibit/lab/charset"
)

// TestCharsetRefusalText pins the words of a charset refusal: they go back
// to the analyser in the AR (MSA-3, ERR-8) and into the quarantine record,
// so the same bytes must always be refused in the same words. HL7 names a
// charset as MSH-18 does (table 0211).
func TestCharsetRefusalText(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		opt  Options
		want string
	}{
		{"ascii", msg("MSH|^~\\&|A", "NTE|1||Ren\xe9e"), Options{},
			"hl7 segment 2 (NTE), field 3, byte 10: text not in the declared character set: byte 0xE9 is not ASCII (MSH-18 is empty or ASCII)"},
		{"latin1-c1", msg(hdr("ORU^R01|C1|P|2.5.1||||||8859/1"), "NTE|1||a\x85"), Options{},
			"hl7 segment 2 (NTE), field 3, byte 8: text not in the declared character set: byte 0x85 has no character in 8859/1"},
		{"latin9-c1", msg(hdr("ORU^R01|C1|P|2.5.1||||||8859/15"), "NTE|1||\x9f"), Options{},
			"hl7 segment 2 (NTE), field 3, byte 7: text not in the declared character set: byte 0x9F has no character in 8859/15"},
		{"cp1252-undefined", msg("MSH|^~\\&|A", "NTE|1||\x81"), Options{DefaultCharset: charset.Windows1252},
			"hl7 segment 2 (NTE), field 3, byte 7: text not in the declared character set: byte 0x81 has no character in WINDOWS-1252"},
		{"utf8", msg(hdr("ORU^R01|C1|P|2.5.1||||||UNICODE UTF-8"), "NTE|1||ok\xc3"), Options{},
			"hl7 segment 2 (NTE), field 3, byte 9: text not in the declared character set: byte 0xC3 is not valid UTF-8"},
		{"unknown-msh18", msg(hdr("ORU^R01|C1|P|2.5.1||||||8859/2"), "NTE|1||x"), Options{},
			"hl7 segment 1 (MSH), field 18: text not in the declared character set: unsupported MSH-18: text not in the declared character set: unsupported MSH-18: \"8859/2\" (want ASCII, 8859/1, 8859/15 or UNICODE UTF-8)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.in, tc.opt)
			if err == nil || err.Error() != tc.want || !errors.Is(err, ErrCharset) {
				t.Errorf("Parse error\n got %v\nwant %s", err, tc.want)
			}
		})
	}
}

// TestCharsetEncodeText pins the words of a refusal to encode text that the
// charset cannot hold.
func TestCharsetEncodeText(t *testing.T) {
	for _, tc := range []struct {
		name string
		text string
		cs   charset.Charset
		want string
	}{
		{"ascii", "Müller", charset.ASCII,
			"hl7 segment 2 (PID), field 1: text not in the declared character set: text not in the declared character set: 'ü' is not ASCII"},
		{"latin1", "5 €", charset.Latin1,
			"hl7 segment 2 (PID), field 1: text not in the declared character set: text not in the declared character set: '€' has no byte in 8859/1"},
		{"latin1-c1", "a\u0085", charset.Latin1,
			"hl7 segment 2 (PID), field 1: text not in the declared character set: text not in the declared character set: '\\u0085' has no byte in 8859/1"},
		{"cp1252", "ő", charset.Windows1252,
			"hl7 segment 2 (PID), field 1: text not in the declared character set: text not in the declared character set: 'ő' has no byte in WINDOWS-1252"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Encode([]Segment{Seg("MSH"), Seg("PID", T(tc.text))}, Standard, tc.cs)
			if err == nil || err.Error() != tc.want || !errors.Is(err, ErrCharset) {
				t.Errorf("Encode error\n got %v\nwant %s", err, tc.want)
			}
		})
	}
}
