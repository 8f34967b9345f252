package hl7

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/exhibit-forensics/exhibit/lab/charset"
	"github.com/exhibit-forensics/exhibit/lab/value"
)

// A CE is a coded element (CE/CWE): identifier ^ text ^ coding system.
type CE struct {
	Code, Text, System string
}

func ceOf(f Field) CE { return CE{f.Component(1), f.Component(2), f.Component(3)} }

func (c CE) field() Field { return C(c.Code, c.Text, c.System) }

// A Header is what this side puts in the MSH segments it builds.
type Header struct {
	SendingApp, SendingFacility     string
	ReceivingApp, ReceivingFacility string
	Time                            time.Time       // MSH-7
	ControlID                       string          // MSH-10
	ProcessingID                    string          // MSH-11; default P
	Version                         string          // MSH-12; default 2.5.1
	Charset                         charset.Charset // MSH-18 (left empty for ASCII and Windows1252, which table 0211 does not name)
}

// versionAtLeast compares dotted HL7 versions ("2.3.1" < "2.5").
func versionAtLeast(v, min string) bool {
	a, b := strings.Split(v, "."), strings.Split(min, ".")
	for i := 0; i < len(b); i++ {
		x, y := 0, 0
		if i < len(a) {
			x, _ = strconv.Atoi(a[i])
		}
		y, _ = strconv.Atoi(b[i])
		if x != y {
			return x > y
		}
	}
	return true
}

func (h Header) msh(typ, trigger, structure string) Segment {
	if h.ProcessingID == "" {
		h.ProcessingID = "P"
	}
	if h.Version == "" {
		h.Version = "2.5.1"
	}
	mt := C(typ, trigger)
	if versionAtLeast(h.Version, "2.4") {
		mt = C(typ, trigger, structure)
	}
	s := Seg("MSH")
	s.Set(3, T(h.SendingApp))
	s.Set(4, T(h.SendingFacility))
	s.Set(5, T(h.ReceivingApp))
	s.Set(6, T(h.ReceivingFacility))
	if !h.Time.IsZero() {
		s.Set(7, T(h.Time.Format("20060102150405")))
	}
	s.Set(9, mt)
	s.Set(10, T(h.ControlID))
	s.Set(11, T(h.ProcessingID))
	s.Set(12, T(h.Version))
	s.Set(18, T(MSH18(h.Charset)))
	return s
}

// An ORU is a parsed ORU^R01: patients, each with order groups (ORC/OBR),
// each with observations (OBX).
type ORU struct {
	Patients []PatientResult
}

// PatientResult is a PID and what follows it. A message without PID has one
// PatientResult with PID nil.
type PatientResult struct {
	PID       *Segment
	PatientID string // PID-3, first repetition, first component
	Name      string // PID-5 family^given
	Orders    []OrderResult
	Notes     []string
}

// OrderResult is one ORC/OBR group.
type OrderResult struct {
	ORC          *Segment
	OBR          *Segment
	PlacerOrder  string // OBR-2 (else ORC-2)
	FillerOrder  string // OBR-3 (else ORC-3)
	Service      CE     // OBR-4
	SpecimenID   string // SPM-2 if present, else the filler, else the placer order number
	Observations []Observation
	Notes        []string
}

// Observation is one OBX.
type Observation struct {
	Segment   *Segment
	SetID     string
	ValueType string // OBX-2: NM, SN, ST, TX, CE, CWE, FT…
	ID        CE     // OBX-3
	SubID     string // OBX-4
	// Value is OBX-5 classified: NM through lab/value; SN with a
	// comparator and one number becomes Censored; any other type, or a
	// value with repetitions or components, is Text. The text is decoded
	// (escapes resolved, \.br\ a line break); a structured value joins its
	// parts with the message's delimiters, escaping only a delimiter inside
	// a part (see fieldText).
	Value      value.Value
	Units      string   // OBX-6.1
	Range      string   // OBX-7
	Flags      []string // OBX-8
	Status     string   // OBX-11: F final, P preliminary, C correction, X cannot obtain…
	ObservedAt string   // OBX-14
	Notes      []string // NTE-3 text, decoded
}

func structure(i int, s *Segment, detail string) error {
	return &Error{Segment: i + 1, Name: s.Name, Offset: 0, Err: ErrStructure, Detail: detail}
}

// ParseORU reads the result structure of an ORU^R01. NTE segments attach to
// the OBX, OBR or PID before them. Segments it does not know (PV1, SFT, Z…)
// are skipped.
func ParseORU(m *Message) (*ORU, error) {
	if m.Type() != "ORU" {
		return nil, &Error{Segment: 1, Name: "MSH", Field: 9, Offset: -1, Err: ErrType, Detail: fmt.Sprintf("%s^%s, want ORU", m.Type(), m.Trigger())}
	}
	o := &ORU{}
	var notes *[]string
	pt := func() *PatientResult {
		if len(o.Patients) == 0 {
			o.Patients = append(o.Patients, PatientResult{})
		}
		return &o.Patients[len(o.Patients)-1]
	}
	for i := 1; i < len(m.Segments); i++ {
		s := &m.Segments[i]
		switch s.Name {
		case "PID":
			o.Patients = append(o.Patients, PatientResult{PID: s, PatientID: s.Field(3).Component(1),
				Name: strings.TrimRight(s.Field(5).Component(1)+"^"+s.Field(5).Component(2), "^")})
			notes = &o.Patients[len(o.Patients)-1].Notes
		case "ORC":
			p := pt()
			p.Orders = append(p.Orders, OrderResult{ORC: s})
			notes = &p.Orders[len(p.Orders)-1].Notes
		case "OBR":
			p := pt()
			if n := len(p.Orders); n == 0 || p.Orders[n-1].OBR != nil {
				p.Orders = append(p.Orders, OrderResult{})
			}
			g := &p.Orders[len(p.Orders)-1]
			g.OBR = s
			g.Service = ceOf(s.Field(4))
			g.PlacerOrder, g.FillerOrder = s.Field(2).Component(1), s.Field(3).Component(1)
			if g.ORC != nil {
				if g.PlacerOrder == "" {
					g.PlacerOrder = g.ORC.Field(2).Component(1)
				}
				if g.FillerOrder == "" {
					g.FillerOrder = g.ORC.Field(3).Component(1)
				}
			}
			g.SpecimenID = g.FillerOrder
			if g.SpecimenID == "" {
				g.SpecimenID = g.PlacerOrder
			}
			notes = &g.Notes
		case "OBX":
			p := pt()
			if len(p.Orders) == 0 || p.Orders[len(p.Orders)-1].OBR == nil {
				return nil, structure(i, s, "OBX with no OBR before it")
			}
			g := &p.Orders[len(p.Orders)-1]
			ob, err := observation(s, m.Delimiters)
			if err != nil {
				if e, ok := err.(*Error); ok {
					e.Segment = i + 1
				}
				return nil, err
			}
			g.Observations = append(g.Observations, ob)
			notes = &g.Observations[len(g.Observations)-1].Notes
		case "SPM":
			p := pt()
			if len(p.Orders) == 0 || p.Orders[len(p.Orders)-1].OBR == nil {
				return nil, structure(i, s, "SPM with no OBR before it")
			}
			if id := s.Field(2).Component(1); id != "" {
				p.Orders[len(p.Orders)-1].SpecimenID = id
			}
		case "NTE":
			if notes == nil {
				continue // a note about the whole message
			}
			*notes = append(*notes, plainText(s.Field(3), m.Delimiters))
		}
	}
	for pi, p := range o.Patients {
		for gi, g := range p.Orders {
			if g.OBR == nil {
				return nil, &Error{Offset: -1, Err: ErrStructure, Detail: fmt.Sprintf("patient %d, order group %d: ORC with no OBR", pi+1, gi+1)}
			}
		}
	}
	return o, nil
}

// fieldText shows a structured field (repetitions, components) as one
// string: the decoded text of each subcomponent, joined by the message's
// delimiters. A delimiter or escape character inside a subcomponent's text
// is written as its escape (\F\ \S\ \T\ \R\ \E\) so that the structure
// stays readable; nothing else is escaped.
func fieldText(f Field, d Delimiters) string {
	var out []byte
	for ri, r := range f {
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
				for i := 0; i < len(sub); i++ {
					var code byte
					switch sub[i] {
					case d.Field:
						code = 'F'
					case d.Component:
						code = 'S'
					case d.Subcomponent:
						code = 'T'
					case d.Repeat:
						code = 'R'
					case d.Escape:
						code = 'E'
					default:
						out = append(out, sub[i])
						continue
					}
					out = append(out, d.Escape, code, d.Escape)
				}
			}
		}
	}
	return string(out)
}

// plainText is the decoded text of a free-text field: repetitions on
// separate lines, components joined by the component delimiter.
func plainText(f Field, d Delimiters) string {
	var lines []string
	for _, r := range f {
		var comps []string
		for _, c := range r {
			comps = append(comps, strings.Join(c, string(d.Subcomponent)))
		}
		lines = append(lines, strings.Join(comps, string(d.Component)))
	}
	return strings.Join(lines, "\n")
}

func observation(s *Segment, d Delimiters) (Observation, error) {
	ob := Observation{Segment: s, SetID: s.Text(1), ValueType: s.Text(2), ID: ceOf(s.Field(3)), SubID: s.Text(4),
		Units: s.Field(6).Component(1), Range: s.Text(7), Status: s.Text(11), ObservedAt: s.Text(14)}
	if ob.ID.Code == "" {
		return ob, &Error{Name: "OBX", Field: 3, Offset: -1, Err: ErrMissing, Detail: "no observation identifier"}
	}
	for _, r := range s.Field(8) {
		if len(r) > 0 && len(r[0]) > 0 {
			ob.Flags = append(ob.Flags, r[0][0])
		}
	}
	v := s.Field(5)
	raw := fieldText(v, d)
	single := len(v) <= 1 && (len(v) == 0 || len(v[0]) <= 1) && (len(v) == 0 || len(v[0]) == 0 || len(v[0][0]) <= 1)
	switch {
	case ob.ValueType == "NM" && single:
		ob.Value = value.Parse(v.Text(), value.Point)
	case ob.ValueType == "SN" && len(v) <= 1 && v.Get(1, 3, 1) == "" && v.Get(1, 4, 1) == "":
		ob.Value = value.FromParts(raw, v.Component(1), v.Component(2), value.Point)
	case len(v) == 0:
		ob.Value = value.Value{}
	case single:
		ob.Value = value.Value{Raw: v.Text(), Kind: value.Text} // decoded
	default:
		ob.Value = value.Value{Raw: raw, Kind: value.Text}
	}
	return ob, nil
}

// An Order is one test ordered in an ORM^O01 or OML^O21.
type Order struct {
	PatientID    string // PID-3.1
	PatientName  string // PID-5 family^given
	Control      string // ORC-1: NW new, CA cancel, …
	PlacerOrder  string // ORC-2 / OBR-2: the specimen's barcode in most laboratories
	FillerOrder  string // ORC-3 / OBR-3
	Test         CE     // OBR-4
	Priority     string // OBR-5 (v2.3–2.4), or TQ1-9.1 (v2.5+)
	SpecimenID   string // SPM-2.1 if present, else the placer order number
	SpecimenType string // SPM-4.1 (v2.5+) or OBR-15.1 (v2.3–2.4)
	Collected    string // OBR-7
}

// ParseOrders reads the orders of an ORM^O01 or OML^O21.
func ParseOrders(m *Message) ([]Order, error) {
	if t := m.Type() + "^" + m.Trigger(); t != "ORM^O01" && t != "OML^O21" {
		return nil, &Error{Segment: 1, Name: "MSH", Field: 9, Offset: -1, Err: ErrType, Detail: fmt.Sprintf("%s, want ORM^O01 or OML^O21", t)}
	}
	var out []Order
	var pid *Segment
	var orc *Segment
	tq1 := "" // priority from the TQ1 of the current ORC group (v2.5+: ORC, TQ1, OBR)
	for i := 1; i < len(m.Segments); i++ {
		s := &m.Segments[i]
		switch s.Name {
		case "PID":
			pid = s
		case "ORC":
			orc, tq1 = s, ""
		case "OBR":
			if orc == nil {
				return nil, structure(i, s, "OBR with no ORC before it")
			}
			o := Order{Control: orc.Text(1), PlacerOrder: s.Field(2).Component(1), FillerOrder: s.Field(3).Component(1),
				Test: ceOf(s.Field(4)), Priority: s.Text(5), Collected: s.Text(7), SpecimenType: s.Field(15).Component(1)}
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
			out = append(out, o)
		case "TQ1":
			tq1 = s.Field(9).Component(1)
		case "SPM":
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
	PatientID   string
	PatientName []string // family, given
	Orders      []Order  // PlacerOrder, Test, Priority, SpecimenType, Collected are used
}

// NewOrders builds an order message: ORM^O01 for versions before 2.5 and
// OML^O21 from 2.5 on. Each test gets its own ORC (NW) and OBR; from 2.5 an
// SPM follows each OBR with the specimen id and type, and the priority goes
// in TQ1-9 instead of OBR-5.
func NewOrders(h Header, req OrderRequest) []Segment {
	if h.Version == "" {
		h.Version = "2.5.1"
	}
	v25 := versionAtLeast(h.Version, "2.5")
	var segs []Segment
	if v25 {
		segs = append(segs, h.msh("OML", "O21", "OML_O21"))
	} else {
		segs = append(segs, h.msh("ORM", "O01", "ORM_O01"))
	}
	segs = append(segs, Seg("PID", T("1"), nil, T(req.PatientID), nil, C(req.PatientName...)))
	for i, o := range req.Orders {
		segs = append(segs, Seg("ORC", T("NW"), T(o.PlacerOrder)))
		obr := Seg("OBR", T(strconv.Itoa(i+1)), T(o.PlacerOrder), nil, o.Test.field())
		if !v25 {
			obr.Set(5, T(o.Priority))
			obr.Set(15, T(o.SpecimenType))
		}
		obr.Set(7, T(o.Collected))
		if v25 && o.Priority != "" {
			tq := Seg("TQ1", T("1"))
			tq.Set(9, T(o.Priority))
			segs = append(segs, tq)
		}
		segs = append(segs, obr)
		if v25 {
			spm := Seg("SPM", T("1"), T(o.PlacerOrder))
			spm.Set(4, T(o.SpecimenType))
			segs = append(segs, spm)
		}
	}
	return segs
}
