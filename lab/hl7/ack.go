package hl7

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/exhibit-forensics/exhibit/lab/charset"
	"github.com/exhibit-forensics/exhibit/lab/hl7/mllp"
)

// An Ack is a parsed ACK.
type Ack struct {
	Code      string // MSA-1: AA, AE, AR (or CA, CE, CR in enhanced mode)
	ControlID string // MSA-2: the control id of the message acknowledged
	Text      string // MSA-3
	Message   *Message
}

// Acknowledgement codes.
const (
	AA = "AA" // application accept
	AE = "AE" // application error: the sender may send the message again
	AR = "AR" // application reject: do not send it again as it is
)

// ParseAck reads an ACK's MSA segment.
func ParseAck(m *Message) (*Ack, error) {
	msa := m.Find("MSA")
	if len(msa) == 0 {
		return nil, &Error{Offset: -1, Err: ErrMissing, Detail: "no MSA segment"}
	}
	a := &Ack{Code: msa[0].Text(1), ControlID: msa[0].Text(2), Text: msa[0].Text(3), Message: m}
	switch a.Code {
	case AA, AE, AR, "CA", "CE", "CR":
	default:
		return nil, &Error{Name: "MSA", Field: 1, Offset: -1, Err: ErrMissing, Detail: fmt.Sprintf("%q is not an acknowledgement code", a.Code)}
	}
	return a, nil
}

// ErrRefused is what a Handler's Accept wraps to say: "I have kept this
// message in quarantine and refuse it for good". The Server answers AR
// (not AE, which asks for the message again) with an ERR giving code 207,
// or the code of a *Refusal in the error chain, and the error's text.
var ErrRefused = errors.New("refused by the receiver")

// A Refusal is an ErrRefused with its own HL7 table 0357 code.
type Refusal struct {
	Code   string // ERR-3 code, e.g. "204"; "" means 207 (application internal error)
	Reason string
}

func (r *Refusal) Error() string { return "hl7: message refused: " + r.Reason }

// Is makes errors.Is(r, ErrRefused) true.
func (r *Refusal) Is(target error) bool { return target == ErrRefused }

// table0357 names the codes of HL7 table 0357 (message error condition
// codes) that this package sends.
var table0357 = map[string]string{
	"100": "Segment sequence error",
	"101": "Required field missing",
	"102": "Data type error",
	"103": "Table value not found",
	"200": "Unsupported message type",
	"201": "Unsupported event code",
	"202": "Unsupported processing id",
	"203": "Unsupported version id",
	"204": "Unknown key identifier",
	"205": "Duplicate key identifier",
	"206": "Application record locked",
	"207": "Application internal error",
}

// errCode maps the cause of an AE or AR to an HL7 table 0357 code for
// ERR-3 and its text.
func errCode(err error) (string, string) {
	code := "207"
	var rf *Refusal
	switch {
	case err == nil:
	case errors.As(err, &rf) && table0357[rf.Code] != "":
		code = rf.Code
	case errors.Is(err, ErrRefused):
	case errors.Is(err, ErrStructure):
		code = "100"
	case errors.Is(err, ErrMissing):
		code = "101"
	case errors.Is(err, ErrCharsetName):
		code = "103"
	case errors.Is(err, ErrCharset), errors.Is(err, ErrEscape), errors.Is(err, ErrControl), errors.Is(err, ErrSegment):
		code = "102"
	case errors.Is(err, ErrType):
		code = "200"
	case errors.Is(err, ErrEvent):
		code = "201"
	case errors.Is(err, ErrVersion):
		code = "203"
	case errors.Is(err, mllp.ErrTooLarge):
		code = "207"
	}
	return code, table0357[code]
}

// errLocation is where err lies in raw, for ERR-2 (v2.5 on) or ERR-1
// (before): the segment's name, its sequence among segments of that name
// (for a segment whose name cannot be read: its position in the message,
// with the name left empty) and the field number (0: the whole segment).
func errLocation(err error, raw []byte) (name string, seq, field int, ok bool) {
	var e *Error
	if !errors.As(err, &e) || e.Segment < 1 {
		return "", 0, 0, false
	}
	if e.Name == "" || !validName([]byte(e.Name)) {
		return "", e.Segment, 0, true
	}
	segs := splitSegments(raw)
	if e.Segment > len(segs) {
		return e.Name, 1, e.Field, true
	}
	for _, s := range segs[:e.Segment] {
		if len(s) >= 3 && string(s[:3]) == e.Name {
			seq++
		}
	}
	if seq == 0 {
		seq = 1
	}
	return e.Name, seq, e.Field, true
}

// DefaultVersion is the version of an acknowledgement to a message whose
// MSH-12 is empty or not a 2.x version.
const DefaultVersion = "2.5.1"

// supportedVersion reports whether v (MSH-12.1) is an HL7 v2 version.
func supportedVersion(v string) bool {
	if len(v) < 3 || v[0] != '2' || v[1] != '.' {
		return false
	}
	for _, c := range v[2:] {
		if (c < '0' || c > '9') && c != '.' {
			return false
		}
	}
	return true
}

// ackCharset is the charset of the acknowledgement of in: in's, if MSH-18
// declared one that HL7 table 0211 names; otherwise ASCII, which every
// charset contains (a charset assumed by Options.DefaultCharset is not
// declared back, and Windows-1252 has no table 0211 name).
func ackCharset(in *Message) charset.Charset {
	if in.declared && MSH18(in.Charset) != "" {
		return in.Charset
	}
	return charset.ASCII
}

// Lengths from the HL7 v2.5 segment tables.
const (
	msaTextMax = 80  // MSA-3 text message (ST)
	errTextMax = 250 // ERR-8 user message (TX)
)

// NewAck builds the acknowledgement of in (original mode):
//
//   - MSH from the application in was sent to — in's MSH-5/6, every
//     component kept; h.SendingApp/SendingFacility where those are empty —
//     back to the sender (in's MSH-3/4), MSH-7 h.Time, MSH-9 ACK^trigger
//     (^ACK from v2.4; just ACK if in has no trigger), MSH-10 h.ControlID
//     or one derived from in.ID (the same bytes always get the same id),
//     in's MSH-11 (P if empty), in's version (DefaultVersion if empty or not
//     2.x) and, if in declared one that table 0211 names, in's MSH-18;
//   - MSA: code, in's control id, text (at most 80 characters);
//   - for AE and AR, an ERR: from v2.5 ERR-2 the location of cause
//     (segment^sequence^field), ERR-3 its table 0357 code, ERR-4 E and ERR-8
//     the text (at most 250 characters); before v2.5, ERR-1 with the
//     location and the code.
//
// Text that the acknowledgement's charset cannot hold, and control
// characters, are replaced ("?" and " "), so that the acknowledgement
// always encodes: Encode(segs, in.Delimiters, AckCharset(in)).
func NewAck(in *Message, code, text string, cause error, h Header) []Segment {
	msh := in.MSH()
	cs := ackCharset(in)
	version := in.Version()
	if !supportedVersion(version) {
		version = DefaultVersion
	}
	trigger := msh.Field(9).Component(2)
	mt := T("ACK")
	if trigger != "" {
		mt = C("ACK", trigger)
		if versionAtLeast(version, "2.4") {
			mt = C("ACK", trigger, "ACK")
		}
	}
	controlID := h.ControlID
	if controlID == "" {
		controlID = "A" + in.ID.Hex()[:19] // the same message always gets the same ACK id
	}
	proc := msh.Field(11)
	if proc.IsEmpty() {
		proc = T("P")
	}
	out := Seg("MSH")
	out.Set(3, either(msh.Field(5), h.SendingApp))
	out.Set(4, either(msh.Field(6), h.SendingFacility))
	out.Set(5, msh.Field(3))
	out.Set(6, msh.Field(4))
	if !h.Time.IsZero() {
		out.Set(7, T(h.Time.Format("20060102150405")))
	}
	out.Set(9, mt)
	out.Set(10, T(controlID))
	out.Set(11, proc)
	out.Set(12, T(version))
	out.Set(18, T(MSH18(cs)))
	segs := []Segment{out, Seg("MSA", T(code), T(in.ControlID()), T(clipText(text, in.Delimiters, cs, msaTextMax)))}
	if code != AA {
		c, ct := errCode(cause)
		name, seq, field, located := errLocation(cause, in.Raw)
		if versionAtLeast(version, "2.5") {
			e := Seg("ERR")
			if located {
				e.Set(2, C(name, num(seq), num(field)))
			}
			e.Set(3, C(c, ct, "HL70357"))
			e.Set(4, T("E"))
			e.Set(8, T(clipText(text, in.Delimiters, cs, errTextMax)))
			segs = append(segs, e)
		} else {
			eld := Rep{Comp{name}, Comp{num(seq)}, Comp{num(field)}, Comp{c, ct, "HL70357"}}
			segs = append(segs, Seg("ERR", Field{eld}))
		}
	}
	return sanitize(segs, cs)
}

// AckCharset returns the charset in which NewAck's acknowledgement of in
// is to be encoded.
func AckCharset(in *Message) charset.Charset { return ackCharset(in) }

func either(f Field, s string) Field {
	if f.IsEmpty() {
		return T(s)
	}
	return f
}

func num(n int) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprint(n)
}

// sanitize returns a copy of segs whose text cs can encode: control
// characters become spaces and characters cs has no byte for become "?".
func sanitize(segs []Segment, cs charset.Charset) []Segment {
	out := make([]Segment, len(segs))
	for i, s := range segs {
		out[i] = Segment{Name: s.Name, Fields: make([]Field, len(s.Fields))}
		for n, f := range s.Fields {
			if f == nil {
				continue
			}
			nf := make(Field, len(f))
			for ri, r := range f {
				nf[ri] = make(Rep, len(r))
				for ci, c := range r {
					nf[ri][ci] = make(Comp, len(c))
					for si, sub := range c {
						nf[ri][ci][si] = sanitizeText(sub, cs)
					}
				}
			}
			out[i].Fields[n] = nf
		}
	}
	return out
}

func sanitizeText(s string, cs charset.Charset) string {
	ok := true
	for _, r := range s {
		if !encodable(r, cs) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case encodable(r, cs):
			b.WriteRune(r)
		case r < 0x20 || r == 0x7F || r >= 0x80 && r <= 0x9F:
			b.WriteByte(' ')
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

// encodable reports whether r can stand in an acknowledgement in cs.
func encodable(r rune, cs charset.Charset) bool {
	if r < 0x20 || r == 0x7F || r >= 0x80 && r <= 0x9F || r == utf8.RuneError {
		return false
	}
	if r < 0x80 {
		return true
	}
	_, err := encode(cs, nil, string(r))
	return err == nil
}

// clipText shortens s so that, escaped in d and encoded in cs, it takes at
// most max bytes, marking a cut with "...".
func clipText(s string, d Delimiters, cs charset.Charset, max int) string {
	s = sanitizeText(s, cs)
	size := func(r rune) int {
		switch {
		case r < 0x80 && (byte(r) == d.Field || byte(r) == d.Component || byte(r) == d.Repeat ||
			byte(r) == d.Escape || byte(r) == d.Subcomponent || d.Truncation != 0 && byte(r) == d.Truncation):
			return 3
		case cs == charset.UTF8:
			return utf8.RuneLen(r)
		}
		return 1
	}
	total := 0
	for _, r := range s {
		total += size(r)
	}
	if total <= max {
		return s
	}
	n := 0
	for i, r := range s {
		if n+size(r) > max-3 {
			return s[:i] + "..."
		}
		n += size(r)
	}
	return s
}
