package mllp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type result struct {
	msg string
	err error
}

var cases = []struct {
	name string
	in   string
	want []result
}{
	{"one", "\x0bMSH|^~\\&|A\r\x1c\r", []result{{"MSH|^~\\&|A\r", nil}}},
	{"two-with-crlf-between", "\x0bA\x1c\r\r\n\x0bB\x1c\r", []result{{"A", nil}, {"B", nil}}},
	{"junk-first", "GET / HTTP/1.0\r\n\x0bA\x1c\r", []result{{"", ErrJunk}, {"A", nil}}},
	{"truncated-by-start", "\x0bA\x0bB\x1c\r", []result{{"", ErrTruncated}, {"B", nil}}},
	{"truncated-by-eof", "\x0bAB", []result{{"", ErrTruncated}}},
	{"bad-end", "\x0bA\x1cX\x0bB\x1c\r", []result{{"", ErrBadEnd}, {"", ErrJunk}, {"B", nil}}},
	{"junk-at-end", "\x0bA\x1c\rxyz", []result{{"A", nil}, {"", ErrJunk}}},
	{"empty-message", "\x0b\x1c\r", []result{{"", nil}}},
	{"empty-stream", "", nil},
}

func readAll(r *Reader) []result {
	var out []result
	for {
		m, err := r.ReadMessage()
		if err == io.EOF {
			return out
		}
		var fe *Error
		if err != nil && !errors.As(err, &fe) {
			return append(out, result{"", err})
		}
		if fe != nil {
			out = append(out, result{"", fe.Err})
			continue
		}
		out = append(out, result{string(m), nil})
	}
}

func TestReader(t *testing.T) {
	for _, tc := range cases {
		for _, chunked := range []bool{false, true} {
			var src io.Reader = bytes.NewReader([]byte(tc.in))
			if chunked {
				src = iotest.OneByteReader(src)
			}
			got := readAll(NewReader(src, Standard, 0))
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("%s (one byte at a time: %v): got %v, want %v", tc.name, chunked, got, tc.want)
			}
		}
	}
}

func TestTooLarge(t *testing.T) {
	r := NewReader(bytes.NewReader([]byte("\x0b0123456789\x1c\r\x0bok\x1c\r")), Standard, 5)
	_, err := r.ReadMessage()
	var fe *Error
	if !errors.As(err, &fe) || fe.Err != ErrTooLarge || string(fe.Data) != "01234" {
		t.Fatalf("err = %v", err)
	}
	m, err := r.ReadMessage()
	if err != nil || string(m) != "ok" {
		t.Fatalf("next = %q, %v", m, err)
	}
}

func TestCustomFraming(t *testing.T) {
	f := Framing{Start: 0x02, End: []byte{0x03}}
	var b bytes.Buffer
	if err := Write(&b, []byte("MSH|x"), f); err != nil {
		t.Fatal(err)
	}
	if b.String() != "\x02MSH|x\x03" {
		t.Fatalf("%q", b.String())
	}
	m, err := NewReader(&b, f, 0).ReadMessage()
	if err != nil || string(m) != "MSH|x" {
		t.Fatalf("%q %v", m, err)
	}
	for _, bad := range []Framing{{0x0B, nil}, {0x0B, []byte{0x0B}}, {'A', []byte{0x1C}}, {0x0B, []byte{1, 2, 3}}} {
		if bad.Validate() == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if _, err := Append(nil, []byte("a\x1cb"), Standard); err == nil {
		t.Error("end byte inside a message accepted")
	}
	if _, err := Append(nil, []byte("a\x0bb"), Standard); err == nil {
		t.Error("start byte inside a message accepted")
	}
}

// FuzzReader checks the reader never panics, never returns a message holding
// a framing byte, and gives the same results however the input is chunked;
// and that every message it returns re-frames and reads back unchanged.
func FuzzReader(f *testing.F) {
	for _, tc := range cases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkScanner(t, in)
		whole := readAll(NewReader(bytes.NewReader(in), Standard, 64))
		bytewise := readAll(NewReader(iotest.OneByteReader(bytes.NewReader(in)), Standard, 64))
		if fmt.Sprint(whole) != fmt.Sprint(bytewise) {
			t.Fatalf("chunking changes results: %v vs %v", whole, bytewise)
		}
		for _, r := range whole {
			if r.err != nil {
				continue
			}
			if bytes.ContainsAny([]byte(r.msg), "\x0b\x1c") {
				t.Fatalf("message %q holds a framing byte", r.msg)
			}
			framed, err := Append(nil, []byte(r.msg), Standard)
			if err != nil {
				t.Fatal(err)
			}
			again, err := NewReader(bytes.NewReader(framed), Standard, 64).ReadMessage()
			if err != nil || string(again) != r.msg {
				t.Fatalf("re-read %q: %q %v", r.msg, again, err)
			}
		}
	})
}

// checkScanner: every byte of the stream is in exactly one event, in
// order, however the stream is chunked, and the events read the same.
func checkScanner(t *testing.T, in []byte) {
	t.Helper()
	var kinds [2]string
	for n, chunk := range []int{len(in) + 1, 1} {
		s := NewScanner(Standard)
		var got []byte
		var evs []Event
		for i := 0; i < len(in); i += chunk {
			evs = s.Feed(in[i:min(i+chunk, len(in))], evs[:0])
			for _, e := range evs {
				got = append(got, e.Data...)
				kinds[n] += e.Kind.String() + " "
			}
		}
		for _, e := range s.End(nil) {
			got = append(got, e.Data...)
			kinds[n] += e.Kind.String() + " "
		}
		if !bytes.Equal(got, in) {
			t.Fatalf("events hold %q, stream was %q", got, in)
		}
	}
	// Chunking may split a run of one kind into several events, but not
	// change the kinds' order.
	squash := func(s string) string {
		f := strings.Fields(s)
		var out []string
		for i, k := range f {
			if i > 0 && k == f[i-1] && (k == "junk" || k == "gap" || k == "body") {
				continue
			}
			out = append(out, k)
		}
		return strings.Join(out, " ")
	}
	if squash(kinds[0]) != squash(kinds[1]) {
		t.Fatalf("chunking changes the events:\n%s\n%s", kinds[0], kinds[1])
	}
}

func TestScanner(t *testing.T) {
	for _, tc := range cases {
		checkScanner(t, []byte(tc.in))
	}
	s := NewScanner(Standard)
	var kinds []string
	for _, e := range s.Feed([]byte("x\r\x0bMSH\x1c\rjunk\x0bA\x0bB\x1cX"), nil) {
		kinds = append(kinds, fmt.Sprintf("%v%q", e.Kind, e.Data))
	}
	for _, e := range s.End(nil) {
		kinds = append(kinds, e.Kind.String())
	}
	want := `junk"x" gap"\r" open"\v" body"MSH" close"\x1c\r" junk"junk" open"\v" body"A" broken"" open"\v" body"B" broken"\x1c" junk"X"`
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("events\n%s\nwant\n%s", got, want)
	}
}
