package streamtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/tools/txtar"
)

// A Side is one end of a byte stream: the host (the computer: Exhibit's
// driver or receiver, or a LIS) or the instrument (the device on the far
// end: an analyser, the light engine).
type Side byte

// The two sides, as they start a session line.
const (
	Host       Side = 'H'
	Instrument Side = 'I'
)

func (s Side) String() string { return string(s) }

// An Exchange is one write: bytes one side sent, in one line of the
// session.
type Exchange struct {
	From Side
	Data []byte
	// Line is the exchange's line in the transcript file (counted from 1),
	// for messages; 0 for an exchange made in code.
	Line int
}

// A Transcript is a recorded (or written) session on a byte stream. The
// format is specified in firmware-notes/transcripts.md.
type Transcript struct {
	// Name names the transcript in errors, usually its file name.
	Name string
	// Header holds the key=value lines of the archive comment; device,
	// firmware and baud are required.
	Header map[string]string
	// Notes are the free-text "# note" lines of the archive comment.
	Notes []string
	// Exchanges are the lines of the "session" file, in order.
	Exchanges []Exchange
	// Files are the archive's other files (a dialect, a test-code map),
	// by name.
	Files map[string][]byte
}

// requiredKeys start every header, in this order.
var requiredKeys = []string{"device", "firmware", "baud"}

// sessionFile names the file of the archive that holds the exchanges.
const sessionFile = "session"

// ErrTranscript is wrapped by every error from ParseTranscript and Format.
var ErrTranscript = errors.New("bad transcript")

// errorf makes an ErrTranscript naming the transcript and, if line > 0, the
// line.
func (t *Transcript) errorf(line int, format string, args ...any) error {
	where := t.Name
	if where == "" {
		where = "transcript"
	}
	if line > 0 {
		where += ":" + strconv.Itoa(line)
	}
	return fmt.Errorf("%s: %s: %w", where, fmt.Sprintf(format, args...), ErrTranscript)
}

func validKey(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func validValue(v string) bool {
	for _, c := range []byte(v) {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

func (t *Transcript) checkHeader() error {
	for _, k := range requiredKeys {
		if strings.TrimSpace(t.Header[k]) == "" {
			return t.errorf(0, "header: missing %s=", k)
		}
	}
	if b, err := strconv.Atoi(t.Header["baud"]); err != nil || b <= 0 {
		return t.errorf(0, "header: baud=%q is not a positive integer", t.Header["baud"])
	}
	for _, k := range slices.Sorted(maps.Keys(t.Header)) {
		v := t.Header[k]
		if !validKey(k) {
			return t.errorf(0, "header: key %q: want [a-z0-9._-]+", k)
		}
		if !validValue(v) || v != strings.TrimSpace(v) {
			return t.errorf(0, "header: %s=%q: the value must be printable ASCII without spaces around it", k, v)
		}
	}
	return nil
}

// lines counts the lines of a part of a txtar archive.
func lines(b []byte) int { return bytes.Count(b, []byte("\n")) }

// ParseTranscript parses a transcript (firmware-notes/transcripts.md).
// name names it in errors, which wrap ErrTranscript and give the line.
func ParseTranscript(name string, data []byte) (*Transcript, error) {
	a := txtar.Parse(data)
	t := &Transcript{Name: name, Header: map[string]string{}, Files: map[string][]byte{}}
	for i, line := range strings.Split(string(a.Comment), "\n") {
		line = strings.TrimSuffix(line, "\r")
		switch {
		case strings.TrimSpace(line) == "":
			continue
		case strings.HasPrefix(line, "#"):
			t.Notes = append(t.Notes, strings.TrimSpace(strings.TrimPrefix(line, "#")))
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, t.errorf(i+1, "header line %q is not key=value", line)
		}
		k = strings.TrimSpace(k)
		if !validKey(k) {
			return nil, t.errorf(i+1, "header key %q: want [a-z0-9._-]+", k)
		}
		if _, dup := t.Header[k]; dup {
			return nil, t.errorf(i+1, "header key %q given twice", k)
		}
		t.Header[k] = strings.TrimSpace(v)
	}
	if err := t.checkHeader(); err != nil {
		return nil, err
	}
	at := lines(a.Comment) + 1 // the line of the next file marker
	session := -1
	for _, f := range a.Files {
		switch _, dup := t.Files[f.Name]; {
		case f.Name == sessionFile && session >= 0, dup:
			return nil, t.errorf(at, "file %q given twice", f.Name)
		case f.Name == sessionFile:
			session = at
			if err := t.parseSession(f.Data, at); err != nil {
				return nil, err
			}
		default:
			t.Files[f.Name] = bytes.Clone(f.Data)
		}
		at += 1 + lines(f.Data)
	}
	if session < 0 {
		return nil, t.errorf(0, "no %q file", sessionFile)
	}
	return t, nil
}

// parseSession reads the session file, whose marker is on line marker.
func (t *Transcript) parseSession(data []byte, marker int) error {
	for i, l := range strings.Split(string(data), "\n") {
		no := marker + 1 + i
		l = strings.TrimSuffix(l, "\r")
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if len(l) < 3 || (l[0] != byte(Host) && l[0] != byte(Instrument)) || l[1] != ':' || l[2] != ' ' {
			return t.errorf(no, "session line %q does not start with \"H: \" or \"I: \"", l)
		}
		d, err := Decode(l[3:])
		if err != nil {
			return t.errorf(no, "%v", err)
		}
		if len(d) == 0 {
			return t.errorf(no, "%c: writes nothing", l[0])
		}
		t.Exchanges = append(t.Exchanges, Exchange{From: Side(l[0]), Data: d, Line: no})
	}
	return nil
}

// Format renders the transcript: the notes, then the header with device,
// firmware and baud first and the other keys in sorted order, then the
// session, then the other files in sorted order. It fails, with an error
// wrapping ErrTranscript, on anything ParseTranscript would not read back
// the same.
func (t *Transcript) Format() ([]byte, error) {
	if err := t.checkHeader(); err != nil {
		return nil, err
	}
	var hdr bytes.Buffer
	for _, n := range t.Notes {
		if strings.ContainsAny(n, "\r\n") || n != strings.TrimSpace(n) {
			return nil, t.errorf(0, "note %q spans lines or has spaces around it", n)
		}
		fmt.Fprintf(&hdr, "# %s\n", n)
	}
	keys := slices.Clone(requiredKeys)
	for _, k := range slices.Sorted(maps.Keys(t.Header)) {
		if !slices.Contains(requiredKeys, k) {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		fmt.Fprintf(&hdr, "%s=%s\n", k, t.Header[k])
	}
	var session bytes.Buffer
	for i, ex := range t.Exchanges {
		if ex.From != Host && ex.From != Instrument {
			return nil, t.errorf(ex.Line, "exchange %d is from side %q, not H or I", i+1, byte(ex.From))
		}
		if len(ex.Data) == 0 {
			return nil, t.errorf(ex.Line, "exchange %d is empty", i+1)
		}
		fmt.Fprintf(&session, "%c: %s\n", ex.From, Encode(ex.Data))
	}
	a := &txtar.Archive{Comment: hdr.Bytes(), Files: []txtar.File{{Name: sessionFile, Data: session.Bytes()}}}
	for _, name := range slices.Sorted(maps.Keys(t.Files)) {
		if name == sessionFile {
			return nil, t.errorf(0, "a file may not be named %q", sessionFile)
		}
		a.Files = append(a.Files, txtar.File{Name: name, Data: t.Files[name]})
	}
	out := txtar.Format(a)
	// txtar cannot hold every file: a name with spaces around it or a line
	// break, data without a final newline or with a line that reads as a
	// file marker. Whatever does not come back the same is refused.
	back := txtar.Parse(out)
	if len(back.Files) != len(a.Files) {
		return nil, t.errorf(0, "the files cannot be held in a txtar archive (a line of one reads as a file marker)")
	}
	for i, f := range back.Files {
		if f.Name != a.Files[i].Name || !bytes.Equal(f.Data, a.Files[i].Data) {
			return nil, t.errorf(0, "file %q cannot be held in a txtar archive as it is", a.Files[i].Name)
		}
	}
	return out, nil
}

// Sent returns the bytes side writes, concatenated.
func (t *Transcript) Sent(side Side) []byte {
	var b []byte
	for _, ex := range t.Exchanges {
		if ex.From == side {
			b = append(b, ex.Data...)
		}
	}
	return b
}

// Play plays side `as` of the session over rw: it writes that side's
// exchanges and reads the other side's, which must match exactly. It stops
// at the first difference. Each read is bounded by wait in real time when rw
// supports read deadlines (a guard against hanging, not a protocol timer).
func (t *Transcript) Play(ctx context.Context, rw io.ReadWriter, as Side, wait time.Duration) error {
	p := &Peer{RW: rw, Wait: wait}
	for _, ex := range t.Exchanges {
		if err := ctx.Err(); err != nil {
			return err
		}
		if ex.From == as {
			if _, err := rw.Write(ex.Data); err != nil {
				return fmt.Errorf("%s:%d: writing: %w", t.Name, ex.Line, err)
			}
			continue
		}
		got, err := p.Read(len(ex.Data))
		if err != nil {
			return fmt.Errorf("%s:%d: want %c: %s\n got: %s (%w)", t.Name, ex.Line, ex.From, Encode(ex.Data), Encode(got), err)
		}
		if !bytes.Equal(got, ex.Data) {
			return fmt.Errorf("%s:%d: want %c: %s\n got:    %s", t.Name, ex.Line, ex.From, Encode(ex.Data), Encode(got))
		}
	}
	return nil
}
