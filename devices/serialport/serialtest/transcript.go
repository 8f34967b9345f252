package serialtest

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/tools/txtar"
)

// Dir is the direction of an exchange.
type Dir int

// Directions, seen from the host.
const (
	ToDevice   Dir = iota // "->": the host wrote
	FromDevice            // "<-": the host read
)

func (d Dir) String() string {
	if d == ToDevice {
		return "->"
	}
	return "<-"
}

// Exchange is one run of bytes in one direction.
type Exchange struct {
	Dir  Dir
	Data []byte
}

// Transcript is a recorded serial session.
type Transcript struct {
	// Header holds the key=value lines; device, firmware and baud are
	// required by Parse and Format.
	Header map[string]string
	// Notes are free-text lines written as "# note" before the header.
	Notes     []string
	Exchanges []Exchange
}

// Required header keys.
var requiredKeys = []string{"device", "firmware", "baud"}

// ErrTranscript is wrapped by every error from ParseTranscript and Format.
var ErrTranscript = errors.New("serialtest: bad transcript")

func transcriptErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrTranscript, fmt.Sprintf(format, args...))
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
	for _, c := range v {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

func (t *Transcript) checkHeader() error {
	for _, k := range requiredKeys {
		if strings.TrimSpace(t.Header[k]) == "" {
			return transcriptErr("header: missing %s=", k)
		}
	}
	if b, err := strconv.Atoi(t.Header["baud"]); err != nil || b <= 0 {
		return transcriptErr("header: baud=%q is not a positive integer", t.Header["baud"])
	}
	for k, v := range t.Header {
		if !validKey(k) {
			return transcriptErr("header: key %q: want [a-z0-9._-]+", k)
		}
		if !validValue(v) {
			return transcriptErr("header: %s=%q: value must be printable ASCII", k, v)
		}
	}
	return nil
}

// ParseTranscript parses a transcript. Errors wrap ErrTranscript and name the
// header line or the section (counted from 1) that is wrong.
func ParseTranscript(data []byte) (*Transcript, error) {
	a := txtar.Parse(data)
	t := &Transcript{Header: map[string]string{}}
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
			return nil, transcriptErr("header line %d: %q is not key=value", i+1, line)
		}
		k = strings.TrimSpace(k)
		if !validKey(k) {
			return nil, transcriptErr("header line %d: key %q: want [a-z0-9._-]+", i+1, k)
		}
		if _, dup := t.Header[k]; dup {
			return nil, transcriptErr("header line %d: duplicate key %q", i+1, k)
		}
		t.Header[k] = strings.TrimSpace(v)
	}
	if err := t.checkHeader(); err != nil {
		return nil, err
	}
	for i, f := range a.Files {
		name, quoted := f.Name, false
		if n, ok := strings.CutSuffix(name, " quoted"); ok {
			name, quoted = strings.TrimSpace(n), true
		}
		var ex Exchange
		switch name {
		case "->":
			ex.Dir = ToDevice
		case "<-":
			ex.Dir = FromDevice
		default:
			return nil, transcriptErr("section %d: name %q: want \"->\" or \"<-\" (optionally followed by \" quoted\")", i+1, f.Name)
		}
		if quoted {
			for j, line := range strings.Split(strings.TrimSuffix(string(f.Data), "\n"), "\n") {
				s, err := strconv.Unquote(strings.TrimSuffix(line, "\r"))
				if err != nil {
					return nil, transcriptErr("section %d (%s) line %d: %q is not a Go string literal", i+1, f.Name, j+1, line)
				}
				ex.Data = append(ex.Data, s...)
			}
		} else {
			ex.Data = bytes.Clone(f.Data)
		}
		if len(ex.Data) == 0 {
			return nil, transcriptErr("section %d (%s) is empty", i+1, f.Name)
		}
		t.Exchanges = append(t.Exchanges, ex)
	}
	return t, nil
}

// plain reports whether data can be stored verbatim in a txtar section.
func plain(data []byte) bool {
	if len(data) == 0 || data[len(data)-1] != '\n' {
		return false
	}
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("--")) {
			return false
		}
	}
	for _, c := range data {
		if c != '\n' && (c < 0x20 || c > 0x7e) {
			return false
		}
	}
	return true
}

// Format renders the transcript. Header keys device, firmware and baud come
// first, the others in sorted order.
func (t *Transcript) Format() ([]byte, error) {
	if err := t.checkHeader(); err != nil {
		return nil, err
	}
	var hdr bytes.Buffer
	for _, n := range t.Notes {
		if strings.ContainsAny(n, "\r\n") {
			return nil, transcriptErr("note %q spans lines", n)
		}
		fmt.Fprintf(&hdr, "# %s\n", n)
	}
	keys := make([]string, 0, len(t.Header))
	for k := range t.Header {
		if k != "device" && k != "firmware" && k != "baud" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range append(append([]string(nil), requiredKeys...), keys...) {
		fmt.Fprintf(&hdr, "%s=%s\n", k, t.Header[k])
	}
	a := &txtar.Archive{Comment: hdr.Bytes()}
	for i, ex := range t.Exchanges {
		if len(ex.Data) == 0 {
			return nil, transcriptErr("exchange %d is empty", i+1)
		}
		if plain(ex.Data) {
			a.Files = append(a.Files, txtar.File{Name: ex.Dir.String(), Data: ex.Data})
			continue
		}
		var q bytes.Buffer
		for _, chunk := range bytes.SplitAfter(ex.Data, []byte("\n")) {
			if len(chunk) > 0 {
				q.WriteString(strconv.QuoteToASCII(string(chunk)))
				q.WriteByte('\n')
			}
		}
		a.Files = append(a.Files, txtar.File{Name: ex.Dir.String() + " quoted", Data: q.Bytes()})
	}
	return txtar.Format(a), nil
}
