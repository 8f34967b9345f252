package hl7

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/exhibit-forensics/exhibit/lab/charset"
)

// ackCase is one message and the acknowledgement it must get.
type ackCase struct {
	name string
	in   []byte
	// Expected acknowledgement.
	code, control string
	err2, err3    string // ERR-2 (segment^sequence^field) and ERR-3.1; v2.3-2.4: ERR-1
	msh18         string // the ACK's MSH-18
	version       string // the ACK's MSH-12
	msh9          string // the ACK's MSH-9
	quarantined   bool   // Handler.Reject was called
}

func hdr(fields string) string { return "MSH|^~\\&|ANALYSER|LAB|EXHIBIT|LAB|20240612||" + fields }

var long = strings.Repeat("x", 120)

var ackCases = []ackCase{
	{name: "bad-segment-name-ascii", in: msg(hdr("ORU^R01|C1|P|2.5.1"), "OBR|1|S||GHB", "obx "+long),
		code: AR, control: "C1", err3: "102", err2: "^3", version: "2.5.1", msh9: "ACK^R01^ACK", quarantined: true},
	{name: "unescaped-backslash", in: msg(hdr("ORU^R01|C2|P|2.5.1"), "OBR|1|S||GHB", "OBX|1|ST|GHB||C:\\temp\\"+long+"\\x"),
		code: AR, control: "C2", err3: "102", err2: "OBX^1^5", version: "2.5.1", msh9: "ACK^R01^ACK", quarantined: true},
	{name: "raw-lf-in-text", in: msg(hdr("ORU^R01|C3|P|2.5.1"), "OBR|1|S||GHB", "OBX|1|TX|GHB||first line\nsecond line of a long comment "+long),
		code: AR, control: "C3", err3: "102", err2: "^4", version: "2.5.1", msh9: "ACK^R01^ACK", quarantined: true},
	{name: "latin1", in: msg(hdr("ORU^R01|C4|P|2.5.1||||||8859/1"), "OBR|1|S||GHB", "OBX|1|ST|GHB||M\xfcller \\Q\\ "+long),
		code: AR, control: "C4", err3: "102", err2: "OBX^1^5", msh18: "8859/1", version: "2.5.1", msh9: "ACK^R01^ACK", quarantined: true},
	{name: "cp1252-declared", in: msg(hdr("ORU^R01|C5|P|2.5.1||||||WINDOWS-1252"), "OBR|1|S||GHB", "OBX|1|ST|GHB||\x80 5 \\Q\\"),
		code: AR, control: "C5", err3: "102", err2: "OBX^1^5", version: "2.5.1", msh9: "ACK^R01^ACK", quarantined: true},
	{name: "unsupported-charset", in: msg(hdr("ORU^R01|C6|P|2.5.1||||||8859/2"), "OBR|1|S||GHB", "OBX|1|ST|GHB||\xb1"),
		code: AR, control: "C6", err3: "103", err2: "MSH^1^18", version: "2.5.1", msh9: "ACK^R01^ACK", quarantined: true},
	{name: "adt", in: msg(hdr("ADT^A01^ADT_A01|C7|P|2.5.1"), "EVN|A01", "PID|1||X"),
		code: AR, control: "C7", err3: "200", err2: "MSH^1^9", version: "2.5.1", msh9: "ACK^A01^ACK", quarantined: true},
	{name: "unknown-trigger", in: msg(hdr("ORU^R99|C8|P|2.5.1"), "OBR|1|S||GHB"),
		code: AR, control: "C8", err3: "201", err2: "MSH^1^9", version: "2.5.1", msh9: "ACK^R99^ACK", quarantined: true},
	{name: "no-control-id", in: msg(hdr("ORU^R01||P|2.5.1"), "OBR|1|S||GHB", "OBX|1|NM|GHB||1"),
		code: AR, control: "", err3: "101", err2: "MSH^1^10", version: "2.5.1", msh9: "ACK^R01^ACK", quarantined: true},
	{name: "no-type", in: msg(hdr("|C10|P|2.5.1"), "OBR|1|S||GHB", "OBX|1|NM|GHB||1"),
		code: AR, control: "C10", err3: "101", err2: "MSH^1^9", version: "2.5.1", msh9: "ACK", quarantined: true},
	{name: "no-version", in: msg(hdr("ORU^R01|C11|P|"), "OBR|1|S||GHB", "OBX|1|NM|GHB||1"),
		code: AR, control: "C11", err3: "101", err2: "MSH^1^12", version: "2.5.1", msh9: "ACK^R01^ACK", quarantined: true},
	{name: "no-processing-id", in: msg(hdr("ORU^R01|C12||2.5.1"), "OBR|1|S||GHB", "OBX|1|NM|GHB||1"),
		code: AR, control: "C12", err3: "101", err2: "MSH^1^11", version: "2.5.1", msh9: "ACK^R01^ACK", quarantined: true},
	{name: "unsupported-version", in: msg(hdr("ORU^R01|C13|P|3.0"), "OBR|1|S||GHB", "OBX|1|NM|GHB||1"),
		code: AR, control: "C13", err3: "203", err2: "MSH^1^12", version: "2.5.1", msh9: "ACK^R01^ACK", quarantined: true},
	{name: "v23-error", in: msg(hdr("ORU^R01|C14|P|2.3"), "OBX|1|NM|GHB||1"),
		code: AR, control: "C14", err3: "100", err2: "OBX^1", version: "2.3", msh9: "ACK^R01", quarantined: true},
	{name: "good", in: msg(hdr("ORU^R01^ORU_R01|C15|P|2.5.1"), "OBR|1|S||GHB", "OBX|1|NM|GHB||1"),
		code: AA, control: "C15", version: "2.5.1", msh9: "ACK^R01^ACK"},
	{name: "good-undeclared-cp1252", in: msg(hdr("ORU^R01|C16|P|2.5.1"), "OBR|1|S||GHB", "OBX|1|ST|GHB||\x80 5"),
		code: AA, control: "C16", version: "2.5.1", msh9: "ACK^R01^ACK"},
	{name: "query", in: msg(hdr("QBP^Q11^QBP_Q11|C17|P|2.5.1"), "QPD|WOS^Work order step^IHE_LABTF|Q1|S1", "RCP|I"),
		code: AA, control: "C17", version: "2.5.1", msh9: "ACK^Q11^ACK"},
}

// TestAckWheneverMSHCanBeRead: every message whose MSH can be read is
// answered — AR with an ERR naming the segment and field and the table
// 0357 code — however its error text reads and whatever its charset; a
// message of an unsupported type or lacking a required MSH field is
// refused, not stored as a result (issue 8, items 10 and 14).
func TestAckWheneverMSHCanBeRead(t *testing.T) {
	for _, def := range []charset.Charset{charset.ASCII, charset.Windows1252} {
		testAckWheneverMSHCanBeRead(t, def)
	}
}

func testAckWheneverMSHCanBeRead(t *testing.T, def charset.Charset) {
	r := &rec{}
	s := newServer(r)
	s.Options.DefaultCharset = def
	c := serve(t, s)
	for _, tc := range ackCases {
		if def != charset.Windows1252 && strings.Contains(tc.name, "undeclared-cp1252") {
			continue
		}
		t.Run(def.String()+"/"+tc.name, func(t *testing.T) {
			_, before := r.snapshot()
			acks := exchange(t, c, 1, tc.in)
			a := acks[0]
			if a.Code != tc.code || a.ControlID != tc.control {
				t.Fatalf("ack %s %q (%q), want %s %q", a.Code, a.ControlID, a.Text, tc.code, tc.control)
			}
			msh := a.Message.MSH()
			if got := fieldString(msh.Field(9)); got != tc.msh9 {
				t.Errorf("MSH-9 %q, want %q", got, tc.msh9)
			}
			if got := msh.Text(12); got != tc.version {
				t.Errorf("MSH-12 %q, want %q", got, tc.version)
			}
			if got := msh.Text(18); got != tc.msh18 {
				t.Errorf("MSH-18 %q, want %q", got, tc.msh18)
			}
			if n := utf8.RuneCountInString(a.Message.Find("MSA")[0].Text(3)); n > 80 {
				t.Errorf("MSA-3 is %d characters long", n)
			}
			errs := a.Message.Find("ERR")
			if tc.code == AA {
				if len(errs) != 0 {
					t.Errorf("ERR in an AA: %+v", errs)
				}
			} else {
				if len(errs) != 1 {
					t.Fatalf("%d ERR segments", len(errs))
				}
				e := errs[0]
				code, loc := e.Field(3).Component(1), fieldString(e.Field(2))
				if tc.version == "2.3" {
					code, loc = e.Field(1).Get(1, 4, 1), strings.Join([]string{e.Field(1).Component(1), e.Field(1).Component(2)}, "^")
				} else {
					if e.Text(4) != "E" || e.Field(3).Component(3) != "HL70357" {
						t.Errorf("ERR %+v", e)
					}
					if n := utf8.RuneCountInString(e.Text(8)); n == 0 || n > 250 {
						t.Errorf("ERR-8 is %d characters long", n)
					}
				}
				if code != tc.err3 || loc != tc.err2 {
					t.Errorf("ERR code %q location %q, want %q %q (%q)", code, loc, tc.err3, tc.err2, a.Text)
				}
			}
			acc, after := r.snapshot()
			if q := len(after) > len(before); q != tc.quarantined {
				t.Errorf("quarantined %v, want %v", q, tc.quarantined)
			}
			if tc.quarantined {
				for _, m := range acc {
					if m.ControlID() == tc.control && tc.control != "" {
						t.Errorf("refused message handed to Accept too")
					}
				}
			}
		})
	}
}

// fieldString shows a field's first repetition with its components.
func fieldString(f Field) string {
	if len(f) == 0 {
		return ""
	}
	var comps []string
	for _, c := range f[0] {
		comps = append(comps, strings.Join(c, "&"))
	}
	return strings.TrimRight(strings.Join(comps, "^"), "^")
}

// TestAckHeader: the ACK comes from the application the message was sent
// to (its MSH-5/6, all components) and goes back to the sender (its
// MSH-3/4, all components); our App/Facility stand in only when MSH-5/6
// are empty (issue 8, item 14).
func TestAckHeader(t *testing.T) {
	r := &rec{}
	c := serve(t, newServer(r))
	in := msg("MSH|^~\\&|ANALYSER^1.2.3^ISO|LAB^x^L|LIS^9.9^ISO|HOSP^y^L|20240612||ORU^R01|H1|P|2.5.1", "OBR|1|S||GHB", "OBX|1|NM|GHB||1")
	bare := msg("MSH|^~\\&|ANALYSER|||||20240612||ORU^R01|H2|P|2.5.1", "OBR|1|S||GHB", "OBX|1|NM|GHB||1")
	acks := exchange(t, c, 2, in, bare)
	msh := acks[0].Message.MSH()
	for n, want := range map[int]string{3: "LIS^9.9^ISO", 4: "HOSP^y^L", 5: "ANALYSER^1.2.3^ISO", 6: "LAB^x^L"} {
		if got := fieldString(msh.Field(n)); got != want {
			t.Errorf("MSH-%d %q, want %q", n, got, want)
		}
	}
	msh = acks[1].Message.MSH()
	for n, want := range map[int]string{3: "EXHIBIT", 4: "LAB", 5: "ANALYSER", 6: ""} {
		if got := fieldString(msh.Field(n)); got != want {
			t.Errorf("bare: MSH-%d %q, want %q", n, got, want)
		}
	}
}

// refuser refuses every message, as the receiver does when a record would
// be too large: it has kept the message in quarantine.
type refuser struct {
	rec
	err error
}

func (r *refuser) Accept(ctx context.Context, m *Received) error { return r.err }

// TestRefusedByHandler: Accept returning an error wrapping ErrRefused is
// answered AR, with code 207 or the Refusal's own, and the error text; any
// other error stays AE.
func TestRefusedByHandler(t *testing.T) {
	good := msg(hdr("ORU^R01|R1|P|2.5.1||||||8859/1"), "OBR|1|S||GHB", "OBX|1|NM|GHB||1")
	for _, tc := range []struct {
		err        error
		code, err3 string
		text       string
	}{
		{fmt.Errorf("receive: record of 3 MB over the limit: %w", ErrRefused), AR, "207", "record of 3 MB over the limit"},
		{&Refusal{Code: "204", Reason: "unknown patient «X»"}, AR, "204", "unknown patient «X»"},
		{fmt.Errorf("wrapped: %w", &Refusal{Reason: "too many results"}), AR, "207", "too many results"},
		{errors.New("disk full"), AE, "207", "send it again"},
	} {
		r := &refuser{err: tc.err}
		s := newServer(&r.rec)
		s.Handler = r
		c := serve(t, s)
		a := exchange(t, c, 1, good)[0]
		e := a.Message.Find("ERR")
		if a.Code != tc.code || len(e) != 1 || e[0].Field(3).Component(1) != tc.err3 || !strings.Contains(a.Text, tc.text) {
			t.Errorf("%v: ack %s %q %+v", tc.err, a.Code, a.Text, e)
		}
	}
}

// TestNoAckForAnAck: an acknowledgement sent to the server is quarantined
// and not answered (acknowledging acknowledgements would loop).
func TestNoAckForAnAck(t *testing.T) {
	r := &rec{}
	c := serve(t, newServer(r))
	ack := msg(hdr("ACK^R01^ACK|K1|P|2.5.1"), "MSA|AA|X1")
	good := msg(hdr("ORU^R01|K2|P|2.5.1"), "OBR|1|S||GHB", "OBX|1|NM|GHB||1")
	acks := exchange(t, c, 1, ack, good)
	if acks[0].ControlID != "K2" {
		t.Fatalf("ack %+v", acks[0])
	}
	acc, rej := r.snapshot()
	if len(acc) != 1 || len(rej) != 1 || !errors.Is(rej[0].Reason, ErrType) {
		t.Fatalf("accepted %d, rejected %+v", len(acc), rej)
	}
}

// TestRefusalTextInASCII: a refusal whose text the message's charset
// cannot hold is still answered, with the text made ASCII.
func TestRefusalTextInASCII(t *testing.T) {
	r := &refuser{err: &Refusal{Reason: "unknown patient «X» – see log"}}
	s := newServer(&r.rec)
	s.Handler = r
	c := serve(t, s)
	a := exchange(t, c, 1, msg(hdr("ORU^R01|R2|P|2.5.1"), "OBR|1|S||GHB", "OBX|1|NM|GHB||1"))[0]
	if a.Code != AR || a.Text != "unknown patient ?X? ? see log" {
		t.Fatalf("ack %s %q", a.Code, a.Text)
	}
}
