package hl7

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/lab/charset"
	"github.com/exhibit-forensics/exhibit/lab/value"
)

func msg(segs ...string) []byte { return []byte(strings.Join(segs, "\r") + "\r") }

// oruTwoGroups is an ORU^R01 with two patients, three ORC/OBR groups,
// notes, a censored SN value, escapes and Latin-1 text.
var oruTwoGroups = msg(
	"MSH|^~\\&|ANALYSER|LAB|EXHIBIT|LAB|20240612103000||ORU^R01^ORU_R01|MSG0001|P|2.5.1|||AL|NE||8859/1",
	"PID|1||CASE-0001^^^LAB^PI||M\xfcller^J\xfcrgen",
	"PV1|1|O",
	"ORC|RE|S240612-0001|F1",
	"OBR|1|S240612-0001|F1|TOX^Toxicology screen^L|||20240612090000",
	"OBX|1|NM|GHB^gamma-hydroxybutyrate^L||42.0|mg/L|0-10|H|||F|||20240612102900",
	"NTE|1||above the endogenous threshold",
	"OBX|2|SN|THC^THC-COOH^L||<^15|ng/mL|||||F",
	"OBX|3|ST|BENZ^Benzodiazepines^L||NEG\\T\\confirmed||||||F",
	"ORC|RE|S240612-0001|F2",
	"OBR|2|S240612-0001|F2|ETG^Ethyl glucuronide^L",
	"OBX|1|NM|ETG^EtG^L||<500|ng/mL|||||F",
	"SPM|1|SPEC-A||URINE",
	"PID|2||CASE-0002",
	"OBR|1|S2||GHB^GHB^L",
	"OBX|1|NM|GHB^GHB^L||7,41|mg/L|||||F",
)

func TestParseORU(t *testing.T) {
	m, err := Parse(oruTwoGroups, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Type() != "ORU" || m.Trigger() != "R01" || m.ControlID() != "MSG0001" || m.Version() != "2.5.1" || m.Charset != charset.Latin1 {
		t.Fatalf("header: %s %s %s %s %v", m.Type(), m.Trigger(), m.ControlID(), m.Version(), m.Charset)
	}
	if m.ID != chain.Sum(oruTwoGroups) {
		t.Error("ID is not the SHA-256 of the canonical bytes")
	}
	o, err := ParseORU(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Patients) != 2 || o.Patients[0].PatientID != "CASE-0001" || o.Patients[0].Name != "Müller^Jürgen" {
		t.Fatalf("patients %+v", o.Patients)
	}
	g := o.Patients[0].Orders
	if len(g) != 2 || g[0].Service.Code != "TOX" || g[0].PlacerOrder != "S240612-0001" || g[0].SpecimenID != "F1" || g[1].SpecimenID != "SPEC-A" {
		t.Fatalf("groups %+v", g)
	}
	obs := g[0].Observations
	if len(obs) != 3 {
		t.Fatalf("%d observations", len(obs))
	}
	if v := obs[0].Value; v.Kind != value.Number || v.Decimal != "42.0" || obs[0].Units != "mg/L" || obs[0].Flags[0] != "H" || obs[0].Status != "F" {
		t.Errorf("GHB %+v", obs[0])
	}
	if len(obs[0].Notes) != 1 || obs[0].Notes[0] != "above the endogenous threshold" {
		t.Errorf("notes %q", obs[0].Notes)
	}
	if v := obs[1].Value; v.Kind != value.Censored || v.Comparator != "<" || v.Decimal != "15" {
		t.Errorf("SN <^15 = %+v", v)
	}
	if v := obs[2].Value; v.Kind != value.Text || v.Raw != "NEG&confirmed" {
		t.Errorf("ST = %+v", v)
	}
	if s := obs[2].Segment.Field(5).Text(); s != "NEG&confirmed" {
		t.Errorf("unescaped %q", s)
	}
	if v := g[1].Observations[0].Value; v.Kind != value.Censored || v.Decimal != "500" {
		t.Errorf("NM <500 = %+v", v)
	}
	// A decimal comma is not a number in HL7 (NM uses a point).
	if v := o.Patients[1].Orders[0].Observations[0].Value; v.Kind != value.Text {
		t.Errorf("NM 7,41 = %+v", v)
	}
	// Encoding gives back the same bytes.
	out, err := Encode(m.Segments, m.Delimiters, m.Charset)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != string(oruTwoGroups) {
		t.Errorf("re-encoded:\n%q\nwant\n%q", out, oruTwoGroups)
	}
}

var parseCases = []struct {
	name string
	in   []byte
	opt  Options
	err  error
	seg  int
}{
	{"oru", oruTwoGroups, Options{}, nil, 0},
	{"lf-terminated", []byte("MSH|^~\\&|A|B|C|D|20240612||ACK^R01|1|P|2.3\nMSA|AA|X\n"), Options{}, nil, 0},
	{"crlf-terminated", []byte("MSH|^~\\&|A|B|C|D|20240612||ACK^R01|1|P|2.3\r\nMSA|AA|X\r\n"), Options{}, nil, 0},
	{"truncation-char", msg("MSH|^~\\&#|A|B|C|D|20240612||ACK^R01^ACK|1|P|2.7", "MSA|AA|X"), Options{}, nil, 0},
	{"escapes", msg("MSH|^~\\&|A", "NTE|1||a\\F\\b\\S\\c\\R\\d\\E\\e\\T\\f\\.br\\g\\X41\\"), Options{}, nil, 0},
	{"utf8", msg("MSH|^~\\&|A|||||||||2.5||||||UNICODE UTF-8", "PID|1||X||M\xc3\xbcller"), Options{}, nil, 0},
	{"default-cp1252", msg("MSH|^~\\&|A", "NTE|1||\x80 5"), Options{DefaultCharset: charset.Windows1252}, nil, 0},
	{"custom-delimiters", msg("MSH#$%@!#A", "PID#1##X$Y%Z"), Options{}, nil, 0},
	{"no-msh", msg("PID|1"), Options{}, ErrNoMSH, 1},
	{"empty", nil, Options{}, ErrNoMSH, 1},
	{"short-encoding", msg("MSH|^~|A"), Options{}, ErrDelimiters, 1},
	{"duplicate-delimiter", msg("MSH|^^\\&|A"), Options{}, ErrDelimiters, 1},
	{"bad-charset-name", msg("MSH|^~\\&|A|||||||||2.5||||||EBCDIC"), Options{}, ErrCharset, 1},
	{"ascii-high-byte", msg("MSH|^~\\&|A", "PID|1||M\xfcller"), Options{}, ErrCharset, 2},
	{"latin1-c1", msg("MSH|^~\\&|A|||||||||2.5||||||8859/1", "PID|1||\x85"), Options{}, ErrCharset, 2},
	{"bad-utf8", msg("MSH|^~\\&|A|||||||||2.5||||||UNICODE UTF-8", "PID|1||\xfc"), Options{}, ErrCharset, 2},
	{"unknown-escape", msg("MSH|^~\\&|A", "NTE|1||\\Q\\bold\\N\\"), Options{}, ErrEscape, 2},
	{"open-escape", msg("MSH|^~\\&|A", "NTE|1||a\\F"), Options{}, ErrEscape, 2},
	{"bad-hex", msg("MSH|^~\\&|A", "NTE|1||\\XZZ\\"), Options{}, ErrEscape, 2},
	{"hex-control", msg("MSH|^~\\&|A", "NTE|1||\\X07\\"), Options{}, nil, 0},
	{"control", msg("MSH|^~\\&|A", "NTE|1||a\x01b"), Options{}, ErrControl, 2},
	{"bad-segment-name", msg("MSH|^~\\&|A", "pid|1"), Options{}, ErrSegment, 2},
	{"second-msh", msg("MSH|^~\\&|A", "MSH|^~\\&|B"), Options{}, ErrStructure, 2},
	// A NUL as the fifth encoding character is a control character, not a
	// truncation character (found by FuzzParse: it was taken for "none").
	{"nul-truncation-char", msg("MSH|^~\\&\x00|A|||||||||2.7"), Options{}, ErrDelimiters, 1},
}

func TestParseErrors(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse(tc.in, tc.opt)
			if tc.err == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tc.err) || m != nil {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			var e *Error
			if !errors.As(err, &e) || e.Segment != tc.seg {
				t.Fatalf("error %v names segment %d, want %d", err, e.Segment, tc.seg)
			}
		})
	}
	m, err := Parse(parseCases[4].in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Segments[1].Text(3); got != "a|b^c~d\\e&f\ngA" {
		t.Errorf("escapes decode to %q", got)
	}
	m, _ = Parse(parseCases[7].in, Options{})
	if m.Delimiters != (Delimiters{'#', '$', '%', '@', '!', 0}) || m.Segments[1].Field(3).Get(1, 2, 1) != "Y" {
		t.Errorf("custom delimiters %+v", m.Delimiters)
	}
	m, _ = Parse(parseCases[3].in, Options{})
	if m.Delimiters.Truncation != '#' || m.MSH().Text(2) != "^~\\&#" {
		t.Errorf("truncation %+v", m.Delimiters)
	}
	// LF and CR LF terminators: the same canonical form and identity as
	// CR, but each keeps its own bytes and ID.
	a, _ := Parse(parseCases[1].in, Options{})
	b, _ := Parse(parseCases[2].in, Options{})
	if a.Identity != b.Identity || a.ID == b.ID || string(Canonical(a.Raw)) != "MSH|^~\\&|A|B|C|D|20240612||ACK^R01|1|P|2.3\rMSA|AA|X\r" {
		t.Errorf("canonical forms differ: %q %q", a.Raw, b.Raw)
	}
}

func TestORUStructureErrors(t *testing.T) {
	for _, tc := range []struct {
		in  []byte
		err error
	}{
		{msg("MSH|^~\\&|A||||||ORU^R01|1|P|2.5", "PID|1", "OBX|1|NM|GHB||1"), ErrStructure},
		{msg("MSH|^~\\&|A||||||ORU^R01|1|P|2.5", "ORC|RE|1"), ErrStructure},
		{msg("MSH|^~\\&|A||||||ORU^R01|1|P|2.5", "OBR|1|S", "OBX|1|NM|||1"), ErrMissing},
		{msg("MSH|^~\\&|A||||||ORM^O01|1|P|2.3", "PID|1"), ErrType},
	} {
		m, err := Parse(tc.in, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseORU(m); !errors.Is(err, tc.err) {
			t.Errorf("%q: %v, want %v", tc.in, err, tc.err)
		}
	}
}

func TestAck(t *testing.T) {
	in, err := Parse(oruTwoGroups, Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 6, 12, 10, 31, 0, 0, time.UTC)
	h := Header{SendingApp: "EXHIBIT", SendingFacility: "LAB", Time: at}
	for _, tc := range []struct {
		code, text string
		cause      error
		want       string
	}{
		{AA, "", nil, "MSH|^~\\&|EXHIBIT|LAB|ANALYSER|LAB|20240612103100||ACK^R01^ACK|A%s|P|2.5.1||||||8859/1\rMSA|AA|MSG0001\r"},
		{AE, "not stored", nil, "MSH|^~\\&|EXHIBIT|LAB|ANALYSER|LAB|20240612103100||ACK^R01^ACK|A%s|P|2.5.1||||||8859/1\rMSA|AE|MSG0001|not stored\rERR|||207^Application internal error^HL70357|E||||not stored\r"},
		{AR, "bad", &Error{Err: ErrStructure}, "MSH|^~\\&|EXHIBIT|LAB|ANALYSER|LAB|20240612103100||ACK^R01^ACK|A%s|P|2.5.1||||||8859/1\rMSA|AR|MSG0001|bad\rERR|||100^Segment sequence error^HL70357|E||||bad\r"},
	} {
		segs := NewAck(in, tc.code, tc.text, tc.cause, h)
		out, err := Encode(segs, in.Delimiters, in.Charset)
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf(tc.want, in.ID.Hex()[:19])
		if string(out) != want {
			t.Errorf("%s:\n%q\nwant\n%q", tc.code, out, want)
		}
		m, _ := Parse(out, Options{})
		a, err := ParseAck(m)
		if err != nil || a.Code != tc.code || a.ControlID != "MSG0001" || a.Text != tc.text {
			t.Errorf("ParseAck = %+v, %v", a, err)
		}
	}
	// Version 2.3: ERR-1 (code and location) instead of ERR-2/3/4,
	// two-component message type.
	old, _ := Parse(msg("MSH|^~\\&|A|B|||20240612||ORU^R01|X9|P|2.3", "OBR|1|S||T", "OBX|1|NM|T||1"), Options{})
	out, _ := Encode(NewAck(old, AE, "no", nil, h), Standard, charset.ASCII)
	if !strings.HasSuffix(string(out), "\rERR|^^^207&Application internal error&HL70357\r") || !strings.Contains(string(out), "|ACK^R01|") {
		t.Errorf("2.3 ack %q", out)
	}
}

func TestEncodeRefuses(t *testing.T) {
	if _, err := Encode([]Segment{Seg("PID")}, Standard, charset.ASCII); !errors.Is(err, ErrStructure) {
		t.Errorf("no MSH: %v", err)
	}
	if _, err := Encode([]Segment{Seg("MSH"), Seg("PID", T("Müller"))}, Standard, charset.ASCII); !errors.Is(err, ErrCharset) {
		t.Errorf("non-ASCII in ASCII: %v", err)
	}
	if _, err := Encode([]Segment{Seg("MSH"), Seg("pi")}, Standard, charset.ASCII); !errors.Is(err, ErrSegment) {
		t.Errorf("bad name: %v", err)
	}
	// A control character is not refused but written as a hexadecimal escape.
	if out, err := Encode([]Segment{Seg("MSH"), Seg("NTE", T("a\x01"))}, Standard, charset.ASCII); err != nil || string(out) != "MSH|^~\\&\rNTE|a\\X01\\\r" {
		t.Errorf("control: %q %v", out, err)
	}
}

// FuzzParse checks the parser never panics, reports *Error, and that what
// parses re-encodes to a message that parses to the same segments; and that
// ORU parsing of anything that parses does not panic.
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.in, int(tc.opt.DefaultCharset))
	}
	f.Fuzz(func(t *testing.T, in []byte, cs int) {
		opt := Options{DefaultCharset: charset.Charset(uint(cs) % 5)}
		m, err := Parse(in, opt)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not *hl7.Error", err)
			}
			return
		}
		if m.Type() == "ORU" {
			ParseORU(m)
		}
		if m.Type() == "ORM" || m.Type() == "OML" {
			ParseOrders(m)
		}
		ParseOrderReply(m)
		out, err := Encode(m.Segments, m.Delimiters, m.Charset)
		if err != nil {
			t.Fatalf("parsed message does not encode: %v", err)
		}
		m2, err := Parse(out, opt)
		if err != nil {
			t.Fatalf("re-encoded message does not parse: %v\n%q", err, out)
		}
		if len(m.Segments) != len(m2.Segments) {
			t.Fatalf("segments %d -> %d", len(m.Segments), len(m2.Segments))
		}
		for i := range m.Segments {
			a, b := norm(m.Segments[i].Fields), norm(m2.Segments[i].Fields)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("segment %d changed:\n%q\n%q", i+1, a, b)
			}
		}
	})
}

func norm(fs []Field) []Field {
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

// BenchmarkParseORU parses an ORU^R01 (16 segments, Latin-1, escapes,
// censored values) and builds its typed view; segments/s is reported as a
// metric. The baseline, in the same run, cuts the same bytes at segment,
// field, repeat and component delimiters with bytes.Split and nothing else.
func BenchmarkParseORU(b *testing.B) {
	segs := bytes.Count(oruTwoGroups, []byte{'\r'})
	run := func(b *testing.B, parse func() error) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := parse(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*segs)/b.Elapsed().Seconds(), "segments/s")
	}
	b.Run("parser", func(b *testing.B) {
		run(b, func() error {
			m, err := Parse(oruTwoGroups, Options{})
			if err != nil {
				return err
			}
			_, err = ParseORU(m)
			return err
		})
	})
	b.Run("split-baseline", func(b *testing.B) {
		var sink int
		run(b, func() error {
			for _, s := range bytes.Split(oruTwoGroups, []byte{'\r'}) {
				for _, f := range bytes.Split(s, []byte{'|'}) {
					for _, r := range bytes.Split(f, []byte{'~'}) {
						sink += len(bytes.Split(r, []byte{'^'}))
					}
				}
			}
			if sink == 0 {
				return errors.New("nothing split")
			}
			return nil
		})
	})
}
