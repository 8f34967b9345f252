// Package record parses and formats the records of ASTM E1394 / CLSI
// LIS2-A2, the message layer spoken by clinical analysers over the E1381 /
// LIS1-A link (lab/astm/link).
//
// A message is a sequence of records, each ending in CR:
//
//	H|\^&|||EdgeSim^1.0|||||||P|LIS2-A2|20240612103000
//	P|1||CASE-0001
//	O|1|S240612-0001||^^^BENZ\^^^GHB|R||||||N||||URINE
//	R|1|^^^GHB|42.0|mg/L|0-10|H||F||||20240612102900
//	L|1|N
//
// The first letter is the record type: H header, P patient, O order, R
// result, C comment, Q request (host query), M manufacturer, S scientific, L
// terminator. The header declares the delimiters in its first characters:
// after "H" come the field delimiter and then, as field 2, the repeat,
// component and escape delimiters ("|\^&" above: field |, repeat \,
// component ^, escape &). Some instruments declare others (GeneXpert
// "|@^\", SELECTRA "|\!~"); some write a declaration that is not standard
// at all (Yumizen "|\\^&"), which Options.Declaration accepts verbatim.
// Inside text the escape delimiter introduces &F& &S& &R& &E& for a literal
// field, component, repeat or escape delimiter; no other escape sequence is
// accepted.
//
// Fields are numbered as in the standard: field 1 is the record type, field 2
// the sequence number (except in H, where it is the delimiter declaration).
// A Record holds Fields; a Field holds one or more Repeats; a Repeat holds
// one or more components, decoded from the wire charset into Go strings
// (by lab/charset, which HL7 shares).
// Typed views (Header, Patient, Order, Result, Comment, Query, Terminator)
// name the fields that matter, and ParseMessage checks the record hierarchy
// (P, then O under it, then R under that).
//
// Parsing is strict: a record that cannot be read exactly — unknown type,
// bad escape, control character, byte the charset cannot decode, broken
// hierarchy — is an *Error naming the record, field and byte, never a
// half-parsed value. Measurement values are classified by lab/value, so
// "<0.5" stays censored and "7,41" is a number only in a decimal-comma
// dialect. The format is specified in firmware-notes/astm-lis2a2.md.
package record

import (
	"errors"
	"fmt"
	"strings"

	"github.com/exhibit-forensics/exhibit/lab/charset"
	"github.com/exhibit-forensics/exhibit/lab/value"
)

// Delimiters are the four separators a header declares.
type Delimiters struct {
	Field, Repeat, Component, Escape byte
}

// Standard is the LIS2-A2 default, declared as "H|\^&".
var Standard = Delimiters{Field: '|', Repeat: '\\', Component: '^', Escape: '&'}

// Declaration returns the standard form of header field 2 for d: repeat,
// component and escape delimiters.
func (d Delimiters) Declaration() string {
	return string([]byte{d.Repeat, d.Component, d.Escape})
}

// Validate checks the delimiters are four distinct printable ASCII
// punctuation characters.
func (d Delimiters) Validate() error {
	all := []byte{d.Field, d.Repeat, d.Component, d.Escape}
	for i, c := range all {
		if c <= ' ' || c >= 0x7F || ('0' <= c && c <= '9') || ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') {
			return fmt.Errorf("%w: %q cannot be a delimiter", ErrDelimiters, c)
		}
		for _, o := range all[:i] {
			if o == c {
				return fmt.Errorf("%w: %q is declared twice", ErrDelimiters, c)
			}
		}
	}
	return nil
}

func (d Delimiters) String() string { return string([]byte{d.Field, d.Repeat, d.Component, d.Escape}) }

// ParseDelimiters parses the four-character form returned by String
// (field, repeat, component, escape), e.g. `|\^&`.
func ParseDelimiters(s string) (Delimiters, error) {
	if len(s) != 4 {
		return Delimiters{}, fmt.Errorf("%w: %q is not four characters", ErrDelimiters, s)
	}
	d := Delimiters{s[0], s[1], s[2], s[3]}
	return d, d.Validate()
}

// A Repeat is one repetition of a field: its components, 1-based in the
// standard, 0-based here.
type Repeat []string

// Component returns component c (1-based), or "" if absent.
func (r Repeat) Component(c int) string {
	if c < 1 || c > len(r) {
		return ""
	}
	return r[c-1]
}

// A Field is a list of repeats. An empty field is nil.
type Field []Repeat

// Text returns the first component of the first repeat.
func (f Field) Text() string { return f.Component(1) }

// Component returns component c (1-based) of the first repeat.
func (f Field) Component(c int) string {
	if len(f) == 0 {
		return ""
	}
	return f[0].Component(c)
}

// IsEmpty reports whether the field carries no text.
func (f Field) IsEmpty() bool {
	for _, r := range f {
		for _, c := range r {
			if c != "" {
				return false
			}
		}
	}
	return true
}

// Text returns a field holding the single component s (nil if s is empty).
func Text(s string) Field {
	if s == "" {
		return nil
	}
	return Field{Repeat{s}}
}

// Components returns a field of one repeat with the given components.
func Components(c ...string) Field {
	f := Field{Repeat(c)}
	if f.IsEmpty() {
		return nil
	}
	return f
}

// A Record is one parsed record.
type Record struct {
	Type byte
	// Fields[i] is field i+1 of the standard; Fields[0] is the type.
	Fields []Field
	// Raw is the record as received, in the wire charset, without its CR.
	// It is nil for records built in code.
	Raw []byte
}

// Field returns field n (1-based, as numbered by the standard).
func (r *Record) Field(n int) Field {
	if n < 1 || n > len(r.Fields) {
		return nil
	}
	return r.Fields[n-1]
}

// Text returns the first component of the first repeat of field n.
func (r *Record) Text(n int) string { return r.Field(n).Text() }

// Set replaces field n (1-based; n ≥ 2), growing the record as needed.
func (r *Record) Set(n int, f Field) {
	if n < 2 {
		panic("record: Set of field 1, the record type")
	}
	if len(r.Fields) == 0 {
		r.Fields = []Field{Text(string(r.Type))}
	}
	for len(r.Fields) < n {
		r.Fields = append(r.Fields, nil)
	}
	r.Fields[n-1] = f
}

// New returns a record of type t with its type field set.
func New(t byte) Record { return Record{Type: t, Fields: []Field{Text(string(t))}} }

// Errors wrapped by *Error.
var (
	ErrType       = errors.New("unknown record type")
	ErrDelimiters = errors.New("bad delimiter declaration")
	ErrEscape     = errors.New("bad escape sequence")
	ErrControl    = errors.New("control character in record")
	ErrCharset    = errors.New("text not in the declared charset")
	ErrSequence   = errors.New("bad sequence number")
	ErrStructure  = errors.New("records out of order")
	ErrEmpty      = errors.New("empty record")
)

// An Error locates a problem in a record or message.
type Error struct {
	Record int  // 1-based position in the message; 0 for a lone record
	Type   byte // record type, 0 if unknown
	Field  int  // 1-based field, 0 if the problem is not in one field
	Offset int  // byte offset in the raw record, -1 if not known
	Err    error
	Detail string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("astm record")
	if e.Record > 0 {
		fmt.Fprintf(&b, " %d", e.Record)
	}
	if e.Type != 0 {
		fmt.Fprintf(&b, " (%c)", e.Type)
	}
	if e.Field > 0 {
		fmt.Fprintf(&b, ", field %d", e.Field)
	}
	if e.Offset >= 0 {
		fmt.Fprintf(&b, ", byte %d", e.Offset)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Options configure parsing and formatting.
type Options struct {
	// Charset of the text on the wire. The zero value is ASCII; dialects
	// default to Latin1 (lab/astm.ParseDialect).
	Charset charset.Charset
	// Declaration, if set, is a non-standard header field 2 that this
	// dialect sends (Yumizen: `\\^&`). A header carrying exactly it is read
	// with Delimiters; any other header must declare delimiters the standard
	// way. Formatting writes Declaration instead of the standard form.
	Declaration string
	// Delimiters are used for formatting, and for parsing together with
	// Declaration. The zero value means Standard.
	Delimiters Delimiters
	// DecimalMark of numbers in results; 0 means value.Point.
	DecimalMark value.Mark
}

func (o Options) delims() Delimiters {
	if o.Delimiters == (Delimiters{}) {
		return Standard
	}
	return o.Delimiters
}

// Validate checks the options.
func (o Options) Validate() error {
	if err := o.delims().Validate(); err != nil {
		return err
	}
	if o.Declaration != "" {
		for _, c := range []byte(o.Declaration) {
			if c <= ' ' || c >= 0x7F || c == o.delims().Field {
				return fmt.Errorf("%w: declaration %q", ErrDelimiters, o.Declaration)
			}
		}
	}
	switch o.DecimalMark {
	case 0, value.Point, value.Comma:
	default:
		return fmt.Errorf("record: decimal mark %q is not '.' or ','", o.DecimalMark)
	}
	if !o.Charset.Valid() {
		return fmt.Errorf("record: %w %d", charset.ErrUnknown, o.Charset)
	}
	return nil
}

// KnownType reports whether t is a LIS2-A2 record type.
func KnownType(t byte) bool { return strings.IndexByte("HPORCQMSL", t) >= 0 }

// A Parser parses the records of one message: first the header, which fixes
// the delimiters, then the others.
type Parser struct {
	opt Options
	d   Delimiters
	hdr bool
	// scratch, reused from record to record
	buf, text []byte
	comps     [][2]int
	reps      []int
	flds      []int
}

// NewParser returns a parser for a message under opt.
func NewParser(opt Options) *Parser { return &Parser{opt: opt} }

// Delimiters returns the delimiters in force (after the header).
func (p *Parser) Delimiters() (Delimiters, bool) { return p.d, p.hdr }

// ParseHeader parses an H record, fixing the delimiters for the records that
// follow.
func (p *Parser) ParseHeader(raw []byte) (Record, error) {
	fail := func(off int, err error, detail string) (Record, error) {
		return Record{}, &Error{Type: 'H', Field: 2, Offset: off, Err: err, Detail: detail}
	}
	if len(raw) < 2 || raw[0] != 'H' {
		return Record{}, &Error{Offset: 0, Err: ErrStructure, Detail: "a message must start with an H record"}
	}
	fd := raw[1]
	end := len(raw)
	for i := 2; i < len(raw); i++ {
		if raw[i] == fd {
			end = i
			break
		}
	}
	decl := string(raw[2:end])
	var d Delimiters
	switch {
	case p.opt.Declaration != "" && decl == p.opt.Declaration && fd == p.opt.delims().Field:
		d = p.opt.delims()
	case len(decl) == 3:
		d = Delimiters{Field: fd, Repeat: decl[0], Component: decl[1], Escape: decl[2]}
	default:
		detail := fmt.Sprintf("%q declares %d delimiters after the field delimiter, want 3", decl, len(decl))
		if p.opt.Declaration != "" {
			detail += fmt.Sprintf(" (or this dialect's %q)", p.opt.Declaration)
		}
		return fail(2, ErrDelimiters, detail)
	}
	if err := d.Validate(); err != nil {
		return fail(1, err, "")
	}
	p.d, p.hdr = d, true
	rec := Record{Type: 'H', Raw: raw, Fields: []Field{Text("H"), Text(decl)}}
	if end < len(raw) {
		if err := p.fields(&rec, raw, end+1, 3); err != nil {
			return Record{}, err
		}
	}
	return rec, nil
}

// Parse parses a record other than the header. The header must have been
// parsed first.
func (p *Parser) Parse(raw []byte) (Record, error) {
	if len(raw) == 0 {
		return Record{}, &Error{Offset: 0, Err: ErrEmpty}
	}
	if raw[0] == 'H' {
		if p.hdr {
			return Record{}, &Error{Type: 'H', Offset: 0, Err: ErrStructure, Detail: "second H record in a message"}
		}
		return p.ParseHeader(raw)
	}
	if !p.hdr {
		return Record{}, &Error{Type: raw[0], Offset: 0, Err: ErrStructure, Detail: "record before the H record"}
	}
	t := raw[0]
	if !KnownType(t) {
		return Record{}, &Error{Offset: 0, Err: ErrType, Detail: fmt.Sprintf("%q", t)}
	}
	if len(raw) > 1 && raw[1] != p.d.Field {
		return Record{}, &Error{Type: t, Field: 1, Offset: 1, Err: ErrType, Detail: fmt.Sprintf("type %q is not one letter followed by %q", raw[:2], p.d.Field)}
	}
	rec := Record{Type: t, Raw: raw, Fields: []Field{typeFields[t]}}
	if len(raw) > 2 {
		if err := p.fields(&rec, raw, 2, 2); err != nil {
			return Record{}, err
		}
	} else if len(raw) == 2 {
		rec.Fields = append(rec.Fields, nil)
	}
	return rec, nil
}

// fields parses raw[start:] as fields numbered from n. It decodes every
// component into one buffer and slices the strings, repeats and fields out
// of a few shared allocations.
func (p *Parser) fields(rec *Record, raw []byte, start, n int) error {
	d := p.d
	p.text, p.comps, p.reps, p.flds, p.buf = p.text[:0], p.comps[:0], p.reps[:0], p.flds[:0], p.buf[:0]
	cs := start // offset in raw where the current component starts
	field := n
	for i := start; ; i++ {
		if i == len(raw) {
			if err := p.endComp(rec, field, cs); err != nil {
				return err
			}
			p.reps = append(p.reps, len(p.comps))
			p.flds = append(p.flds, len(p.reps))
			break
		}
		c := raw[i]
		switch {
		case c == d.Escape:
			j := i + 1
			for j < len(raw) && raw[j] != d.Escape {
				j++
			}
			if j == len(raw) {
				return &Error{Type: rec.Type, Field: field, Offset: i, Err: ErrEscape, Detail: "escape delimiter with no closing one"}
			}
			var lit byte
			switch string(raw[i+1 : j]) {
			case "F":
				lit = d.Field
			case "S":
				lit = d.Component
			case "R":
				lit = d.Repeat
			case "E":
				lit = d.Escape
			default:
				return &Error{Type: rec.Type, Field: field, Offset: i, Err: ErrEscape, Detail: fmt.Sprintf("%q is not &F& &S& &R& or &E&", raw[i:j+1])}
			}
			p.buf = append(p.buf, lit)
			i = j
		case c == d.Field:
			if err := p.endComp(rec, field, cs); err != nil {
				return err
			}
			p.reps = append(p.reps, len(p.comps))
			p.flds = append(p.flds, len(p.reps))
			field++
			cs = i + 1
		case c == d.Repeat:
			if err := p.endComp(rec, field, cs); err != nil {
				return err
			}
			p.reps = append(p.reps, len(p.comps))
			cs = i + 1
		case c == d.Component:
			if err := p.endComp(rec, field, cs); err != nil {
				return err
			}
			cs = i + 1
		case c < 0x20 && c != '\t' || c == 0x7F:
			return &Error{Type: rec.Type, Field: field, Offset: i, Err: ErrControl, Detail: fmt.Sprintf("0x%02X", c)}
		default:
			p.buf = append(p.buf, c)
		}
	}
	// Build the strings, repeats and fields from the spans.
	all := string(p.text)
	strs := make([]string, len(p.comps))
	for i, sp := range p.comps {
		strs[i] = all[sp[0]:sp[1]]
	}
	reps := make([]Repeat, len(p.reps))
	c0 := 0
	for i, c1 := range p.reps {
		reps[i] = Repeat(strs[c0:c1:c1])
		c0 = c1
	}
	fields := make([]Field, len(rec.Fields), len(rec.Fields)+len(p.flds))
	copy(fields, rec.Fields)
	r0 := 0
	for _, r1 := range p.flds {
		f := Field(reps[r0:r1:r1])
		if len(f) == 1 && f.IsEmpty() {
			f = nil
		}
		fields = append(fields, f)
		r0 = r1
	}
	rec.Fields = fields
	return nil
}

// endComp ends the component held in p.buf, which started at byte cs.
func (p *Parser) endComp(rec *Record, field, cs int) error {
	from := len(p.text)
	var err error
	if p.text, err = p.opt.Charset.AppendDecoded(p.text, p.buf); err != nil {
		at := 0
		var de *charset.DecodeError
		if errors.As(err, &de) {
			at = de.Offset
		}
		return &Error{Type: rec.Type, Field: field, Offset: cs + at, Err: ErrCharset, Detail: err.Error()}
	}
	p.comps = append(p.comps, [2]int{from, len(p.text)})
	p.buf = p.buf[:0]
	return nil
}

// typeFields holds field 1 of each record type, shared by all records.
var typeFields = func() map[byte]Field {
	m := map[byte]Field{}
	for _, t := range []byte("HPORCQMSL") {
		m[t] = Field{Repeat{string(t)}}
	}
	return m
}()

// An Encoder formats records for the wire.
type Encoder struct {
	opt Options
	d   Delimiters
}

// NewEncoder returns an encoder for opt.
func NewEncoder(opt Options) (*Encoder, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	return &Encoder{opt: opt, d: opt.delims()}, nil
}

// Append appends the wire form of r, without a CR, to dst. The H record's
// field 2 is written from the encoder's options, whatever r holds. Trailing
// empty fields are left out.
func (e *Encoder) Append(dst []byte, r Record) ([]byte, error) {
	if !KnownType(r.Type) {
		return dst, &Error{Offset: -1, Err: ErrType, Detail: fmt.Sprintf("%q", r.Type)}
	}
	orig := len(dst)
	dst = append(dst, r.Type)
	first := 2
	if r.Type == 'H' {
		dst = append(dst, e.d.Field)
		if e.opt.Declaration != "" {
			dst = append(dst, e.opt.Declaration...)
		} else {
			dst = append(dst, e.d.Declaration()...)
		}
		first = 3
	}
	last := len(r.Fields)
	for last > first-1 && r.Fields[last-1].IsEmpty() {
		last--
	}
	for n := first; n <= last; n++ {
		dst = append(dst, e.d.Field)
		var err error
		dst, err = e.appendField(dst, r.Fields[n-1])
		if err != nil {
			return dst[:orig], &Error{Type: r.Type, Field: n, Offset: -1, Err: errors.Unwrap(err), Detail: err.Error()}
		}
	}
	return dst, nil
}

func (e *Encoder) appendField(dst []byte, f Field) ([]byte, error) {
	for i, rep := range f {
		if i > 0 {
			dst = append(dst, e.d.Repeat)
		}
		for j, comp := range rep {
			if j > 0 {
				dst = append(dst, e.d.Component)
			}
			var err error
			if dst, err = e.appendText(dst, comp); err != nil {
				return dst, err
			}
		}
	}
	return dst, nil
}

func (e *Encoder) appendText(dst []byte, s string) ([]byte, error) {
	d := e.d
	start := 0
	flush := func(i int) error {
		var err error
		if dst, err = e.opt.Charset.Append(dst, s[start:i]); err != nil {
			return fmt.Errorf("%w: %v", ErrCharset, err)
		}
		return nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		var code byte
		switch {
		case c == d.Field:
			code = 'F'
		case c == d.Component:
			code = 'S'
		case c == d.Repeat:
			code = 'R'
		case c == d.Escape:
			code = 'E'
		case c < 0x20 && c != '\t' || c == 0x7F:
			return dst, fmt.Errorf("%w: 0x%02X in %q", ErrControl, c, s)
		default:
			continue
		}
		if err := flush(i); err != nil {
			return dst, err
		}
		dst = append(dst, d.Escape, code, d.Escape)
		start = i + 1
	}
	return dst, flush(len(s))
}

// FormatField returns the text of f with the delimiters d, escaped, as a Go
// string (not in any wire charset). It is used where a value with
// components must be shown as one string.
func FormatField(f Field, d Delimiters) string {
	e := &Encoder{opt: Options{Charset: charset.UTF8}, d: d}
	b, err := e.appendField(nil, f)
	if err != nil {
		// Only control characters fail, and parsed fields hold none.
		return fmt.Sprintf("%q", f)
	}
	return string(b)
}
