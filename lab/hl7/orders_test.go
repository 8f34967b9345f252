package hl7

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
	"github.com/exhibit-forensics/exhibit/lab/charset"
)

func TestOrders(t *testing.T) {
	at := time.Date(2024, 6, 12, 10, 30, 0, 0, time.UTC)
	req := OrderRequest{PatientID: "CASE-0001", PatientName: []string{"Doe", "Jane"}, Orders: []Order{
		{PlacerOrder: "S1-1", PlacerGroup: "S1", SpecimenID: "S1", Test: CE{"GHB", "GHB", "L"}, Priority: "S", SpecimenType: "URINE"},
		{PlacerOrder: "S1-2", PlacerGroup: "S1", SpecimenID: "S1", Test: CE{"BENZ", "Benzodiazepines", "L"}, Priority: "R", SpecimenType: "URINE"},
	}}
	for _, tc := range []struct {
		version, structure, typ, want string
	}{
		{"2.3", "", "ORM^O01", "MSH|^~\\&|EXHIBIT|LAB|C111||20240612103000||ORM^O01|O1|P|2.3\rPID|1||CASE-0001||Doe^Jane\r" +
			"ORC|NW|S1-1||S1\rOBR|1|S1-1||GHB^GHB^L|S||||||||||URINE\rORC|NW|S1-2||S1\rOBR|2|S1-2||BENZ^Benzodiazepines^L|R||||||||||URINE\r"},
		{"2.5.1", OMLO21, "OML^O21", "MSH|^~\\&|EXHIBIT|LAB|C111||20240612103000||OML^O21^OML_O21|O1|P|2.5.1\rPID|1||CASE-0001||Doe^Jane\r" +
			"ORC|NW|S1-1||S1\rTQ1|1||||||||S\rOBR|1|S1-1||GHB^GHB^L\rSPM|1|S1||URINE\rORC|NW|S1-2||S1\rTQ1|1||||||||R\rOBR|2|S1-2||BENZ^Benzodiazepines^L\rSPM|1|S1||URINE\r"},
		{"2.5.1", "", "OML^O33", "MSH|^~\\&|EXHIBIT|LAB|C111||20240612103000||OML^O33^OML_O33|O1|P|2.5.1\rPID|1||CASE-0001||Doe^Jane\r" +
			"SPM|1|S1||URINE\rORC|NW|S1-1||S1\rTQ1|1||||||||S\rOBR|1|S1-1||GHB^GHB^L\rORC|NW|S1-2||S1\rTQ1|1||||||||R\rOBR|2|S1-2||BENZ^Benzodiazepines^L\r"},
	} {
		r := req
		r.Structure = tc.structure
		segs, err := NewOrders(Header{SendingApp: "EXHIBIT", SendingFacility: "LAB", ReceivingApp: "C111", Time: at, ControlID: "O1", Version: tc.version}, r)
		if err != nil {
			t.Fatal(err)
		}
		out, err := Encode(segs, Standard, charset.ASCII)
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != tc.want {
			t.Errorf("%s %s:\n%q\nwant\n%q", tc.version, tc.typ, out, tc.want)
		}
		m, err := Parse(out, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if m.Type()+"^"+m.Trigger() != tc.typ {
			t.Errorf("type %s^%s", m.Type(), m.Trigger())
		}
		got, err := ParseOrders(m)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Test.Code != "GHB" || got[0].Priority != "S" || got[1].Priority != "R" || got[0].SpecimenID != "S1" ||
			got[1].SpecimenID != "S1" || got[0].PlacerOrder != "S1-1" || got[1].PlacerOrder != "S1-2" || got[0].PlacerGroup != "S1" ||
			got[0].SpecimenType != "URINE" || got[1].Test.Code != "BENZ" || got[0].PatientID != "CASE-0001" ||
			got[0].PatientName != "Doe^Jane" || got[0].Control != "NW" {
			t.Errorf("%s: orders %+v", tc.typ, got)
		}
	}
}

func TestNewOrdersRefuses(t *testing.T) {
	h := Header{ControlID: "O1"}
	one := Order{PlacerOrder: "S1-1", SpecimenID: "S1", Test: CE{Code: "GHB"}}
	for _, tc := range []struct {
		name string
		h    Header
		req  OrderRequest
		want string
	}{
		{"no orders", h, OrderRequest{}, "at least one order"},
		{"two specimens", h, OrderRequest{Orders: []Order{one, {PlacerOrder: "S2-1", SpecimenID: "S2", Test: CE{Code: "GHB"}}}}, "one specimen"},
		{"O33 before 2.5", Header{Version: "2.3.1"}, OrderRequest{Orders: []Order{one}, Structure: OMLO33}, "needs v2.5"},
		{"unknown structure", h, OrderRequest{Orders: []Order{one}, Structure: "OML^O35"}, "not an order structure"},
	} {
		if _, err := NewOrders(tc.h, tc.req); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestParseOrdersO33Structure(t *testing.T) {
	for _, tc := range []struct {
		in  []byte
		err error
	}{
		{msg("MSH|^~\\&|A||||||OML^O33|1|P|2.5.1", "ORC|NW|S1-1", "OBR|1|S1-1||GHB"), ErrStructure},        // no SPM
		{msg("MSH|^~\\&|A||||||OML^O33|1|P|2.5.1", "SPM|1", "ORC|NW|S1-1", "OBR|1|S1-1||GHB"), ErrMissing}, // SPM-2 empty
		{msg("MSH|^~\\&|A||||||OML^O33|1|P|2.5.1", "SPM|1|S1", "OBR|1|S1-1||GHB"), ErrStructure},           // OBR with no ORC
		{msg("MSH|^~\\&|A||||||OML^O33|1|P|2.5.1", "SPM|1|S1", "ORC|NW|S1-1", "OBR|1|S1-1"), ErrMissing},   // no test
		{msg("MSH|^~\\&|A||||||OML^O33|1|P|2.5.1", "SPM|1|S1"), ErrMissing},                                // no OBR
		{msg("MSH|^~\\&|A||||||OML^O35|1|P|2.5.1", "SPM|1|S1"), ErrType},
	} {
		m, err := Parse(tc.in, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseOrders(m); !errors.Is(err, tc.err) {
			t.Errorf("%q: %v, want %v", tc.in, err, tc.err)
		}
	}
	// Two specimen groups in one OML^O33 (not what NewOrders builds, but
	// the structure allows repeating SPECIMEN): each OBR takes its own.
	m, err := Parse(msg("MSH|^~\\&|A||||||OML^O33|1|P|2.5.1", "SPM|1|S1||URINE", "ORC|NW|S1-1", "OBR|1|S1-1||GHB",
		"SPM|2|S2", "ORC|NW|S2-1", "OBR|1|S2-1||THC"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseOrders(m)
	if err != nil || len(got) != 2 || got[0].SpecimenID != "S1" || got[0].SpecimenType != "URINE" || got[1].SpecimenID != "S2" || got[1].SpecimenType != "" {
		t.Errorf("two specimens: %+v %v", got, err)
	}
}

// orderReplyCases are the reply parser's table and FuzzParseOrderReply's
// seeds.
var orderReplyCases = []struct {
	name     string
	in       []byte
	err      error // nil: parses
	code     string
	accepted bool
	reason   string
}{
	{"orl-o34-aa", msg("MSH|^~\\&|C111|LAB|EXHIBIT|LAB|20240612103001||ORL^O34^ORL_O34|A1|P|2.5.1", "MSA|AA|O1"), nil, AA, true, "no reason given"},
	{"orl-o34-ae", msg("MSH|^~\\&|C111|LAB|EXHIBIT|LAB|20240612103001||ORL^O34^ORL_O34|A1|P|2.5.1", "MSA|AE|O1|busy",
		"ERR||ORC^1^1|207^Application internal error^HL70357|E||||analyser busy"), nil, AE, false, "busy; 207 Application internal error: analyser busy"},
	{"orl-o34-ar", msg("MSH|^~\\&|C111|LAB|EXHIBIT|LAB|20240612103001||ORL^O34^ORL_O34|A1|P|2.5.1", "MSA|AR|O1|unknown test XYZ",
		"ERR||OBR^1^4|103^Table value not found^HL70357|E||||unknown test XYZ"), nil, AR, false, "unknown test XYZ; 103 Table value not found: unknown test XYZ"},
	{"orl-o34-orc-ua", msg("MSH|^~\\&|C111|LAB|EXHIBIT|LAB|||ORL^O34|A1|P|2.5.1", "MSA|AA|O1", "PID|1||CASE-1", "SPM|1|S1",
		"ORC|OK|S1-1", "ORC|UA|S1-2"), nil, AA, false, "order S1-2 answered UA"},
	{"orr-o02-aa", msg("MSH|^~\\&|AU|LAB|EXHIBIT|LAB|||ORR^O02|A1|P|2.3.1", "MSA|AA|O1", "ORC|OK|S1-1"), nil, AA, true, "no reason given"},
	{"orr-o02-ar-err1", msg("MSH|^~\\&|AU|LAB|EXHIBIT|LAB|||ORR^O02|A1|P|2.3", "MSA|AR|O1", "ERR|OBR^1^4^103&Table value not found&HL70357"),
		nil, AR, false, "103 Table value not found"},
	{"ack-o33", msg("MSH|^~\\&|C111|LAB|EXHIBIT|LAB|||ACK^O33^ACK|A1|P|2.5.1", "MSA|AA|O1"), nil, AA, true, "no reason given"},
	{"ack-plain-sft", msg("MSH|^~\\&|C111|LAB|EXHIBIT|LAB|||ACK|A1|P|2.5.1", "SFT|Roche|1.0", "MSA|AA|O1"), nil, AA, true, "no reason given"},
	{"ack-r01", msg("MSH|^~\\&|C111|LAB|EXHIBIT|LAB|||ACK^R01|A1|P|2.5.1", "MSA|AA|O1"), ErrType, "", false, ""},
	{"oru", msg("MSH|^~\\&|C111|LAB|EXHIBIT|LAB|||ORU^R01|A1|P|2.5.1", "MSA|AA|O1"), ErrType, "", false, ""},
	{"wrong-structure", msg("MSH|^~\\&|C111|LAB|EXHIBIT|LAB|||ORL^O34^ORL_O22|A1|P|2.5.1", "MSA|AA|O1"), ErrType, "", false, ""},
	{"no-msa", msg("MSH|^~\\&|C111|LAB|EXHIBIT|LAB|||ORL^O34|A1|P|2.5.1"), ErrMissing, "", false, ""},
	{"two-msa", msg("MSH|^~\\&|C111|LAB|EXHIBIT|LAB|||ORL^O34|A1|P|2.5.1", "MSA|AA|O1", "MSA|AR|O1"), ErrStructure, "", false, ""},
	{"err-before-msa", msg("MSH|^~\\&|C111|LAB|EXHIBIT|LAB|||ORL^O34|A1|P|2.5.1", "ERR||||E", "MSA|AA|O1"), ErrStructure, "", false, ""},
	{"commit-code", msg("MSH|^~\\&|C111|LAB|EXHIBIT|LAB|||ACK^O33|A1|P|2.5.1", "MSA|CA|O1"), ErrMissing, "", false, ""},
	{"no-control-id", msg("MSH|^~\\&|C111|LAB|EXHIBIT|LAB|||ORL^O34|A1|P|2.5.1", "MSA|AA"), ErrMissing, "", false, ""},
	{"orc-without-placer", msg("MSH|^~\\&|C111|LAB|EXHIBIT|LAB|||ORL^O34|A1|P|2.5.1", "MSA|AA|O1", "ORC|OK"), ErrMissing, "", false, ""},
}

func TestParseOrderReply(t *testing.T) {
	for _, tc := range orderReplyCases {
		m, err := Parse(tc.in, Options{})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		r, err := ParseOrderReply(m)
		if tc.err != nil {
			var e *Error
			if !errors.Is(err, tc.err) || !errors.As(err, &e) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if r.Code != tc.code || r.ControlID != "O1" || r.Accepted() != tc.accepted || r.Reason() != tc.reason {
			t.Errorf("%s: %+v accepted=%v reason=%q; want %s %v %q", tc.name, r, r.Accepted(), r.Reason(), tc.code, tc.accepted, tc.reason)
		}
	}
}

// NewOrderReply answers each order structure with its own reply type, and
// ParseOrderReply reads what it builds.
func TestNewOrderReply(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"OML^O33^OML_O33|O1|P|2.5.1", "ORL^O34"},
		{"OML^O21^OML_O21|O1|P|2.5.1", "ORL^O22"},
		{"ORM^O01|O1|P|2.3.1", "ORR^O02"},
	} {
		in, err := Parse(msg("MSH|^~\\&|EXHIBIT|LAB|C111|LAB|20240612103000||"+tc.in, "SPM|1|S1", "ORC|NW|S1-1", "OBR|1|S1-1||GHB"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, code := range []string{AA, AE, AR} {
			segs := NewOrderReply(in, code, "why", &Error{Segment: 4, Name: "OBR", Field: 4, Offset: -1, Err: ErrType}, Header{SendingApp: "C111"})
			out, err := Encode(segs, in.Delimiters, AckCharset(in))
			if err != nil {
				t.Fatal(err)
			}
			m, err := Parse(out, Options{})
			if err != nil {
				t.Fatal(err)
			}
			r, err := ParseOrderReply(m)
			if err != nil {
				t.Fatalf("%s: %v\n%q", tc.in, err, out)
			}
			if r.Type != tc.want || r.Code != code || r.ControlID != "O1" || (code == AA) != r.Accepted() || (code != AA) != (len(r.Errors) == 1) {
				t.Errorf("%s %s: %+v\n%q", tc.in, code, r, out)
			}
		}
	}
}

// FuzzParseOrderReply: the reply parser never panics, fails only with
// *Error, and a reply it accepts has a code and a control id.
func FuzzParseOrderReply(f *testing.F) {
	for _, tc := range orderReplyCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := Parse(in, Options{})
		if err != nil {
			return
		}
		r, err := ParseOrderReply(m)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not *hl7.Error", err)
			}
			return
		}
		if (r.Code != AA && r.Code != AE && r.Code != AR) || r.ControlID == "" {
			t.Fatalf("accepted reply %+v", r)
		}
		if r.Accepted() && r.Code != AA {
			t.Fatalf("accepted with %s", r.Code)
		}
		_ = r.Reason()
	})
}

// TestWriteOrderReplyCorpus keeps the committed seed corpus of
// FuzzParseOrderReply equal to orderReplyCases; -write-corpus rewrites it.
func TestWriteOrderReplyCorpus(t *testing.T) {
	var seeds []fuzzseed.Seed
	for i, tc := range orderReplyCases {
		seeds = append(seeds, fuzzseed.Seed{Name: fmt.Sprintf("%02d-%s", i, tc.name), Args: []any{tc.in}})
	}
	fuzzseed.Sync(t, "FuzzParseOrderReply", seeds)
}
