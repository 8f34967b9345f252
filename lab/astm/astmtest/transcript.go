package astmtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/tools/txtar"
)

// A Transcript is a recorded (or written) protocol exchange.
type Transcript struct {
	Name    string
	Headers map[string]string // key=value lines of the archive comment
	Lines   []Line            // the "session" file
	Files   map[string][]byte // every other file in the archive
}

// A Line is one write in a session.
type Line struct {
	From byte   // 'I' instrument or 'H' host
	Text string // as written in the transcript
	Data []byte // decoded
	No   int    // line number in the session file
}

// ParseTranscript reads a txtar transcript. It needs a "session" file.
func ParseTranscript(name string, data []byte) (*Transcript, error) {
	a := txtar.Parse(data)
	t := &Transcript{Name: name, Headers: map[string]string{}, Files: map[string][]byte{}}
	sc := bufio.NewScanner(bytes.NewReader(a.Comment))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return nil, fmt.Errorf("%s: header line %q is not key=value", name, l)
		}
		t.Headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	var session []byte
	found := false
	for _, f := range a.Files {
		if f.Name == "session" {
			session, found = f.Data, true
			continue
		}
		t.Files[f.Name] = f.Data
	}
	if !found {
		return nil, fmt.Errorf("%s: no session file", name)
	}
	for i, l := range strings.Split(string(session), "\n") {
		l = strings.TrimRight(l, "\r")
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if len(l) < 3 || (l[0] != 'I' && l[0] != 'H') || l[1] != ':' || l[2] != ' ' {
			return nil, fmt.Errorf("%s: session line %d: %q does not start with \"I: \" or \"H: \"", name, i+1, l)
		}
		d, err := Decode(l[3:])
		if err != nil {
			return nil, fmt.Errorf("%s: session line %d: %v", name, i+1, err)
		}
		t.Lines = append(t.Lines, Line{From: l[0], Text: l[3:], Data: d, No: i + 1})
	}
	return t, nil
}

// Sent returns the bytes side ('I' or 'H') writes, concatenated.
func (t *Transcript) Sent(side byte) []byte {
	var b []byte
	for _, l := range t.Lines {
		if l.From == side {
			b = append(b, l.Data...)
		}
	}
	return b
}

// Play plays side `as` of the session over rw: it writes that side's lines
// and reads the other side's lines, which must match exactly. It stops at
// the first difference. Each read is bounded by wait in real time when rw
// supports read deadlines (a guard against hanging, not a protocol timer).
func (t *Transcript) Play(ctx context.Context, rw io.ReadWriter, as byte, wait time.Duration) error {
	p := &Peer{RW: rw, Wait: wait}
	for _, l := range t.Lines {
		if err := ctx.Err(); err != nil {
			return err
		}
		if l.From == as {
			if _, err := rw.Write(l.Data); err != nil {
				return fmt.Errorf("%s:%d: writing: %w", t.Name, l.No, err)
			}
			continue
		}
		got, err := p.Read(len(l.Data))
		if err != nil {
			return fmt.Errorf("%s:%d: want %c: %s\n got: %s (%v)", t.Name, l.No, l.From, l.Text, Encode(got), err)
		}
		if !bytes.Equal(got, l.Data) {
			return fmt.Errorf("%s:%d: want %c: %s\n got:    %s", t.Name, l.No, l.From, l.Text, Encode(got))
		}
	}
	return nil
}
