// Package hl7 parses, builds and serves HL7 version 2 messages for
// laboratory analysers: results (ORU^R01, with several ORC/OBR groups),
// orders (ORM^O01 for v2.3–2.4, OML^O33 — or OML^O21 — for v2.5 and
// later) and their replies (ORL^O34, ORL^O22, ORR^O02 or a plain ACK,
// ParseOrderReply), and acknowledgements (ACK with MSA-1 AA, AE or AR),
// over MLLP (lab/hl7/mllp).
//
// A message is segments ending in CR; MSH declares the delimiters in its
// first characters ("MSH|^~\&": field |, component ^, repeat ~, escape \,
// subcomponent &, and from v2.7 an optional truncation character), the
// version in MSH-12 and the character set in MSH-18. Fields are numbered as
// in the standard, MSH-1 being the field separator itself.
//
// Parsing is strict in the style of golang.org/x/mod: a message that cannot
// be read exactly — no MSH, bad delimiters, a bad escape sequence, a byte
// the declared character set cannot decode, OBX before any OBR — is a
// typed *Error naming the segment, field and byte, never a half-parsed
// value. Values go through lab/value, so "<0.5" (or SN "<^0.5") stays
// censored. Each message keeps its bytes exactly as received (Raw) with
// their SHA-256 (ID), and has an Identity — a digest that leaves out MSH-7
// and the choice of line ending — so that a retransmission is recognised.
// Batches (FHS/BHS … BTS/FTS) are split into their messages (ParseBatch).
//
// The Server acknowledges a message only after its Handler has kept it,
// answers every message whose MSH it can read, quarantines junk in bursts,
// spools over-size frames to disk and bounds how long a message may take to
// arrive; see Server. The wire format and the choices behind it are in
// firmware-notes/hl7-mllp.md.
package hl7

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/lab/charset"
)

// Delimiters are the separators MSH declares.
type Delimiters struct {
	Field, Component, Repeat, Escape, Subcomponent byte
	Truncation                                     byte // 0 if not declared (before v2.7)
}

// Standard is "|^~\&".
var Standard = Delimiters{Field: '|', Component: '^', Repeat: '~', Escape: '\\', Subcomponent: '&'}

// Encoding returns MSH-2 for d.
func (d Delimiters) Encoding() string {
	s := string([]byte{d.Component, d.Repeat, d.Escape, d.Subcomponent})
	if d.Truncation != 0 {
		s += string(d.Truncation)
	}
	return s
}

func (d Delimiters) validate() error {
	all := []byte{d.Field, d.Component, d.Repeat, d.Escape, d.Subcomponent}
	if d.Truncation != 0 {
		all = append(all, d.Truncation)
	}
	for i, c := range all {
		if c <= ' ' || c >= 0x7F || ('0' <= c && c <= '9') || ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') {
			return fmt.Errorf("%q cannot be a delimiter", c)
		}
		for _, o := range all[:i] {
			if o == c {
				return fmt.Errorf("%q is declared twice", c)
			}
		}
	}
	return nil
}

// A Comp is one component: its subcomponents.
type Comp []string

// A Rep is one repetition: its components.
type Rep []Comp

// A Field is its repetitions. An empty field is nil.
type Field []Rep

// Get returns repetition r, component c, subcomponent s (all 1-based).
func (f Field) Get(r, c, s int) string {
	if r < 1 || r > len(f) || c < 1 || c > len(f[r-1]) || s < 1 || s > len(f[r-1][c-1]) {
		return ""
	}
	return f[r-1][c-1][s-1]
}

// Text returns the first subcomponent of the first component of the first
// repetition.
func (f Field) Text() string { return f.Get(1, 1, 1) }

// Component returns component c of the first repetition (its first
// subcomponent).
func (f Field) Component(c int) string { return f.Get(1, c, 1) }

// IsEmpty reports whether f holds no text.
func (f Field) IsEmpty() bool {
	for _, r := range f {
		for _, c := range r {
			for _, s := range c {
				if s != "" {
					return false
				}
			}
		}
	}
	return true
}

// T makes a field of one text value.
func T(s string) Field {
	if s == "" {
		return nil
	}
	return Field{Rep{Comp{s}}}
}

// C makes a field of one repetition with the given components.
func C(comps ...string) Field {
	r := make(Rep, len(comps))
	for i, c := range comps {
		r[i] = Comp{c}
	}
	f := Field{r}
	if f.IsEmpty() {
		return nil
	}
	return f
}

// A Segment is one segment.
type Segment struct {
	Name string
	// Fields[n] is field n as numbered by the standard; Fields[0] is unused.
	// In MSH, Fields[1] is the field separator and Fields[2] the encoding
	// characters, as text.
	Fields []Field
}

// Field returns field n.
func (s *Segment) Field(n int) Field {
	if n < 1 || n >= len(s.Fields) {
		return nil
	}
	return s.Fields[n]
}

// Text returns the text of field n.
func (s *Segment) Text(n int) string { return s.Field(n).Text() }

// Set sets field n, growing the segment.
func (s *Segment) Set(n int, f Field) {
	for len(s.Fields) <= n {
		s.Fields = append(s.Fields, nil)
	}
	s.Fields[n] = f
}

// Seg builds a segment from fields 1, 2, ….
func Seg(name string, fields ...Field) Segment {
	return Segment{Name: name, Fields: append([]Field{nil}, fields...)}
}

// A Message is a parsed message.
type Message struct {
	Segments   []Segment
	Delimiters Delimiters
	Charset    charset.Charset
	// Raw is the message exactly as received: the bytes inside the frame
	// (for a message in a batch, its bytes as they appear in the batch),
	// terminators and all. Parse keeps the slice it is given.
	Raw []byte
	ID  chain.Hash // SHA-256 of Raw: the digest of the stored original
	// Identity recognises a retransmission: the SHA-256 of the message's
	// canonical form, which leaves out MSH-7 and the choice of segment
	// terminator but keeps everything else (see Identity).
	Identity chain.Hash
	// declared reports whether MSH-18 named the charset (otherwise it is
	// Options.DefaultCharset, which an acknowledgement does not repeat).
	declared bool
}

// MSH returns the header segment.
func (m *Message) MSH() *Segment { return &m.Segments[0] }

// Type returns MSH-9.1, e.g. "ORU".
func (m *Message) Type() string { return m.MSH().Field(9).Component(1) }

// Trigger returns MSH-9.2, e.g. "R01".
func (m *Message) Trigger() string { return m.MSH().Field(9).Component(2) }

// ControlID returns MSH-10.
func (m *Message) ControlID() string { return m.MSH().Text(10) }

// Version returns MSH-12.1, e.g. "2.5.1".
func (m *Message) Version() string { return m.MSH().Field(12).Component(1) }

// Find returns the segments named name.
func (m *Message) Find(name string) []*Segment {
	var out []*Segment
	for i := range m.Segments {
		if m.Segments[i].Name == name {
			out = append(out, &m.Segments[i])
		}
	}
	return out
}

// Errors wrapped by *Error.
var (
	ErrNoMSH      = errors.New("message does not start with MSH")
	ErrDelimiters = errors.New("bad delimiters")
	ErrSegment    = errors.New("bad segment name")
	ErrEscape     = errors.New("bad escape sequence")
	ErrCharset    = errors.New("text not in the declared character set")
	// ErrCharsetName: MSH-18 names a character set this package does not
	// support (it wraps ErrCharset).
	ErrCharsetName = fmt.Errorf("%w: unsupported MSH-18", ErrCharset)
	ErrControl     = errors.New("control character in text")
	ErrStructure   = errors.New("segments out of order")
	ErrMissing     = errors.New("required field missing")
	ErrType        = errors.New("unsupported message type")
	ErrEvent       = errors.New("unsupported trigger event")
	ErrVersion     = errors.New("unsupported HL7 version")
)

// An Error locates a problem in a message.
type Error struct {
	Segment int    // 1-based position, 0 if not in one segment
	Name    string // segment name, if known
	Field   int    // 0 if not in one field
	Offset  int    // byte offset within the segment, -1 if not known
	Err     error
	Detail  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("hl7")
	if e.Segment > 0 {
		fmt.Fprintf(&b, " segment %d", e.Segment)
		if e.Name != "" {
			fmt.Fprintf(&b, " (%s)", e.Name)
		}
	}
	if e.Field > 0 {
		fmt.Fprintf(&b, ", field %d", e.Field)
	}
	if e.Offset >= 0 {
		fmt.Fprintf(&b, ", byte %d", e.Offset)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Options configure parsing.
type Options struct {
	// DefaultCharset applies when MSH-18 is empty. The zero value is ASCII,
	// HL7's default; set Latin1 or Windows1252 for senders known to send
	// 8-bit text without declaring it.
	DefaultCharset charset.Charset
}

// Canonical returns raw with segment terminators (CR, LF or CR LF)
// normalised to CR, one after every segment, and empty segments dropped.
func Canonical(raw []byte) []byte {
	var out []byte
	for _, s := range splitSegments(raw) {
		out = append(append(out, s...), '\r')
	}
	return out
}

func splitSegments(raw []byte) [][]byte {
	var segs [][]byte
	for len(raw) > 0 {
		i := bytes.IndexAny(raw, "\r\n")
		var s []byte
		if i < 0 {
			s, raw = raw, nil
		} else {
			s = raw[:i]
			raw = raw[i+1:]
		}
		if len(s) > 0 {
			segs = append(segs, s)
		}
	}
	return segs
}

// Parse parses a message (the bytes inside the MLLP frame). The Message
// keeps raw as its Raw.
func Parse(raw []byte, opt Options) (*Message, error) {
	segs := splitSegments(raw)
	if len(segs) == 0 || len(segs[0]) < 8 || string(segs[0][:3]) != "MSH" {
		return nil, &Error{Segment: 1, Offset: 0, Err: ErrNoMSH}
	}
	msh := segs[0]
	d, derr := headerDelimiters(msh)
	if derr != nil {
		return nil, derr
	}
	// MSH-18 decides the charset for everything, MSH included; read it
	// from the raw bytes first.
	cs, declared, err := mshCharset(msh, d, opt)
	if err != nil {
		return nil, &Error{Segment: 1, Name: "MSH", Field: 18, Offset: -1, Err: ErrCharsetName, Detail: err.Error()}
	}
	p := &parser{d: d, cs: cs}
	m := &Message{Delimiters: d, Charset: cs, declared: declared, Segments: make([]Segment, 0, len(segs))}
	for i, s := range segs {
		seg, err := p.segment(s, i == 0)
		if err != nil {
			if e, ok := err.(*Error); ok {
				e.Segment = i + 1
			}
			return nil, err
		}
		m.Segments = append(m.Segments, seg)
	}
	m.Raw = raw
	m.ID = chain.Sum(raw)
	m.Identity = identity(raw, d.Field)
	return m, nil
}

// headerDelimiters reads the delimiters a header segment (MSH, BHS, FHS)
// declares in its first bytes.
func headerDelimiters(seg []byte) (Delimiters, *Error) {
	name := string(seg[:3])
	if len(seg) < 4 {
		return Delimiters{}, &Error{Segment: 1, Name: name, Field: 1, Offset: 3, Err: ErrDelimiters, Detail: "no field separator"}
	}
	d := Delimiters{Field: seg[3]}
	end := bytes.IndexByte(seg[4:], d.Field)
	if end < 0 {
		end = len(seg) - 4
	}
	enc := seg[4 : 4+end]
	if len(enc) != 4 && len(enc) != 5 {
		return d, &Error{Segment: 1, Name: name, Field: 2, Offset: 4, Err: ErrDelimiters, Detail: fmt.Sprintf("%s: want 4 or 5 encoding characters", quoted(enc))}
	}
	d.Component, d.Repeat, d.Escape, d.Subcomponent = enc[0], enc[1], enc[2], enc[3]
	if len(enc) == 5 {
		d.Truncation = enc[4]
		if d.Truncation == 0 { // Truncation 0 means "none declared": a NUL declared would vanish
			return d, &Error{Segment: 1, Name: name, Field: 2, Offset: 3, Err: ErrDelimiters, Detail: fmt.Sprintf("%q cannot be a delimiter", enc[4])}
		}
	}
	if err := d.validate(); err != nil {
		return d, &Error{Segment: 1, Name: name, Field: 2, Offset: 3, Err: ErrDelimiters, Detail: err.Error()}
	}
	return d, nil
}

// mshCharset reads MSH-18 (its first repetition) from the raw segment.
func mshCharset(msh []byte, d Delimiters, opt Options) (cs charset.Charset, declared bool, err error) {
	f18 := rawField(msh, d.Field, 18)
	if len(f18) == 0 {
		return opt.DefaultCharset, false, nil
	}
	if i := bytes.IndexByte(f18, d.Repeat); i >= 0 {
		f18 = f18[:i] // the first repetition is the message's charset
	}
	cs, err = ParseMSH18(string(f18))
	return cs, err == nil && len(bytes.TrimSpace(f18)) > 0, err
}

// readHeader reads just the MSH of a message that did not parse, so that
// it can still be answered: it needs "MSH" and valid delimiters, and keeps
// whatever fields decode (a field that does not is left empty; with an
// unsupported MSH-18 the fields are read as ASCII). It returns nil if the
// MSH cannot be read.
func readHeader(raw []byte, opt Options) *Message {
	segs := splitSegments(raw)
	if len(segs) == 0 || len(segs[0]) < 8 || string(segs[0][:3]) != "MSH" {
		return nil
	}
	d, derr := headerDelimiters(segs[0])
	if derr != nil {
		return nil
	}
	cs, declared, err := mshCharset(segs[0], d, opt)
	if err != nil {
		cs, declared = charset.ASCII, false
	}
	p := &parser{d: d, cs: cs, lenient: true}
	seg, serr := p.segment(segs[0], true)
	if serr != nil {
		return nil
	}
	return &Message{Segments: []Segment{seg}, Delimiters: d, Charset: cs, declared: declared, Raw: raw, ID: chain.Sum(raw)}
}

// rawField returns field n of an MSH segment, undecoded.
func rawField(msh []byte, fd byte, n int) []byte {
	// msh[3] is MSH-1; fields from MSH-2 follow, separated by fd.
	parts := bytes.Split(msh[4:], []byte{fd})
	if n-2 < len(parts) && n >= 2 {
		return parts[n-2]
	}
	return nil
}

type parser struct {
	d       Delimiters
	cs      charset.Charset
	lenient bool // a field that does not decode is left empty (readHeader)
}

func validName(n []byte) bool {
	if len(n) != 3 || n[0] < 'A' || n[0] > 'Z' {
		return false
	}
	for _, c := range n[1:] {
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

func (p *parser) segment(s []byte, first bool) (Segment, error) {
	d := p.d
	nameEnd := bytes.IndexByte(s, d.Field)
	if nameEnd < 0 {
		nameEnd = len(s)
	}
	if !validName(s[:nameEnd]) {
		return Segment{}, &Error{Offset: 0, Err: ErrSegment, Detail: fmt.Sprintf("%s", quoted(s[:nameEnd]))}
	}
	name := string(s[:nameEnd])
	seg := Segment{Name: name, Fields: []Field{nil}}
	rest := s[nameEnd:]
	off := nameEnd
	n := 1
	if name == "MSH" || first && (name == "BHS" || name == "FHS") {
		if !first {
			return Segment{}, &Error{Name: name, Offset: 0, Err: ErrStructure, Detail: "second MSH segment"}
		}
		enc := d.Encoding()
		seg.Fields = append(seg.Fields, T(string(d.Field)), T(enc))
		rest = rest[1+len(enc):]
		off += 1 + len(enc)
		n = 3
	} else if first {
		return Segment{}, &Error{Name: name, Offset: 0, Err: ErrNoMSH}
	}
	if len(rest) == 0 {
		return seg, nil
	}
	// rest starts with the field separator before field n.
	fields := bytes.Split(rest[1:], []byte{d.Field})
	off++
	for _, fb := range fields {
		f, err := p.field(fb, off)
		if err != nil && p.lenient {
			f, err = nil, nil
		}
		if err != nil {
			err.Name, err.Field = name, n
			return Segment{}, err
		}
		seg.Fields = append(seg.Fields, f)
		off += len(fb) + 1
		n++
	}
	return seg, nil
}

func (p *parser) field(b []byte, off int) (Field, *Error) {
	if len(b) == 0 {
		return nil, nil
	}
	d := p.d
	var f Field
	for _, rb := range splitKeep(b, d.Repeat) {
		var r Rep
		for _, cb := range splitKeep(rb.b, d.Component) {
			var c Comp
			for _, sb := range splitKeep(cb.b, d.Subcomponent) {
				s, err := p.text(sb.b, off+rb.at+cb.at+sb.at)
				if err != nil {
					return nil, err
				}
				c = append(c, s)
			}
			r = append(r, c)
		}
		f = append(f, r)
	}
	if f.IsEmpty() && len(f) == 1 {
		return nil, nil
	}
	return f, nil
}

type piece struct {
	b  []byte
	at int
}

// splitKeep splits on sep, remembering offsets.
func splitKeep(b []byte, sep byte) []piece {
	var out []piece
	start := 0
	for i, c := range b {
		if c == sep {
			out = append(out, piece{b[start:i], start})
			start = i + 1
		}
	}
	return append(out, piece{b[start:], start})
}

// text unescapes and decodes one subcomponent. Every standard escape is
// decoded into the value: \F\ \S\ \T\ \R\ \E\ (delimiters), \P\ (the
// truncation character, where MSH-2 declares one), \Xhh…\ (bytes in the
// message's charset, control bytes included) and \.br\ (a line break,
// "\n"). Formatting commands (\H\ \N\ \.sp\ \.in\ \.ti\ \.sk\ \.ce\ \.fi\
// \.nf\) and locally defined escapes (\Z…\) have no plain-text meaning and
// stay in the value as written, with a backslash whatever the message's
// escape character. Character-set switching (\C…\, \M…\) is refused, since
// what follows it would be decoded in the wrong charset; so is anything
// that is not an escape at all (an unescaped escape character).
func (p *parser) text(b []byte, off int) (string, *Error) {
	d := p.d
	var buf []byte
	plain := true
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c < 0x20 && c != '\t' || c == 0x7F {
			return "", &Error{Offset: off + i, Err: ErrControl, Detail: fmt.Sprintf("0x%02X", c)}
		}
		if c != d.Escape {
			buf = append(buf, c)
			continue
		}
		plain = false
		j := bytes.IndexByte(b[i+1:], d.Escape)
		if j < 0 {
			return "", &Error{Offset: off + i, Err: ErrEscape, Detail: "no closing escape character"}
		}
		code := b[i+1 : i+1+j]
		switch {
		case string(code) == "F":
			buf = append(buf, d.Field)
		case string(code) == "S":
			buf = append(buf, d.Component)
		case string(code) == "T":
			buf = append(buf, d.Subcomponent)
		case string(code) == "R":
			buf = append(buf, d.Repeat)
		case string(code) == "E":
			buf = append(buf, d.Escape)
		case string(code) == "P" && d.Truncation != 0:
			buf = append(buf, d.Truncation)
		case string(code) == "P":
			buf = append(buf, `\P\`...) // no truncation character declared: kept as text
		case string(code) == ".br":
			buf = append(buf, '\n')
		case len(code) > 0 && code[0] == 'X':
			if len(code) < 3 || len(code)%2 == 0 {
				return "", &Error{Offset: off + i, Err: ErrEscape, Detail: fmt.Sprintf("%s: want an even number of hexadecimal digits", quoted(code))}
			}
			for k := 1; k < len(code); k += 2 {
				hi, ok1 := hexVal(code[k])
				lo, ok2 := hexVal(code[k+1])
				if !ok1 || !ok2 {
					return "", &Error{Offset: off + i, Err: ErrEscape, Detail: fmt.Sprintf("%s is not hexadecimal", quoted(code))}
				}
				buf = append(buf, hi<<4|lo)
			}
		case formatting(code):
			buf = append(buf, '\\')
			buf = append(buf, code...)
			buf = append(buf, '\\')
		case len(code) > 0 && (code[0] == 'C' || code[0] == 'M'):
			return "", &Error{Offset: off + i, Err: ErrEscape, Detail: fmt.Sprintf("%s: character set switching is not supported", quoted(code))}
		default:
			return "", &Error{Offset: off + i, Err: ErrEscape, Detail: fmt.Sprintf("%s is not an escape sequence (an escape character %q must be written \\E\\)", quoted(b[i:i+j+2]), d.Escape)}
		}
		i += j + 1
	}
	if plain {
		buf = b
	}
	s, at, detail := decode(p.cs, buf)
	if detail != "" {
		if plain {
			off += at
		}
		return "", &Error{Offset: off, Err: ErrCharset, Detail: detail}
	}
	return s, nil
}

// formatting reports whether an escape's code is a formatting command or a
// locally defined escape, kept in the value as text.
func formatting(code []byte) bool {
	s := string(code)
	switch s {
	case "H", "N", ".ce", ".fi", ".nf":
		return true
	}
	if len(s) > 0 && s[0] == 'Z' {
		return printableASCII(s[1:])
	}
	for _, cmd := range []string{".sp", ".sk"} {
		if strings.HasPrefix(s, cmd) {
			return digits(s[len(cmd):])
		}
	}
	for _, cmd := range []string{".in", ".ti"} {
		if strings.HasPrefix(s, cmd) {
			n := s[len(cmd):]
			if n != "" && (n[0] == '+' || n[0] == '-') {
				n = n[1:]
			}
			return digits(n)
		}
	}
	return false
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7F {
			return false
		}
	}
	return true
}

func hexVal(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// printable shows bytes of a message in an error: at most 40 of them,
// control bytes and bytes outside ASCII as \xHH, so that the text can be
// sent back in an acknowledgement whatever the message's charset.
func printable(b []byte) string {
	var sb strings.Builder
	for i, c := range b {
		if i == 40 {
			sb.WriteString("...")
			break
		}
		if c < 0x20 || c >= 0x7F {
			fmt.Fprintf(&sb, "\\x%02X", c)
			continue
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

// Encode writes m's segments in its delimiters and charset, each followed
// by CR. Text holding a delimiter is escaped; a line break becomes \.br\
// and another control character \Xhh\.
func Encode(segs []Segment, d Delimiters, cs charset.Charset) ([]byte, error) {
	if err := d.validate(); err != nil {
		return nil, fmt.Errorf("hl7: %w: %v", ErrDelimiters, err)
	}
	var out []byte
	for i, s := range segs {
		if (s.Name == "MSH") != (i == 0) {
			return nil, &Error{Segment: i + 1, Name: s.Name, Offset: -1, Err: ErrStructure, Detail: "MSH must come first, once"}
		}
		var err error
		if out, err = appendSegment(out, s, i, d, cs); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// appendSegment encodes segment i (0-based) of a message; MSH, BHS and FHS
// declare the delimiters in their fields 1 and 2.
func appendSegment(out []byte, s Segment, i int, d Delimiters, cs charset.Charset) ([]byte, error) {
	if !validName([]byte(s.Name)) {
		return nil, &Error{Segment: i + 1, Offset: -1, Err: ErrSegment, Detail: fmt.Sprintf("%q", s.Name)}
	}
	out = append(out, s.Name...)
	from := 1
	if s.Name == "MSH" || s.Name == "BHS" || s.Name == "FHS" {
		out = append(out, d.Field)
		out = append(out, d.Encoding()...)
		from = 3
	}
	last := len(s.Fields) - 1
	for last >= from && s.Fields[last].IsEmpty() {
		last--
	}
	for n := from; n <= last; n++ {
		out = append(out, d.Field)
		for ri, r := range s.Fields[n] {
			if ri > 0 {
				out = append(out, d.Repeat)
			}
			for ci, c := range r {
				if ci > 0 {
					out = append(out, d.Component)
				}
				for si, sub := range c {
					if si > 0 {
						out = append(out, d.Subcomponent)
					}
					var err error
					if out, err = appendText(out, sub, d, cs); err != nil {
						return nil, &Error{Segment: i + 1, Name: s.Name, Field: n, Offset: -1, Err: errors.Unwrap(err), Detail: err.Error()}
					}
				}
			}
		}
	}
	return append(out, '\r'), nil
}

func appendText(dst []byte, s string, d Delimiters, cs charset.Charset) ([]byte, error) {
	start := 0
	flush := func(i int) error {
		var err error
		dst, err = encode(cs, dst, s[start:i])
		return err
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		var code string
		switch {
		case c == d.Field:
			code = "F"
		case c == d.Component:
			code = "S"
		case c == d.Subcomponent:
			code = "T"
		case c == d.Repeat:
			code = "R"
		case c == d.Escape:
			code = "E"
		case d.Truncation != 0 && c == d.Truncation:
			code = "P"
		case c == '\n':
			code = ".br"
		case c < 0x20 && c != '\t' || c == 0x7F:
			code = fmt.Sprintf("X%02X", c)
		default:
			continue
		}
		if err := flush(i); err != nil {
			return dst, err
		}
		dst = append(dst, d.Escape)
		dst = append(dst, code...)
		dst = append(dst, d.Escape)
		start = i + 1
	}
	return dst, flush(len(s))
}

// quoted is printable(b) in double quotes.
func quoted(b []byte) string { return `"` + printable(b) + `"` }
