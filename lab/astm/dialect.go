package astm

import (
	"bufio"
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/exhibit-forensics/exhibit/lab/astm/frame"
	"github.com/exhibit-forensics/exhibit/lab/astm/record"
	"github.com/exhibit-forensics/exhibit/lab/charset"
	"github.com/exhibit-forensics/exhibit/lab/value"
)

// DialectHeader is the first line of a dialect file.
const DialectHeader = "astm-dialect v1"

// A Dialect is how one instrument family departs from the standard, as
// data. The plain standard is "lis2a2".
type Dialect struct {
	Name        string // lower-case id: letters, digits, '-'
	Description string
	Source      string // where the facts come from

	Frame   frame.Options // frame numbers, checksum, trailer, text limits (sent and received)
	Packing frame.Packing // how records are laid out in frames

	// Record holds the delimiters this side writes (incoming headers
	// declare their own), a non-standard declaration if the instrument
	// writes one, the charset and the decimal mark.
	Record record.Options

	// TestCodeComponent is the component of a universal test id (O-5,
	// R-3) that holds the instrument's test code: 4 in the standard.
	TestCodeComponent int
	// QuerySpecimenComponent is the component of Q-3 that holds the
	// specimen id asked for: 2 in the standard.
	QuerySpecimenComponent int
	// ReplyTermination is the L-3 code ending a reply to a query that
	// carries orders: F ("last request for information processed").
	ReplyTermination string

	// MaxMessage is the most bytes of one message (its records with their
	// CRs) a Conn receives; 0 means DefaultMaxMessage. Input that goes over
	// it is quarantined from a spool file and refused (Config.Spool,
	// ErrTooLarge).
	MaxMessage int
}

// DefaultMaxMessage is the limit on a received message when the dialect
// sets none: 4 MiB, as for HL7 (lab/hl7/mllp.DefaultMax). The largest
// result messages seen from analysers are tens of kB.
const DefaultMaxMessage = 4 << 20

// MaxMaxMessage is the largest max-message a dialect may set: 1 GiB.
const MaxMaxMessage = 1 << 30

// MessageLimit returns the effective limit on a received message.
func (d *Dialect) MessageLimit() int {
	if d.MaxMessage <= 0 {
		return DefaultMaxMessage
	}
	return d.MaxMessage
}

// ErrDialect is wrapped by every dialect parse error.
var ErrDialect = errors.New("astm dialect")

//go:embed dialects/*.dialect
var builtin embed.FS

// Dialects returns the names of the built-in dialects, sorted.
func Dialects() []string {
	ents, _ := fs.ReadDir(builtin, "dialects")
	var names []string
	for _, e := range ents {
		names = append(names, strings.TrimSuffix(e.Name(), ".dialect"))
	}
	sort.Strings(names)
	return names
}

// LookupDialect returns a fresh copy of a built-in dialect.
func LookupDialect(name string) (*Dialect, error) {
	data, err := builtin.ReadFile("dialects/" + name + ".dialect")
	if err != nil {
		return nil, fmt.Errorf("%w: no built-in dialect %q (have %v)", ErrDialect, name, Dialects())
	}
	d, err := ParseDialect(data)
	if err != nil {
		return nil, fmt.Errorf("built-in dialect %s: %w", name, err)
	}
	if d.Name != name {
		return nil, fmt.Errorf("%w: file %s.dialect names %q", ErrDialect, name, d.Name)
	}
	return d, nil
}

// Standard returns the lis2a2 dialect.
func Standard() *Dialect {
	d, err := LookupDialect("lis2a2")
	if err != nil {
		panic(err) // the embedded file is checked by the tests
	}
	return d
}

func yesNo(s string) (bool, error) {
	switch s {
	case "yes":
		return true, nil
	case "no":
		return false, nil
	}
	return false, fmt.Errorf("%q is not yes or no", s)
}

func yn(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

var dialectKeys = []string{"name", "description", "source", "frame-numbers", "checksum", "trailer", "max-text",
	"max-receive-text", "packing", "delimiters", "declaration", "charset", "decimal-mark", "test-code-component",
	"query-specimen-component", "reply-termination", "max-message"}

// ParseDialect reads a dialect file. The first line is exactly
// "astm-dialect v1"; then "key value" lines, each key at most once, blank
// lines and # comments. Only name is required; other keys default to the
// standard. See firmware-notes/astm-lis2a2.md for the keys.
func ParseDialect(data []byte) (*Dialect, error) {
	d := &Dialect{TestCodeComponent: 4, QuerySpecimenComponent: 2, ReplyTermination: "F",
		Record: record.Options{Charset: charset.Latin1}}
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	fail := func(format string, args ...any) (*Dialect, error) {
		return nil, fmt.Errorf("%w: line %d: %s", ErrDialect, line, fmt.Sprintf(format, args...))
	}
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if line == 1 {
			if text != DialectHeader {
				return fail("first line %q, want %q", clip(text), DialectHeader)
			}
			continue
		}
		t := strings.TrimSpace(text)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		key, val, _ := strings.Cut(t, " ")
		val = strings.TrimSpace(val)
		known := false
		for _, k := range dialectKeys {
			known = known || k == key
		}
		if !known {
			return fail("unknown key %q", clip(key))
		}
		if seen[key] {
			return fail("%s given twice", key)
		}
		seen[key] = true
		var err error
		switch key {
		case "name":
			if !validName(val) {
				return fail("name %q: want lower-case letters, digits and -", clip(val))
			}
			d.Name = val
		case "description":
			d.Description = val
		case "source":
			d.Source = val
		case "frame-numbers":
			var b bool
			b, err = yesNo(val)
			d.Frame.NoFrameNumbers = !b
		case "checksum":
			var b bool
			b, err = yesNo(val)
			d.Frame.NoChecksum = !b
		case "trailer":
			var b bool
			b, err = yesNo(val)
			d.Frame.NoTrailer = !b
		case "max-text", "max-receive-text":
			var n int
			n, err = strconv.Atoi(val)
			if err == nil && (n < 1 || n > frame.MaxTextLIS1A) {
				err = fmt.Errorf("%d is outside 1..%d", n, frame.MaxTextLIS1A)
			}
			if key == "max-text" {
				d.Frame.MaxText = n
			} else {
				d.Frame.MaxReceive = n
			}
		case "packing":
			d.Packing, err = frame.ParsePacking(val)
		case "delimiters":
			d.Record.Delimiters, err = record.ParseDelimiters(val)
		case "declaration":
			d.Record.Declaration = val
		case "charset":
			d.Record.Charset, err = charset.Parse(val)
		case "decimal-mark":
			switch val {
			case ".":
				d.Record.DecimalMark = value.Point
			case ",":
				d.Record.DecimalMark = value.Comma
			default:
				err = fmt.Errorf("%q is not . or ,", val)
			}
		case "test-code-component", "query-specimen-component":
			var n int
			n, err = strconv.Atoi(val)
			if err == nil && (n < 1 || n > 99) {
				err = fmt.Errorf("%d is outside 1..99", n)
			}
			if key == "test-code-component" {
				d.TestCodeComponent = n
			} else {
				d.QuerySpecimenComponent = n
			}
		case "max-message":
			var n int
			n, err = strconv.Atoi(val)
			if err == nil && (n < 1024 || n > MaxMaxMessage) {
				err = fmt.Errorf("%d is outside 1024..%d", n, MaxMaxMessage)
			}
			d.MaxMessage = n
		case "reply-termination":
			if len(val) != 1 || !strings.Contains("NTREQIF", val) {
				err = fmt.Errorf("%q is not one of N T R E Q I F", val)
			}
			d.ReplyTermination = val
		}
		if err != nil {
			return fail("%s: %v", key, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDialect, err)
	}
	if line == 0 {
		return nil, fmt.Errorf("%w: empty input", ErrDialect)
	}
	if d.Name == "" {
		return nil, fmt.Errorf("%w: no name", ErrDialect)
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}

// Validate checks a dialect built in code.
func (d *Dialect) Validate() error {
	if !validName(d.Name) {
		return fmt.Errorf("%w: name %q", ErrDialect, d.Name)
	}
	if err := d.Frame.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrDialect, err)
	}
	if err := d.Record.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrDialect, err)
	}
	if d.Record.Declaration != "" && d.Record.Delimiters == (record.Delimiters{}) {
		return fmt.Errorf("%w: a declaration needs the delimiters it stands for", ErrDialect)
	}
	if d.Packing > frame.WholeMessage {
		return fmt.Errorf("%w: packing %d", ErrDialect, d.Packing)
	}
	if d.TestCodeComponent < 1 || d.QuerySpecimenComponent < 1 {
		return fmt.Errorf("%w: component numbers start at 1", ErrDialect)
	}
	if d.MaxMessage < 0 || d.MaxMessage > MaxMaxMessage {
		return fmt.Errorf("%w: max-message %d is outside 1024..%d", ErrDialect, d.MaxMessage, MaxMaxMessage)
	}
	return nil
}

// Format writes the dialect file; ParseDialect(d.Format()) equals d.
func (d *Dialect) Format() []byte {
	var b bytes.Buffer
	b.WriteString(DialectHeader + "\n")
	kv := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s %s\n", k, v)
		}
	}
	kv("name", d.Name)
	kv("description", oneLine(d.Description))
	kv("source", oneLine(d.Source))
	kv("frame-numbers", yn(!d.Frame.NoFrameNumbers))
	kv("checksum", yn(!d.Frame.NoChecksum))
	kv("trailer", yn(!d.Frame.NoTrailer))
	kv("max-text", strconv.Itoa(d.Frame.Max()))
	kv("max-receive-text", strconv.Itoa(d.Frame.ReceiveMax()))
	kv("packing", d.Packing.String())
	delims := d.Record.Delimiters
	if delims == (record.Delimiters{}) {
		delims = record.Standard
	}
	kv("delimiters", delims.String())
	kv("declaration", d.Record.Declaration)
	kv("charset", d.Record.Charset.String())
	mark := "."
	if d.Record.DecimalMark == value.Comma {
		mark = ","
	}
	kv("decimal-mark", mark)
	kv("test-code-component", strconv.Itoa(d.TestCodeComponent))
	kv("query-specimen-component", strconv.Itoa(d.QuerySpecimenComponent))
	kv("reply-termination", d.ReplyTermination)
	kv("max-message", strconv.Itoa(d.MessageLimit()))
	return b.Bytes()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
