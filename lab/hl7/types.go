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
