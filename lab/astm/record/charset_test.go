package record

import (
	"errors"
	"testing"

	"github.com/exhibit-forensics/exhibit/lab/charset"
)

// TestCharsetRefusalText pins the words of a charset refusal: they go into
// the quarantine record of the message, so the same bytes must always be
// refused in the same words.
func TestCharsetRefusalText(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		opt  Options
		want string
	}{
		{"latin1-c1", "H|\\^&\rP|1||a\x80\rL|1|N\r", Options{Charset: charset.Latin1},
			"astm record 2 (P), field 4, byte 6: text not in the declared charset: byte 0x80 has no character in iso-8859-1"},
		{"cp1252-undefined", "H|\\^&\rP|1||x^\x81\rL|1|N\r", Options{Charset: charset.Windows1252},
			"astm record 2 (P), field 4, byte 7: text not in the declared charset: byte 0x81 has no character in windows-1252"},
		{"ascii-high", "H|\\^&\rP|1||Ren\xe9e\rL|1|N\r", Options{Charset: charset.ASCII},
			"astm record 2 (P), field 4, byte 8: text not in the declared charset: byte 0xE9 is not ASCII"},
		{"utf8-bad", "H|\\^&\rP|1||ok\xc3\rL|1|N\r", Options{Charset: charset.UTF8},
			"astm record 2 (P), field 4, byte 7: text not in the declared charset: byte 0xC3 is not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseMessage(split(tc.in), tc.opt)
			if err == nil || err.Error() != tc.want || !errors.Is(err, ErrCharset) {
				t.Errorf("ParseMessage error\n got %v\nwant %s", err, tc.want)
			}
		})
	}
}

// TestCharsetEncodeText pins the words of a refusal to encode text that the
// charset cannot hold; nothing is written.
func TestCharsetEncodeText(t *testing.T) {
	for _, tc := range []struct {
		name string
		text string
		opt  Options
		want string
	}{
		{"ascii", "Müller", Options{Charset: charset.ASCII},
			"astm record (P), field 4: text not in the declared charset: text not in the declared charset: 'ü' is not ASCII"},
		{"latin1", "5 €", Options{Charset: charset.Latin1},
			"astm record (P), field 4: text not in the declared charset: text not in the declared charset: '€' has no byte in iso-8859-1"},
		{"cp1252", "ő", Options{Charset: charset.Windows1252},
			"astm record (P), field 4: text not in the declared charset: text not in the declared charset: 'ő' has no byte in windows-1252"},
		{"utf8", "a\xffb", Options{Charset: charset.UTF8},
			"astm record (P), field 4: text not in the declared charset: text not in the declared charset: text is not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := NewEncoder(tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			r := New('P')
			r.Set(4, Text(tc.text))
			got, err := e.Append([]byte("x"), r)
			if err == nil || err.Error() != tc.want || !errors.Is(err, ErrCharset) || string(got) != "x" {
				t.Errorf("Append = %q, error\n got %v\nwant %s", got, err, tc.want)
			}
		})
	}
}
