package hl7

import (
	"fmt"
	"strconv"
	"strings"
)

// Order messages: the laboratory system (the placer) sends orders to an
// analyser (the filler). firmware-notes/hl7-mllp.md, "Orders", gives the
// layouts and the reasons for them.

// Order message structures NewOrders can build (MSH-9.1^MSH-9.2).
const (
	ORMO01 = "ORM^O01" // general order, v2.3–2.4 (withdrawn from v2.5 on, still what older analysers take)
	OMLO21 = "OML^O21" // laboratory order, one ORC/OBR group per test, each with its own specimen
	OMLO33 = "OML^O33" // laboratory order for one specimen with several orders (v2.5 on): the default from v2.5
)

// An Order is one test ordered in an ORM^O01, OML^O21 or OML^O33.
type Order struct {
	PatientID    string // PID-3.1
	PatientName  string // PID-5 family^given
	Control      string // ORC-1: NW new, CA cancel, …
	PlacerOrder  string // ORC-2 / OBR-2: the placer order number, unique per ordered test
	PlacerGroup  string // ORC-4.1: the placer group number (the specimen id, for orders built here)
	FillerOrder  string // ORC-3 / OBR-3
	Test         CE     // OBR-4
	Priority     string // OBR-5 (v2.3–2.4), or TQ1-9.1 (v2.5+)
	SpecimenID   string // SPM-2.1 if present, else the placer group number, else the placer order number
	SpecimenType string // SPM-4.1 (v2.5+) or OBR-15.1 (v2.3–2.4)
	Collected    string // OBR-7
}

// PlacerOrderNumber is the placer order number (ORC-2.1, OBR-2.1) the
// laboratory gives the n-th test (from 1) of a specimen's order:
// "<specimen>-<n>". The book's order for a specimen never changes once
// placed, so the same test always gets the same number, however often the
// order is sent: an analyser that keeps its orders by placer order number
// takes a resent order as the same one. The number after the last "-" is
// all digits, so two specimens never give the same number.
func PlacerOrderNumber(specimen string, n int) string {
	return specimen + "-" + strconv.Itoa(n)
}

// ParseOrders reads the orders of an ORM^O01, OML^O21 or OML^O33. In
// ORM^O01 and OML^O21 an SPM belongs to the OBR before it; in OML^O33 an
// SPM starts a specimen group and belongs to the OBRs after it. An order
// with no SPM (ORM^O01 has none) names its specimen by the placer group
// number (ORC-4.1), else by its placer order number.
func ParseOrders(m *Message) ([]Order, error) {
	t := m.Type() + "^" + m.Trigger()
	if t != ORMO01 && t != OMLO21 && t != OMLO33 {
		return nil, &Error{Segment: 1, Name: "MSH", Field: 9, Offset: -1, Err: ErrType, Detail: fmt.Sprintf("%s, want ORM^O01, OML^O21 or OML^O33", t)}
	}
	o33 := t == OMLO33
	var out []Order
	var pid *Segment
	var orc *Segment
	var spm *Segment // OML^O33: the specimen group's SPM
	tq1 := ""        // priority from the TQ1 of the current ORC group (v2.5+: ORC, TQ1, OBR)
	for i := 1; i < len(m.Segments); i++ {
		s := &m.Segments[i]
		switch s.Name {
		case "PID":
			pid = s
		case "ORC":
			if o33 && spm == nil {
				return nil, structure(i, s, "ORC before any SPM in OML^O33")
			}
			orc, tq1 = s, ""
		case "OBR":
			if orc == nil {
				return nil, structure(i, s, "OBR with no ORC before it")
			}
			o := Order{Control: orc.Text(1), PlacerOrder: s.Field(2).Component(1), FillerOrder: s.Field(3).Component(1),
				PlacerGroup: orc.Field(4).Component(1),
				Test:        ceOf(s.Field(4)), Priority: s.Text(5), Collected: s.Text(7), SpecimenType: s.Field(15).Component(1)}
			if o.PlacerOrder == "" {
				o.PlacerOrder = orc.Field(2).Component(1)
			}
			if o.FillerOrder == "" {
				o.FillerOrder = orc.Field(3).Component(1)
			}
			if o.Test.Code == "" {
				return nil, &Error{Segment: i + 1, Name: "OBR", Field: 4, Offset: -1, Err: ErrMissing, Detail: "no universal service identifier"}
			}
			if pid != nil {
				o.PatientID = pid.Field(3).Component(1)
				o.PatientName = strings.TrimRight(pid.Field(5).Component(1)+"^"+pid.Field(5).Component(2), "^")
			}
			if tq1 != "" {
				o.Priority = tq1
			}
			o.SpecimenID = o.PlacerOrder
			if o.PlacerGroup != "" {
				o.SpecimenID = o.PlacerGroup
			}
			if spm != nil {
				if id := spm.Field(2).Component(1); id != "" {
					o.SpecimenID = id
				}
				if st := spm.Field(4).Component(1); st != "" {
					o.SpecimenType = st
				}
			}
			out = append(out, o)
		case "TQ1":
			tq1 = s.Field(9).Component(1)
		case "SPM":
			if o33 {
				if s.Field(2).Component(1) == "" {
					return nil, &Error{Segment: i + 1, Name: "SPM", Field: 2, Offset: -1, Err: ErrMissing, Detail: "no specimen id"}
				}
				spm, orc = s, nil
				continue
			}
			if len(out) == 0 {
				return nil, structure(i, s, "SPM with no OBR before it")
			}
			if id := s.Field(2).Component(1); id != "" {
				out[len(out)-1].SpecimenID = id
			}
			if t := s.Field(4).Component(1); t != "" {
				out[len(out)-1].SpecimenType = t
			}
		}
	}
	if len(out) == 0 {
		return nil, &Error{Offset: -1, Err: ErrMissing, Detail: "no OBR segment"}
	}
	return out, nil
}

// OrderRequest is what to order for one patient.
type OrderRequest struct {
	PatientID   string   // PID-3.1; no PID segment if empty
	PatientName []string // family, given
	// Orders are the tests; PlacerOrder, PlacerGroup, Test, Priority,
	// SpecimenID (else PlacerOrder), SpecimenType and Collected are used.
	Orders []Order
	// Structure is ORMO01, OMLO21 or OMLO33; empty: ORM^O01 before
	// v2.5, OML^O33 from v2.5 on.
	Structure string
}

// NewOrders builds an order message. Each test gets its own ORC (NW) and
// OBR, because OBR-4 holds one service.
//
//   - ORM^O01: [PID], then per test ORC, OBR with the priority in OBR-5
//     and the specimen type in OBR-15.
//   - OML^O21: [PID], then per test ORC, TQ1 (priority in TQ1-9), OBR,
//     SPM (specimen id and type).
//   - OML^O33: [PID], one SPM (SPM-2 the specimen id, SPM-4 its type),
//     then per test ORC, TQ1 (priority in TQ1-9), OBR. Every order must
//     name the same specimen.
//
// ORC-2 and OBR-2 hold the placer order number, ORC-4 the placer group
// number, OBR-4 the test.
func NewOrders(h Header, req OrderRequest) ([]Segment, error) {
	if h.Version == "" {
		h.Version = "2.5.1"
	}
	v25 := versionAtLeast(h.Version, "2.5")
	st := req.Structure
	if st == "" {
		st = ORMO01
		if v25 {
			st = OMLO33
		}
	}
	if len(req.Orders) == 0 {
		return nil, fmt.Errorf("hl7: an order message needs at least one order")
	}
	specimen := func(o Order) string {
		if o.SpecimenID != "" {
			return o.SpecimenID
		}
		return o.PlacerOrder
	}
	var segs []Segment
	switch st {
	case ORMO01:
		segs = append(segs, h.msh("ORM", "O01", "ORM_O01"))
	case OMLO21:
		segs = append(segs, h.msh("OML", "O21", "OML_O21"))
	case OMLO33:
		if !v25 {
			return nil, fmt.Errorf("hl7: OML^O33 needs v2.5 or later, not %s", h.Version)
		}
		segs = append(segs, h.msh("OML", "O33", "OML_O33"))
	default:
		return nil, fmt.Errorf("hl7: %q is not an order structure (want %s, %s or %s)", st, ORMO01, OMLO21, OMLO33)
	}
	if req.PatientID != "" {
		segs = append(segs, Seg("PID", T("1"), nil, T(req.PatientID), nil, C(req.PatientName...)))
	}
	if st == OMLO33 {
		sp := specimen(req.Orders[0])
		if sp == "" {
			return nil, fmt.Errorf("hl7: OML^O33 needs a specimen id")
		}
		for _, o := range req.Orders[1:] {
			if specimen(o) != sp {
				return nil, fmt.Errorf("hl7: OML^O33 holds one specimen: %s and %s", sp, specimen(o))
			}
		}
		spm := Seg("SPM", T("1"), T(sp))
		spm.Set(4, T(req.Orders[0].SpecimenType))
		segs = append(segs, spm)
	}
	for i, o := range req.Orders {
		orc := Seg("ORC", T("NW"), T(o.PlacerOrder))
		orc.Set(4, T(o.PlacerGroup))
		segs = append(segs, orc)
		obr := Seg("OBR", T(strconv.Itoa(i+1)), T(o.PlacerOrder), nil, o.Test.field())
		if st == ORMO01 {
			obr.Set(5, T(o.Priority))
			obr.Set(15, T(o.SpecimenType))
		}
		obr.Set(7, T(o.Collected))
		if st != ORMO01 && o.Priority != "" {
			tq := Seg("TQ1", T("1"))
			tq.Set(9, T(o.Priority))
			segs = append(segs, tq)
		}
		segs = append(segs, obr)
		if st == OMLO21 {
			spm := Seg("SPM", T("1"), T(specimen(o)))
			spm.Set(4, T(o.SpecimenType))
			segs = append(segs, spm)
		}
	}
	return segs, nil
}

// Order reply message types (MSH-9.1^MSH-9.2).
const (
	ORLO34 = "ORL^O34" // the reply to OML^O33
	ORLO22 = "ORL^O22" // the reply to OML^O21
	ORRO02 = "ORR^O02" // the reply to ORM^O01
)

// replyTo maps an order message type to its application reply.
var replyTo = map[string][3]string{
	OMLO33: {"ORL", "O34", "ORL_O34"},
	OMLO21: {"ORL", "O22", "ORL_O22"},
	ORMO01: {"ORR", "O02", "ORR_O02"},
}

// NewOrderReply builds the filler's application reply to an order message
// in: the acknowledgement NewAck builds (MSH, MSA, ERR for AE and AR),
// typed ORL^O34 (to OML^O33), ORL^O22 (to OML^O21) or ORR^O02 (to
// ORM^O01), structure name from v2.4. It carries no response group
// (optional in all three): MSA says whether the orders were taken.
func NewOrderReply(in *Message, code, text string, cause error, h Header) []Segment {
	segs := NewAck(in, code, text, cause, h)
	if r, ok := replyTo[in.Type()+"^"+in.Trigger()]; ok {
		mt := C(r[0], r[1])
		if versionAtLeast(segs[0].Text(12), "2.4") {
			mt = C(r[0], r[1], r[2])
		}
		segs[0].Set(9, mt)
	}
	return segs
}

// An OrderReply is the filler's answer to an order message: an ORL^O34,
// ORL^O22, ORR^O02 or a plain ACK.
type OrderReply struct {
	Type      string // MSH-9.1^MSH-9.2, e.g. "ORL^O34", "ACK^O33", "ACK"
	Code      string // MSA-1: AA, AE or AR
	ControlID string // MSA-2: the control id of the order message answered
	Text      string // MSA-3
	// Errors are the ERR segments' codes and texts: "207 Application
	// internal error: <ERR-8>", or as much of them as was given.
	Errors []string
	// Orders are the ORC segments of the response group, if any: the
	// order control code (ORC-1: OK accepted, UA unable to accept, …) by
	// placer order number (ORC-2.1).
	Orders []OrderControl
}

// An OrderControl is one ORC of an order reply.
type OrderControl struct {
	Control, PlacerOrder string
}

// Accepted reports whether the filler took every order: MSA-1 AA and no
// order in the response group answered UA (unable to accept) or another
// refusal (DE data errors, UX unable to change, …); OK, or no response
// group, is acceptance.
func (r *OrderReply) Accepted() bool {
	if r.Code != AA {
		return false
	}
	for _, o := range r.Orders {
		if o.Control != "OK" && o.Control != "NA" && o.Control != "" {
			return false
		}
	}
	return true
}

// Reason is the filler's reason for not taking the orders, for the log:
// MSA-3, the ERR texts and any order refused in the response group.
func (r *OrderReply) Reason() string {
	var parts []string
	if r.Text != "" {
		parts = append(parts, r.Text)
	}
	parts = append(parts, r.Errors...)
	for _, o := range r.Orders {
		if o.Control != "OK" && o.Control != "NA" && o.Control != "" {
			parts = append(parts, fmt.Sprintf("order %s answered %s", o.PlacerOrder, o.Control))
		}
	}
	if len(parts) == 0 {
		return "no reason given"
	}
	return strings.Join(parts, "; ")
}

// ParseOrderReply reads an analyser's reply to an order message, strictly:
//
//   - MSH-9 is ORL^O34, ORL^O22, ORR^O02 (structure, if given, as the
//     standard names it) or ACK (trigger O33, O21, O01 or none);
//   - there is exactly one MSA, before any ERR, ORC or other segment but
//     SFT (ACK in v2.5 puts SFT between MSH and MSA);
//   - MSA-1 is AA, AE or AR (original mode: the commit codes CA, CE, CR of
//     enhanced mode are refused, since this side never asks for them) and
//     MSA-2 is filled;
//   - ERR segments follow MSA; an ORC needs ORC-1 and ORC-2.
//
// Anything else is an *Error wrapping ErrType, ErrStructure or ErrMissing:
// a reply that cannot be read leaves the order where it was.
func ParseOrderReply(m *Message) (*OrderReply, error) {
	typ, trig, stc := m.Type(), m.Trigger(), m.MSH().Field(9).Component(3)
	r := &OrderReply{Type: typ}
	if trig != "" {
		r.Type += "^" + trig
	}
	switch {
	case typ == "ACK" && (trig == "" || trig == "O33" || trig == "O21" || trig == "O01") && (stc == "" || stc == "ACK"):
	case r.Type == ORLO34 && (stc == "" || stc == "ORL_O34"),
		r.Type == ORLO22 && (stc == "" || stc == "ORL_O22"),
		r.Type == ORRO02 && (stc == "" || stc == "ORR_O02"):
	default:
		return nil, &Error{Segment: 1, Name: "MSH", Field: 9, Offset: -1, Err: ErrType,
			Detail: fmt.Sprintf("%s, want ORL^O34, ORL^O22, ORR^O02 or ACK", clipDetail(fieldText(m.MSH().Field(9), m.Delimiters)))}
	}
	seenMSA := false
	for i := 1; i < len(m.Segments); i++ {
		s := &m.Segments[i]
		switch s.Name {
		case "MSA":
			if seenMSA {
				return nil, structure(i, s, "second MSA")
			}
			seenMSA = true
			r.Code, r.ControlID, r.Text = s.Text(1), s.Text(2), s.Text(3)
			switch r.Code {
			case AA, AE, AR:
			default:
				return nil, &Error{Segment: i + 1, Name: "MSA", Field: 1, Offset: -1, Err: ErrMissing,
					Detail: fmt.Sprintf("%q is not AA, AE or AR", clipDetail(r.Code))}
			}
			if r.ControlID == "" {
				return nil, &Error{Segment: i + 1, Name: "MSA", Field: 2, Offset: -1, Err: ErrMissing, Detail: "no control id"}
			}
		case "SFT":
			// software segment: allowed anywhere after MSH
		default:
			if !seenMSA {
				return nil, structure(i, s, s.Name+" before MSA")
			}
			switch s.Name {
			case "ERR":
				r.Errors = append(r.Errors, errText(s))
			case "ORC":
				oc := OrderControl{Control: s.Text(1), PlacerOrder: s.Field(2).Component(1)}
				if oc.Control == "" || oc.PlacerOrder == "" {
					return nil, &Error{Segment: i + 1, Name: "ORC", Field: 1, Offset: -1, Err: ErrMissing, Detail: "ORC needs ORC-1 and ORC-2"}
				}
				r.Orders = append(r.Orders, oc)
			}
		}
	}
	if !seenMSA {
		return nil, &Error{Offset: -1, Err: ErrMissing, Detail: "no MSA segment"}
	}
	return r, nil
}

// errText is an ERR segment as one line: v2.5's ERR-3 code and text and
// ERR-8, or before v2.5 ERR-1's code and text (its fourth component).
func errText(s *Segment) string {
	code, text := s.Field(3).Component(1), s.Field(3).Component(2)
	if code == "" {
		code, text = s.Field(1).Get(1, 4, 1), s.Field(1).Get(1, 4, 2)
	}
	msg := s.Text(8)
	var parts []string
	for _, p := range []string{code, text} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	out := strings.Join(parts, " ")
	if msg != "" {
		if out != "" {
			out += ": "
		}
		out += msg
	}
	if out == "" {
		out = "error with no code or text"
	}
	return out
}

func clipDetail(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
