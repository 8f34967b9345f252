package record

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/lab/charset"
	"github.com/exhibit-forensics/exhibit/lab/value"
)

// split cuts a CR-separated message into raw records.
func split(s string) [][]byte {
	var out [][]byte
	for _, r := range strings.Split(strings.TrimSuffix(s, "\r"), "\r") {
		out = append(out, []byte(r))
	}
	return out
}

// domainMessage is the example session of shared/domain/analysers.md.
const domainMessage = "H|\\^&|||EdgeSim^1.0|||||||P|LIS2-A2|20240612103000\r" +
	"P|1||CASE-0001\r" +
	"O|1|S240612-0001||^^^BENZ\\^^^GHB|R||||||N||||URINE\r" +
	"R|1|^^^GHB|42.0|mg/L|0-10|H||F||||20240612102900\r" +
	"L|1|N\r"

func TestDomainExample(t *testing.T) {
	m, err := ParseMessage(split(domainMessage), Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := m.Header
	if m.Delimiters != Standard || h.Sender.Component(1) != "EdgeSim" || h.Sender.Component(2) != "1.0" ||
		h.ProcessingID != "P" || h.Version != "LIS2-A2" || h.Timestamp != "20240612103000" {
		t.Errorf("header = %+v", h)
	}
	if len(m.Patients) != 1 || m.Patients[0].LabID != "CASE-0001" {
		t.Fatalf("patients = %+v", m.Patients)
	}
	o := m.Patients[0].Orders[0]
	if o.SpecimenID != "S240612-0001" || len(o.Tests) != 2 || o.Tests[0].Local() != "BENZ" || o.Tests[1].Local() != "GHB" ||
		o.Priority != "R" || o.ActionCode != "N" || o.SpecimenDescriptor.Component(1) != "URINE" {
		t.Errorf("order = %+v", o)
	}
	rs := m.Results()
	if len(rs) != 1 {
		t.Fatalf("results = %d", len(rs))
	}
	r := rs[0].Result
	if r.Test.Local() != "GHB" || r.Value.Kind != value.Number || r.Value.Decimal != "42.0" || r.Units != "mg/L" ||
		r.Range != "0-10" || !reflect.DeepEqual(r.Flags, []string{"H"}) || r.Status != "F" || r.Completed != "20240612102900" {
		t.Errorf("result = %+v", r)
	}
	if rs[0].Order.SpecimenID != "S240612-0001" || rs[0].Patient.LabID != "CASE-0001" {
		t.Errorf("result parents wrong")
	}
	if m.Terminator.Code != "N" {
		t.Errorf("terminator = %+v", m.Terminator)
	}
	// Rebuilding and encoding gives back the same bytes.
	enc, _ := NewEncoder(Options{})
	raws, err := enc.Encode(m.Build())
	if err != nil {
		t.Fatal(err)
	}
	if got := string(bytes.Join(raws, []byte("\r"))) + "\r"; got != domainMessage {
		t.Errorf("re-encoded:\n%q\nwant\n%q", got, domainMessage)
	}
}

// messageCases double as the seeds of FuzzParseMessage.
var messageCases = []struct {
	name string
	in   string
	opt  Options
	err  error // nil: must parse
	at   int   // record number the error names
}{
	{"domain", domainMessage, Options{}, nil, 0},
	{"genexpert", "H|@^\\|||Cepheid^GeneXpert^6.4|||||||P|1394-97|20240612\rP|1\rO|1|SPEC1||^^^MTB@^^^RIF\rR|1|^^^MTB|NOT DETECTED\\S\\||||||F\rL|1|N\r",
		Options{}, nil, 0},
	{"selectra", "H|\\!~|||SELECTRA\rP|1\rO|1|S1||!!!GLU\rR|1|!!!GLU|5.4|mmol/L\rL|1\r", Options{}, nil, 0},
	{"yumizen", "H|\\\\^&|||YUMIZEN\rP|1\rO|1|S1||^^^WBC\rR|1|^^^WBC|7.2\rL|1|N\r",
		Options{Declaration: "\\\\^&"}, nil, 0},
	{"yumizen-undeclared", "H|\\\\^&|||YUMIZEN\rL|1|N\r", Options{}, ErrDelimiters, 1},
	{"escapes", "H|\\^&\rP|1||A&F&B&S&C&R&D&E&E\rL|1\r", Options{}, nil, 0},
	{"bad-escape", "H|\\^&\rP|1||A&X&B\rL|1\r", Options{}, ErrEscape, 2},
	{"open-escape", "H|\\^&\rP|1||A&F\rL|1\r", Options{}, ErrEscape, 2},
	{"censored", "H|\\^&\rP|1\rO|1|S1||^^^THC\rR|1|^^^THC|<0.5|ng/mL\rR|2|^^^GHB|>8|mg/L\rL|1|N\r", Options{}, nil, 0},
	{"decimal-comma", "H|\\^&\rP|1\rO|1|S1||^^^GLU\rR|1|^^^GLU|7,41|mmol/L\rL|1|N\r", Options{DecimalMark: value.Comma}, nil, 0},
	{"latin1", "H|\\^&\rP|1||Ren\xe9e\rL|1|N\r", Options{Charset: charset.Latin1}, nil, 0},
	{"latin1-c1", "H|\\^&\rP|1||\x80\rL|1|N\r", Options{Charset: charset.Latin1}, ErrCharset, 2},
	{"latin9", "H|\\^&\rP|1||5 \xa4\rL|1|N\r", Options{Charset: charset.Latin9}, nil, 0},
	{"ascii-default", "H|\\^&\rP|1||Ren\xe9e\rL|1|N\r", Options{}, ErrCharset, 2},
	{"cp1252", "H|\\^&\rP|1||\x80 5\rL|1|N\r", Options{Charset: charset.Windows1252}, nil, 0},
	{"cp1252-undefined", "H|\\^&\rP|1||\x81\rL|1|N\r", Options{Charset: charset.Windows1252}, ErrCharset, 2},
	{"ascii-high", "H|\\^&\rP|1||\xe9\rL|1|N\r", Options{Charset: charset.ASCII}, ErrCharset, 2},
	{"utf8", "H|\\^&\rP|1||Ren\xc3\xa9e\rL|1|N\r", Options{Charset: charset.UTF8}, nil, 0},
	{"utf8-bad", "H|\\^&\rP|1||Ren\xe9e\rL|1|N\r", Options{Charset: charset.UTF8}, ErrCharset, 2},
	{"control", "H|\\^&\rP|1||a\x01b\rL|1|N\r", Options{}, ErrControl, 2},
	{"no-header", "P|1\rL|1|N\r", Options{}, ErrStructure, 1},
	{"two-headers", "H|\\^&\rH|\\^&\rL|1|N\r", Options{}, ErrStructure, 2},
	{"no-terminator", "H|\\^&\rP|1\r", Options{}, ErrStructure, 2},
	{"early-terminator", "H|\\^&\rL|1|N\rP|1\rL|1|N\r", Options{}, ErrStructure, 2},
	{"order-without-patient", "H|\\^&\rO|1|S1\rL|1|N\r", Options{}, ErrStructure, 2},
	{"result-without-order", "H|\\^&\rP|1\rR|1|^^^GHB|1\rL|1|N\r", Options{}, ErrStructure, 3},
	{"result-after-query", "H|\\^&\rP|1\rO|1|S1\rQ|1|^S1\rR|1|^^^GHB|1\rL|1|N\r", Options{}, ErrStructure, 5},
	{"unknown-type", "H|\\^&\rX|1\rL|1|N\r", Options{}, ErrType, 2},
	{"long-type", "H|\\^&\rPX|1\rL|1|N\r", Options{}, ErrType, 2},
	{"bad-sequence", "H|\\^&\rP|one\rL|1|N\r", Options{}, ErrSequence, 2},
	{"zero-sequence", "H|\\^&\rP|0\rL|1|N\r", Options{}, ErrSequence, 2},
	{"duplicate-delimiter", "H|\\^^\rL|1|N\r", Options{}, ErrDelimiters, 1},
	{"letter-delimiter", "H|\\^A\rL|1|N\r", Options{}, ErrDelimiters, 1},
	{"empty-record", "H|\\^&\r\rL|1|N\r", Options{}, ErrEmpty, 2},
	{"two-tests-in-result", "H|\\^&\rP|1\rO|1|S1\rR|1|^^^A\\^^^B|1\rL|1|N\r", Options{}, ErrStructure, 4},
	{"query", "H|\\^&|||c111\rQ|1|^S240612-0001||^^^ALL||||||||O\rL|1|N\r", Options{}, nil, 0},
	{"comments", "H|\\^&\rC|1|I|header note|G\rP|1\rC|1|L|patient note\rO|1|S1\rC|1|I|order note\rR|1|^^^GHB|1\rC|1|I|HEMOLYSED^sample is haemolysed|I\rL|1|N\r", Options{}, nil, 0},
	{"manufacturer", "H|\\^&\rM|1|VENDOR^X|42\rS|1|method\rL|1|N\r", Options{}, nil, 0},
}

func TestParseMessage(t *testing.T) {
	for _, tc := range messageCases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMessage(split(tc.in), tc.opt)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				var re *Error
				if !errors.As(err, &re) || re.Record != tc.at {
					t.Fatalf("error %v names record %d, want %d", err, re.Record, tc.at)
				}
				if m != nil {
					t.Fatal("a message came back with the error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Records) != len(split(tc.in)) {
				t.Fatalf("%d records, want %d", len(m.Records), len(split(tc.in)))
			}
		})
	}
}

func TestDialectDetails(t *testing.T) {
	parse := func(in string, opt Options) *Message {
		t.Helper()
		m, err := ParseMessage(split(in), opt)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	byName := map[string]int{}
	for i, tc := range messageCases {
		byName[tc.name] = i
	}
	c := func(n string) (string, Options) { tc := messageCases[byName[n]]; return tc.in, tc.opt }

	m := parse(c("genexpert"))
	if m.Delimiters != (Delimiters{'|', '@', '^', '\\'}) {
		t.Errorf("genexpert delimiters = %v", m.Delimiters)
	}
	o := m.Patients[0].Orders[0]
	if len(o.Tests) != 2 || o.Tests[1].Local() != "RIF" {
		t.Errorf("genexpert tests = %v", o.Tests)
	}
	if v := o.Results[0].Value; v.Raw != "NOT DETECTED^" || v.Kind != value.Text {
		t.Errorf("genexpert escaped value = %+v", v)
	}

	m = parse(c("selectra"))
	if m.Delimiters != (Delimiters{'|', '\\', '!', '~'}) || m.Results()[0].Result.Test.Local() != "GLU" {
		t.Errorf("selectra = %v %v", m.Delimiters, m.Results()[0].Result.Test)
	}

	m = parse(c("yumizen"))
	if m.Delimiters != Standard || m.Header.Declaration != "\\\\^&" || m.Results()[0].Result.Value.Decimal != "7.2" {
		t.Errorf("yumizen = %v %q", m.Delimiters, m.Header.Declaration)
	}

	m = parse(c("escapes"))
	if got := m.Patients[0].LabID; got != "A|B^C\\D&E" {
		t.Errorf("escapes decode to %q", got)
	}

	m = parse(c("censored"))
	rs := m.Results()
	if v := rs[0].Result.Value; v.Kind != value.Censored || v.Comparator != "<" || v.Decimal != "0.5" {
		t.Errorf("<0.5 = %+v", v)
	}
	if v := rs[1].Result.Value; v.Kind != value.Censored || v.Comparator != ">" || v.Decimal != "8" {
		t.Errorf(">8 = %+v", v)
	}

	m = parse(c("decimal-comma"))
	if v := m.Results()[0].Result.Value; v.Kind != value.Number || v.Decimal != "7.41" || v.Raw != "7,41" {
		t.Errorf("7,41 = %+v", v)
	}
	// The same text under a decimal point is not a number.
	in, _ := c("decimal-comma")
	m = parse(in, Options{})
	if v := m.Results()[0].Result.Value; v.Kind != value.Text {
		t.Errorf("7,41 under a point = %+v", v)
	}

	m = parse(c("latin1"))
	if m.Patients[0].LabID != "Renée" {
		t.Errorf("latin1 = %q", m.Patients[0].LabID)
	}
	m = parse(c("cp1252"))
	if m.Patients[0].LabID != "€ 5" {
		t.Errorf("cp1252 = %q", m.Patients[0].LabID)
	}
	m = parse(c("utf8"))
	if m.Patients[0].LabID != "Renée" {
		t.Errorf("utf8 = %q", m.Patients[0].LabID)
	}

	m = parse(c("query"))
	if q := m.Queries[0]; len(q.Specimens(2)) != 1 || q.Specimens(2)[0] != "S240612-0001" || q.Tests[0].Local() != "ALL" || q.Status != "O" {
		t.Errorf("query = %+v", q)
	}

	m = parse(c("comments"))
	if len(m.Comments) != 1 || len(m.Patients[0].Comments) != 1 || len(m.Patients[0].Orders[0].Comments) != 1 {
		t.Errorf("comments misplaced: %d %d %d", len(m.Comments), len(m.Patients[0].Comments), len(m.Patients[0].Orders[0].Comments))
	}
	rc := m.Results()[0].Result.Comments
	if len(rc) != 1 || rc[0].Text.Component(2) != "sample is haemolysed" || rc[0].Type != "I" {
		t.Errorf("result comment = %+v", rc)
	}
	m = parse(c("manufacturer"))
	if len(m.Manufacturer) != 1 || len(m.Scientific) != 1 {
		t.Errorf("M/S records: %d %d", len(m.Manufacturer), len(m.Scientific))
	}
}

func TestErrorText(t *testing.T) {
	_, err := ParseMessage(split("H|\\^&\rP|1||A&X&B\rL|1\r"), Options{})
	want := `astm record 2 (P), field 4, byte 6: bad escape sequence: "&X&" is not &F& &S& &R& or &E&`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v\nwant    %s", err, want)
	}
}

func TestEncodeEscapesAndCharsets(t *testing.T) {
	r := New('P')
	r.Set(2, Text("1"))
	r.Set(4, Components("A|B", "C^D", "E\\F&G"))
	r.Set(6, Text("Müller"))
	for _, tc := range []struct {
		opt  Options
		want string
		err  error
	}{
		{Options{Charset: charset.Latin1}, "P|1||A&F&B^C&S&D^E&R&F&E&G||M\xfcller", nil},
		{Options{Charset: charset.UTF8}, "P|1||A&F&B^C&S&D^E&R&F&E&G||M\xc3\xbcller", nil},
		{Options{Charset: charset.ASCII}, "", ErrCharset},
		{Options{Charset: charset.Latin1, Delimiters: Delimiters{'|', '@', '^', '\\'}}, "P|1||A&F&B^C&S&D^E&R&F&E&G||M\xfcller", nil},
	} {
		e, err := NewEncoder(tc.opt)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.Append(nil, r)
		if tc.err != nil {
			if !errors.Is(err, tc.err) || len(got) != 0 {
				t.Errorf("%+v: %q, %v; want %v and nothing written", tc.opt, got, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if tc.opt.Delimiters.Escape == '\\' {
			tc.want = "P|1||A\\F\\B^C\\S\\D^E\\E\\F&G||M\xfcller"
		}
		if string(got) != tc.want {
			t.Errorf("%+v: %q, want %q", tc.opt, got, tc.want)
		}
	}
	// A header is written with the dialect's declaration.
	e, _ := NewEncoder(Options{Declaration: "\\\\^&"})
	h, _ := e.Append(nil, Header{Sender: Repeat{"LIS"}}.Build())
	if string(h) != "H|\\\\^&|||LIS" {
		t.Errorf("header = %q", h)
	}
	if _, err := NewEncoder(Options{Delimiters: Delimiters{'|', '|', '^', '&'}}); !errors.Is(err, ErrDelimiters) {
		t.Errorf("duplicate delimiters accepted: %v", err)
	}
}

func TestBuildSequences(t *testing.T) {
	m := &Message{
		Header: Header{Sender: Repeat{"LIS"}, ProcessingID: "P", Version: "LIS2-A2"},
		Patients: []Patient{
			{LabID: "P1", Orders: []Order{
				{SpecimenID: "S1", Tests: []TestID{{"", "", "", "GHB"}}, Results: []Result{
					{Test: TestID{"", "", "", "GHB"}, Value: value.Value{Raw: "<0.5"}, Units: "mg/L", Status: "F"},
					{Test: TestID{"", "", "", "ETG"}, Value: value.Value{Raw: "1.2"}, Status: "F"},
				}},
				{SpecimenID: "S2"},
			}},
			{LabID: "P2", Orders: []Order{{SpecimenID: "S3"}}},
		},
		Terminator: Terminator{Code: "N"},
	}
	e, _ := NewEncoder(Options{})
	raws, err := e.Encode(m.Build())
	if err != nil {
		t.Fatal(err)
	}
	got := string(bytes.Join(raws, []byte("\r")))
	want := "H|\\^&|||LIS|||||||P|LIS2-A2\rP|1||P1\rO|1|S1||^^^GHB\rR|1|^^^GHB|<0.5|mg/L||||F\rR|2|^^^ETG|1.2|||||F\rO|2|S2\rP|2||P2\rO|1|S3\rL|1|N"
	if got != want {
		t.Errorf("built:\n%q\nwant\n%q", got, want)
	}
	back, err := ParseMessage(raws, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v := back.Results()[0].Result.Value; v.Kind != value.Censored {
		t.Errorf("censored value did not survive: %+v", v)
	}
}

// FuzzParseMessage checks that parsing never panics, that failures are
// *Error, and that whatever parses re-encodes to records that parse to the
// same fields.
func FuzzParseMessage(f *testing.F) {
	for _, tc := range messageCases {
		f.Add([]byte(tc.in), int(tc.opt.Charset), tc.opt.DecimalMark == value.Comma, tc.opt.Declaration)
	}
	f.Fuzz(func(t *testing.T, in []byte, cs int, comma bool, decl string) {
		opt := Options{Charset: charset.Charset(uint(cs) % 5), Declaration: decl}
		if comma {
			opt.DecimalMark = value.Comma
		}
		if opt.Validate() != nil {
			return
		}
		raws := bytes.Split(bytes.TrimSuffix(in, []byte("\r")), []byte("\r"))
		m, err := ParseMessage(raws, opt)
		if err != nil {
			var re *Error
			if !errors.As(err, &re) {
				t.Fatalf("error %v is not a *record.Error", err)
			}
			return
		}
		// Re-encode with the delimiters the header declared (a custom
		// declaration is written back as sent).
		eopt := opt
		eopt.Delimiters = m.Delimiters
		if m.Header.Declaration != opt.Declaration {
			eopt.Declaration = ""
		}
		e, err := NewEncoder(eopt)
		if err != nil {
			t.Fatalf("delimiters %v parsed but do not encode: %v", m.Delimiters, err)
		}
		again, err := e.Encode(m.Records)
		if err != nil {
			t.Fatalf("parsed records do not encode: %v", err)
		}
		m2, err := ParseMessage(again, eopt)
		if err != nil {
			t.Fatalf("re-encoded message does not parse: %v\n%q", err, bytes.Join(again, []byte("\r")))
		}
		for i := range m.Records {
			a, b := m.Records[i].Fields, m2.Records[i].Fields
			for len(a) > 0 && a[len(a)-1].IsEmpty() {
				a = a[:len(a)-1]
			}
			if i == 0 && len(a) > 1 {
				a = a[2:] // the declaration may be rewritten
				b = b[2:]
			}
			if !reflect.DeepEqual(normalise(a), normalise(b)) {
				t.Fatalf("record %d changed: %q -> %q", i+1, a, b)
			}
		}
	})
}

// normalise makes empty fields nil so equal content compares equal.
func normalise(fs []Field) []Field {
	out := make([]Field, len(fs))
	for i, f := range fs {
		if !f.IsEmpty() {
			out[i] = f
		}
	}
	for len(out) > 0 && out[len(out)-1] == nil {
		out = out[:len(out)-1]
	}
	return out
}

// BenchmarkParseRecords parses the result records of a realistic message;
// records/s is reported as a metric (target ≥ 100,000). The baseline
// sub-benchmark, measured in the same run, only cuts the same records at
// their field, repeat and component delimiters with bytes.Split — no
// escapes, no validation, no typed views — as a floor for what any parser
// must do.
func BenchmarkParseRecords(b *testing.B) {
	recs := [][]byte{
		[]byte("R|1|^^^GHB^1|42.0|mg/L|0-10|H||F||OPERATOR1|20240612102800|20240612102900|c111^1234"),
		[]byte("R|2|^^^BENZ|<0.5|ng/mL|0-200|N||F||OPERATOR1|20240612102800|20240612102900|c111^1234"),
		[]byte("O|1|S240612-0001^12^3||^^^BENZ\\^^^GHB\\^^^ETG|R|20240612090000|20240612085500|||||N||||URINE||||||||||F"),
		[]byte("C|1|I|HEMOLYSED^Sample haemolysed&F& check|I"),
	}
	run := func(b *testing.B, parse func([]byte) error) {
		b.ReportAllocs()
		n := 0
		for i := 0; i < b.N; i++ {
			for _, r := range recs {
				if err := parse(r); err != nil {
					b.Fatal(err)
				}
				n++
			}
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
	}
	b.Run("parser", func(b *testing.B) {
		p := NewParser(Options{})
		if _, err := p.ParseHeader([]byte("H|\\^&|||c111")); err != nil {
			b.Fatal(err)
		}
		run(b, func(r []byte) error { _, err := p.Parse(r); return err })
	})
	b.Run("split-baseline", func(b *testing.B) {
		var sink int
		run(b, func(r []byte) error {
			for _, f := range bytes.Split(r, []byte{'|'}) {
				for _, rep := range bytes.Split(f, []byte{'\\'}) {
					sink += len(bytes.Split(rep, []byte{'^'}))
				}
			}
			if sink == 0 {
				return errors.New("nothing split")
			}
			return nil
		})
	})
}

// BenchmarkParseMessage parses whole messages with typed views.
func BenchmarkParseMessage(b *testing.B) {
	raws := split(domainMessage)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := ParseMessage(raws, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(raws))/b.Elapsed().Seconds(), "records/s")
}
