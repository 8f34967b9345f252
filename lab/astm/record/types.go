package record

import (
	"fmt"
	"strconv"

	"github.com/exhibit-forensics/exhibit/lab/value"
)

// A TestID is a universal test identifier (O-5, R-3, Q-5): universal test
// id ^ name ^ type ^ manufacturer's local code, then any further components
// an instrument adds (dilution, replicate…). Instruments put their own test
// code in component 4, as in "^^^GHB".
type TestID Repeat

// Code returns component c (1-based) — the component a dialect says holds
// the instrument's test code.
func (t TestID) Code(c int) string { return Repeat(t).Component(c) }

// Local returns component 4, the manufacturer's local code.
func (t TestID) Local() string { return Repeat(t).Component(4) }

func testIDs(f Field) []TestID {
	out := make([]TestID, 0, len(f))
	for _, r := range f {
		out = append(out, TestID(r))
	}
	return out
}

func testField(ids []TestID) Field {
	var f Field
	for _, t := range ids {
		f = append(f, Repeat(t))
	}
	if f.IsEmpty() {
		return nil
	}
	return f
}

// seq reads field 2 as a sequence number: digits only, at least 1.
func seq(r *Record) (int, error) {
	f := r.Field(2)
	bad := func() (int, error) {
		return 0, &Error{Type: r.Type, Field: 2, Offset: -1, Err: ErrSequence,
			Detail: fmt.Sprintf("%q is not a positive number", FormatField(f, Standard))}
	}
	if len(f) != 1 || len(f[0]) != 1 || f[0][0] == "" || len(f[0][0]) > 9 {
		return bad()
	}
	n := 0
	for _, c := range []byte(f[0][0]) {
		if c < '0' || c > '9' {
			return bad()
		}
		n = n*10 + int(c-'0')
	}
	if n < 1 {
		return bad()
	}
	return n, nil
}

func itoa(n int) Field {
	if n <= 0 {
		n = 1
	}
	return Text(strconv.Itoa(n))
}

// Header is the H record.
type Header struct {
	Record          Record
	Declaration     string // H-2 as sent
	ControlID       string // H-3 message control id
	Password        string // H-4 access password
	Sender          Repeat // H-5 sender name or id: name^software version^serial…
	Address         string // H-6
	Phone           string // H-8
	Characteristics string // H-9
	Receiver        Repeat // H-10 receiver id
	Comment         string // H-11
	ProcessingID    string // H-12: P production, T training, D debugging, Q quality control
	Version         string // H-13, e.g. "LIS2-A2" or "1394-97"
	Timestamp       string // H-14 YYYYMMDDHHMMSS
}

func first(f Field) Repeat {
	if len(f) == 0 {
		return nil
	}
	return f[0]
}

// HeaderOf reads the named fields of an H record.
func HeaderOf(r Record) Header {
	return Header{
		Record: r, Declaration: r.Text(2), ControlID: r.Text(3), Password: r.Text(4),
		Sender: first(r.Field(5)), Address: r.Text(6), Phone: r.Text(8), Characteristics: r.Text(9),
		Receiver: first(r.Field(10)), Comment: r.Text(11), ProcessingID: r.Text(12),
		Version: r.Text(13), Timestamp: r.Text(14),
	}
}

// Build returns the H record. Field 2 is written by the Encoder.
func (h Header) Build() Record {
	r := clone(h.Record, 'H')
	r.Set(2, nil)
	r.Set(3, Text(h.ControlID))
	r.Set(4, Text(h.Password))
	r.Set(5, Components(h.Sender...))
	r.Set(6, Text(h.Address))
	r.Set(8, Text(h.Phone))
	r.Set(9, Text(h.Characteristics))
	r.Set(10, Components(h.Receiver...))
	r.Set(11, Text(h.Comment))
	r.Set(12, Text(h.ProcessingID))
	r.Set(13, Text(h.Version))
	r.Set(14, Text(h.Timestamp))
	return r
}

func clone(r Record, t byte) Record {
	if r.Type != t {
		return New(t)
	}
	c := Record{Type: t, Fields: append([]Field(nil), r.Fields...)}
	return c
}

// Patient is the P record, with what belongs to it.
type Patient struct {
	Record     Record
	Seq        int
	PracticeID string // P-3 practice-assigned patient id
	LabID      string // P-4 laboratory-assigned patient id
	ID3        string // P-5 patient id no. 3
	Name       Repeat // P-6 last^first^middle^suffix^title
	Birthdate  string // P-8
	Sex        string // P-9 M, F, U
	Location   string // P-26

	Orders   []Order
	Comments []Comment
}

// PatientOf reads the named fields of a P record.
func PatientOf(r Record) (Patient, error) {
	n, err := seq(&r)
	if err != nil {
		return Patient{}, err
	}
	return Patient{Record: r, Seq: n, PracticeID: r.Text(3), LabID: r.Text(4), ID3: r.Text(5),
		Name: first(r.Field(6)), Birthdate: r.Text(8), Sex: r.Text(9), Location: r.Text(26)}, nil
}

// Build returns the P record.
func (p Patient) Build() Record {
	r := clone(p.Record, 'P')
	r.Set(2, itoa(p.Seq))
	r.Set(3, Text(p.PracticeID))
	r.Set(4, Text(p.LabID))
	r.Set(5, Text(p.ID3))
	r.Set(6, Components(p.Name...))
	r.Set(8, Text(p.Birthdate))
	r.Set(9, Text(p.Sex))
	r.Set(26, Text(p.Location))
	return r
}

// Order is the O record, with its results.
type Order struct {
	Record               Record
	Seq                  int
	SpecimenID           string // O-3, first component
	SpecimenParts        Repeat // O-3 all components (some instruments add rack^position)
	InstrumentSpecimenID string // O-4
	Tests                []TestID
	Priority             string // O-6: S stat, A asap, R routine, C callback, P pre-op
	Requested            string // O-7
	Collected            string // O-8
	ActionCode           string // O-12: N new, A add, C cancel, P pending, X in process, Q QC, L reserved
	DangerCode           string // O-13
	ClinicalInfo         string // O-14
	Received             string // O-15
	SpecimenDescriptor   Repeat // O-16 type^source
	ReportType           string // O-26: O order, F final, P preliminary, C correction, Q response to query, X, I, Y, Z

	Results  []Result
	Comments []Comment
}

// OrderOf reads the named fields of an O record.
func OrderOf(r Record) (Order, error) {
	n, err := seq(&r)
	if err != nil {
		return Order{}, err
	}
	return Order{Record: r, Seq: n, SpecimenID: r.Text(3), SpecimenParts: first(r.Field(3)),
		InstrumentSpecimenID: r.Text(4), Tests: testIDs(r.Field(5)), Priority: r.Text(6),
		Requested: r.Text(7), Collected: r.Text(8), ActionCode: r.Text(12), DangerCode: r.Text(13),
		ClinicalInfo: r.Text(14), Received: r.Text(15), SpecimenDescriptor: first(r.Field(16)),
		ReportType: r.Text(26)}, nil
}

// Build returns the O record. SpecimenParts, if set, wins over SpecimenID.
func (o Order) Build() Record {
	r := clone(o.Record, 'O')
	r.Set(2, itoa(o.Seq))
	if len(o.SpecimenParts) > 0 {
		r.Set(3, Components(o.SpecimenParts...))
	} else {
		r.Set(3, Text(o.SpecimenID))
	}
	r.Set(4, Text(o.InstrumentSpecimenID))
	r.Set(5, testField(o.Tests))
	r.Set(6, Text(o.Priority))
	r.Set(7, Text(o.Requested))
	r.Set(8, Text(o.Collected))
	r.Set(12, Text(o.ActionCode))
	r.Set(13, Text(o.DangerCode))
	r.Set(14, Text(o.ClinicalInfo))
	r.Set(15, Text(o.Received))
	r.Set(16, Components(o.SpecimenDescriptor...))
	r.Set(26, Text(o.ReportType))
	return r
}

// Result is the R record.
type Result struct {
	Record Record
	Seq    int
	Test   TestID
	// Value is R-4 classified. A value with several components or repeats
	// is Text, its Raw holding the field re-escaped with the message's
	// delimiters.
	Value      value.Value
	Units      string
	Range      string   // R-6 reference range, as sent
	Flags      []string // R-7 abnormal flags (repeats): L, H, LL, HH, <, >, N, A, AA…
	Nature     string   // R-8 nature of abnormality testing
	Status     string   // F final, P preliminary, C correction, X cannot be done, I pending, S partial, M MIC, R previously sent, N new, Q response to query, V verified, W
	Operator   string
	Started    string
	Completed  string
	Instrument string

	Comments []Comment
}

// ResultOf reads the named fields of an R record. d and m interpret R-4.
func ResultOf(r Record, d Delimiters, m value.Mark) (Result, error) {
	n, err := seq(&r)
	if err != nil {
		return Result{}, err
	}
	var t TestID
	if f := r.Field(3); len(f) > 0 {
		t = TestID(f[0])
		if len(f) > 1 {
			return Result{}, &Error{Type: 'R', Field: 3, Offset: -1, Err: ErrStructure, Detail: "a result names more than one test"}
		}
	}
	var v value.Value
	vf := r.Field(4)
	if len(vf) <= 1 && len(first(vf)) <= 1 {
		v = value.Parse(vf.Text(), m)
	} else {
		v = value.Value{Raw: FormatField(vf, d), Kind: value.Text}
	}
	var flags []string
	for _, rep := range r.Field(7) {
		flags = append(flags, rep.Component(1))
	}
	return Result{Record: r, Seq: n, Test: t, Value: v, Units: r.Text(5), Range: r.Text(6), Flags: flags,
		Nature: r.Text(8), Status: r.Text(9), Operator: r.Text(11), Started: r.Text(12),
		Completed: r.Text(13), Instrument: r.Text(14)}, nil
}

// Build returns the R record, writing Value.Raw as R-4.
func (x Result) Build() Record {
	r := clone(x.Record, 'R')
	r.Set(2, itoa(x.Seq))
	r.Set(3, Components(x.Test...))
	r.Set(4, Text(x.Value.Raw))
	r.Set(5, Text(x.Units))
	r.Set(6, Text(x.Range))
	var flags Field
	for _, f := range x.Flags {
		flags = append(flags, Repeat{f})
	}
	if flags.IsEmpty() {
		flags = nil
	}
	r.Set(7, flags)
	r.Set(8, Text(x.Nature))
	r.Set(9, Text(x.Status))
	r.Set(11, Text(x.Operator))
	r.Set(12, Text(x.Started))
	r.Set(13, Text(x.Completed))
	r.Set(14, Text(x.Instrument))
	return r
}

// Comment is the C record.
type Comment struct {
	Record Record
	Seq    int
	Source string // C-3: P practice, L information system, I instrument
	Text   Field  // C-4, which may have components (code^text) and repeats
	Type   string // C-5: G generic, T test name, P positive, N negative, I instrument flag
}

// CommentOf reads the named fields of a C record.
func CommentOf(r Record) (Comment, error) {
	n, err := seq(&r)
	if err != nil {
		return Comment{}, err
	}
	return Comment{Record: r, Seq: n, Source: r.Text(3), Text: r.Field(4), Type: r.Text(5)}, nil
}

// Build returns the C record.
func (c Comment) Build() Record {
	r := clone(c.Record, 'C')
	r.Set(2, itoa(c.Seq))
	r.Set(3, Text(c.Source))
	r.Set(4, c.Text)
	r.Set(5, Text(c.Type))
	return r
}

// Query is the Q record (request information): an instrument asking the host
// for the orders of one or more specimens.
type Query struct {
	Record Record
	Seq    int
	// Start is Q-3, starting range id: repeats of patient id ^ specimen id ^
	// further ids. "ALL" asks for everything.
	Start      []Repeat
	End        []Repeat
	Tests      []TestID
	TimeLimits string   // S specimen collection, R result test date
	Begin      string
	EndTime    string
	Status     string   // O orders, A cancel, F final results, …
}

// QueryOf reads the named fields of a Q record.
func QueryOf(r Record) (Query, error) {
	n, err := seq(&r)
	if err != nil {
		return Query{}, err
	}
	return Query{Record: r, Seq: n, Start: r.Field(3), End: r.Field(4), Tests: testIDs(r.Field(5)),
		TimeLimits: r.Text(6), Begin: r.Text(7), EndTime: r.Text(8), Status: r.Text(13)}, nil
}

// Specimens returns component c of every repeat of Q-3, skipping empty
// ones: the specimen ids asked for, for the component a dialect uses.
func (q Query) Specimens(c int) []string {
	var ids []string
	for _, r := range q.Start {
		if s := r.Component(c); s != "" {
			ids = append(ids, s)
		}
	}
	return ids
}

// Build returns the Q record.
func (q Query) Build() Record {
	r := clone(q.Record, 'Q')
	r.Set(2, itoa(q.Seq))
	start := Field(q.Start)
	if start.IsEmpty() {
		start = nil
	}
	r.Set(3, start)
	end := Field(q.End)
	if end.IsEmpty() {
		end = nil
	}
	r.Set(4, end)
	r.Set(5, testField(q.Tests))
	r.Set(6, Text(q.TimeLimits))
	r.Set(7, Text(q.Begin))
	r.Set(8, Text(q.EndTime))
	r.Set(13, Text(q.Status))
	return r
}

// Terminator is the L record.
type Terminator struct {
	Record Record
	Seq    int
	// Code is L-3: N (or empty) normal, T sender aborted, R receiver
	// requested abort, E unknown system error, Q error in last request for
	// information, I no information available from last query, F last
	// request for information processed.
	Code string
}

// TerminatorOf reads the named fields of an L record.
func TerminatorOf(r Record) (Terminator, error) {
	n, err := seq(&r)
	if err != nil {
		return Terminator{}, err
	}
	return Terminator{Record: r, Seq: n, Code: r.Text(3)}, nil
}

// Build returns the L record.
func (l Terminator) Build() Record {
	r := clone(l.Record, 'L')
	r.Set(2, itoa(l.Seq))
	r.Set(3, Text(l.Code))
	return r
}
