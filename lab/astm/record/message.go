package record

import (
	"fmt"

	"github.com/exhibit-forensics/exhibit/lab/value"
)

// A Message is one parsed H…L message with its hierarchy resolved.
type Message struct {
	Header     Header
	Delimiters Delimiters
	// Comments that follow the header before any other record.
	Comments     []Comment
	Patients     []Patient
	Queries      []Query
	Manufacturer []Record // M records
	Scientific   []Record // S records
	Terminator   Terminator
	// Records holds every record in order, H first and L last.
	Records []Record
}

// ParseMessage parses the records of one message (each without its CR),
// which must run from an H record to an L record. It checks the hierarchy:
// an O record needs a P before it, an R record an O; a C record belongs to
// the record before it; there is one H, first, and one L, last. Sequence
// numbers must be positive numbers but are not required to be consecutive,
// because instruments number them in different ways.
func ParseMessage(raws [][]byte, opt Options) (*Message, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	if len(raws) == 0 {
		return nil, &Error{Offset: -1, Err: ErrStructure, Detail: "no records"}
	}
	p := NewParser(opt)
	m := &Message{Records: make([]Record, 0, len(raws))}
	mark := opt.DecimalMark
	if mark == 0 {
		mark = value.Point
	}
	// Where the next C record goes.
	var commentTo *[]Comment
	at := func(err error, i int) error {
		if e, ok := err.(*Error); ok {
			e.Record = i + 1
			return e
		}
		return err
	}
	structure := func(i int, r *Record, detail string) error {
		return &Error{Record: i + 1, Type: r.Type, Offset: 0, Err: ErrStructure, Detail: detail}
	}
	for i, raw := range raws {
		var r Record
		var err error
		if i == 0 {
			r, err = p.ParseHeader(raw)
		} else {
			r, err = p.Parse(raw)
		}
		if err != nil {
			return nil, at(err, i)
		}
		m.Records = append(m.Records, r)
		if i == len(raws)-1 && r.Type != 'L' {
			return nil, structure(i, &r, "a message must end with an L record")
		}
		switch r.Type {
		case 'H':
			m.Delimiters, _ = p.Delimiters()
			m.Header = HeaderOf(r)
			commentTo = &m.Comments
		case 'P':
			pt, err := PatientOf(r)
			if err != nil {
				return nil, at(err, i)
			}
			m.Patients = append(m.Patients, pt)
			commentTo = &m.Patients[len(m.Patients)-1].Comments
		case 'O':
			if len(m.Patients) == 0 {
				return nil, structure(i, &r, "O record with no P record before it")
			}
			o, err := OrderOf(r)
			if err != nil {
				return nil, at(err, i)
			}
			pt := &m.Patients[len(m.Patients)-1]
			pt.Orders = append(pt.Orders, o)
			commentTo = &pt.Orders[len(pt.Orders)-1].Comments
		case 'R':
			pt := lastPatient(m)
			if pt == nil || len(pt.Orders) == 0 || commentTo == nil || !underOrder(m, commentTo) {
				return nil, structure(i, &r, "R record with no O record before it")
			}
			res, err := ResultOf(r, m.Delimiters, mark)
			if err != nil {
				return nil, at(err, i)
			}
			o := &pt.Orders[len(pt.Orders)-1]
			o.Results = append(o.Results, res)
			commentTo = &o.Results[len(o.Results)-1].Comments
		case 'C':
			c, err := CommentOf(r)
			if err != nil {
				return nil, at(err, i)
			}
			*commentTo = append(*commentTo, c)
		case 'Q':
			q, err := QueryOf(r)
			if err != nil {
				return nil, at(err, i)
			}
			m.Queries = append(m.Queries, q)
			commentTo = &m.Comments
		case 'M', 'S':
			if _, err := seq(&r); err != nil {
				return nil, at(err, i)
			}
			if r.Type == 'M' {
				m.Manufacturer = append(m.Manufacturer, r)
			} else {
				m.Scientific = append(m.Scientific, r)
			}
		case 'L':
			if i != len(raws)-1 {
				return nil, structure(i, &r, fmt.Sprintf("L record followed by %d more", len(raws)-1-i))
			}
			t, err := TerminatorOf(r)
			if err != nil {
				return nil, at(err, i)
			}
			m.Terminator = t
		}
	}
	return m, nil
}

func lastPatient(m *Message) *Patient {
	if len(m.Patients) == 0 {
		return nil
	}
	return &m.Patients[len(m.Patients)-1]
}

// underOrder reports whether the current attachment point is the last order
// or one of its results, i.e. an R record may follow: after a Q, M or S
// record or a new P, it may not.
func underOrder(m *Message, to *[]Comment) bool {
	pt := lastPatient(m)
	o := &pt.Orders[len(pt.Orders)-1]
	if to == &o.Comments {
		return true
	}
	for i := range o.Results {
		if to == &o.Results[i].Comments {
			return true
		}
	}
	return false
}

// A ResultRef is a result with the order and patient it belongs to.
type ResultRef struct {
	Patient *Patient
	Order   *Order
	Result  *Result
}

// Results lists every result in message order.
func (m *Message) Results() []ResultRef {
	var out []ResultRef
	for i := range m.Patients {
		p := &m.Patients[i]
		for j := range p.Orders {
			o := &p.Orders[j]
			for k := range o.Results {
				out = append(out, ResultRef{p, o, &o.Results[k]})
			}
		}
	}
	return out
}

// Build turns a message skeleton into records: the header, each patient
// with its comments, orders, their comments, results and their comments,
// then queries, manufacturer and scientific records, then the terminator.
// Sequence numbers are assigned as the standard asks: patients from 1
// within the message, orders from 1 within each patient, results and
// comments from 1 within their parent. Message.Records is ignored.
func (m *Message) Build() []Record {
	out := []Record{m.Header.Build()}
	comments := func(cs []Comment) {
		for i, c := range cs {
			c.Seq = i + 1
			out = append(out, c.Build())
		}
	}
	comments(m.Comments)
	for i, p := range m.Patients {
		p.Seq = i + 1
		out = append(out, p.Build())
		comments(p.Comments)
		for j, o := range p.Orders {
			o.Seq = j + 1
			out = append(out, o.Build())
			comments(o.Comments)
			for k, r := range o.Results {
				r.Seq = k + 1
				out = append(out, r.Build())
				comments(r.Comments)
			}
		}
	}
	for i, q := range m.Queries {
		q.Seq = i + 1
		out = append(out, q.Build())
	}
	out = append(out, m.Manufacturer...)
	out = append(out, m.Scientific...)
	t := m.Terminator
	t.Seq = 1
	out = append(out, t.Build())
	return out
}

// Encode formats records for the wire with e, one byte slice per record,
// without CRs.
func (e *Encoder) Encode(recs []Record) ([][]byte, error) {
	out := make([][]byte, 0, len(recs))
	for i, r := range recs {
		b, err := e.Append(nil, r)
		if err != nil {
			if re, ok := err.(*Error); ok {
				re.Record = i + 1
			}
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}
