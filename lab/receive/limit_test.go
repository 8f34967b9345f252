package receive

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/lab/astm"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
	"github.com/exhibit-forensics/exhibit/lab/astm/record"
	"github.com/exhibit-forensics/exhibit/lab/hl7"
	"github.com/exhibit-forensics/exhibit/lab/protocol"
	"github.com/exhibit-forensics/exhibit/lab/value"
)

// hl7With returns an ORU^R01 with control id id and the given OBX lines.
func hl7With(id string, obx ...string) string {
	return "MSH|^~\\&|TOXAN|LAB|EXHIBIT|LAB|20240612103000||ORU^R01^ORU_R01|" + id + "|P|2.5.1\r" +
		"PID|1||CASE-0001\rOBR|1|S1|S1|TOX^Tox screen^L\r" + strings.Join(obx, "")
}

// checkReadable checks that every record of the log decodes with the one
// limit writers and readers share, and that the results can be listed.
func checkReadable(t *testing.T, r Reader) []Entry {
	t.Helper()
	var es []Entry
	if err := List(t.Context(), r, func(e Entry) error { es = append(es, e); return nil }); err != nil {
		t.Fatalf("the log cannot be listed: %v", err)
	}
	return es
}

// An ORU carrying an encapsulated PDF of 800 KB is acknowledged AA only
// once it is stored in a record every reader can read: the value is a blob
// the record names, and the record stays small.
func TestHL7LongValueKeptAsBlob(t *testing.T) {
	l := newLedger(t)
	r, o := newReceiver(t, l, protocol.HL7, "mllp", nil)
	c := hl7Client(t, r)
	pdf := strings.Repeat("JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0K", 12500)
	msg := hl7With("PDF1", "OBX|1|NM|GHB^GHB^L||42.0|mg/L|0-10|H|||F\r", "OBX|2|ED|RPT^Report^L||^application^pdf^Base64^"+pdf+"||||||F\r")
	if a := send(t, c, msg); a.Code != hl7.AA {
		t.Fatalf("ack %+v", a)
	}
	if out := o.next(t); out.Kind != Stored || out.Results != 2 {
		t.Fatalf("outcome %+v", out)
	}
	es := checkReadable(t, l)
	if len(es) != 1 {
		t.Fatalf("%d entries", len(es))
	}
	res := es[0].Lab.Results
	if res[0].Value != "42.0" || res[1].Value != "" || res[1].ValueSize < 800000 {
		t.Fatalf("results %+v", res)
	}
	h, err := chain.ParseHex(res[1].ValueSHA256)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(blob(t, l, h)); !strings.HasSuffix(got, pdf) {
		t.Fatalf("the value blob holds %d bytes that are not the PDF's", len(got))
	}
	rec, err := l.Record(t.Context(), es[0].Index)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Envelope) > 8<<10 {
		t.Fatalf("the record is %d bytes", len(rec.Envelope))
	}
}

// An ORU with 28,000 OBX cannot be one record: it is kept as received, in
// quarantine, and refused with AR — never acknowledged AA, never a record
// readers refuse; a retransmission is refused the same way and stored once.
func TestHL7TooManyResultsRefused(t *testing.T) {
	l := newLedger(t)
	r, o := newReceiver(t, l, protocol.HL7, "mllp", nil)
	c := hl7Client(t, r)
	var obx []string
	for i := 1; i <= 28000; i++ {
		obx = append(obx, fmt.Sprintf("OBX|%d|NM|GHB^GHB^L||%d.0|mg/L||N|||F\r", i, i%97))
	}
	msg := hl7With("MANY1", obx...)
	for try := 0; try < 2; try++ {
		a := sendWithin(t, c, msg, 12*guard)
		if a.Code != hl7.AR || a.Text != "28000 results do not fit in one record (1 MiB at most); kept in quarantine" {
			t.Fatalf("try %d: ack %+v", try, a)
		}
		out := o.next(t)
		want := Quarantined
		if try > 0 {
			want = Duplicate
		}
		if out.Kind != want || !out.Refused {
			t.Fatalf("try %d: outcome %+v", try, out)
		}
	}
	es := checkReadable(t, l)
	if len(es) != 1 || !es[0].Quarantined() || len(es[0].Lab.Results) != 0 ||
		!strings.Contains(es[0].Lab.Quarantine, "28000 results do not fit in one record") {
		t.Fatalf("entries %+v", es)
	}
	if got := blob(t, l, es[0].Blob); string(got) != msg {
		t.Fatalf("the quarantined blob is not the message as received (%d bytes)", len(got))
	}
	// The receiver goes on: the next message is stored.
	if a := send(t, c, oru); a.Code != hl7.AA {
		t.Fatalf("next message: ack %+v", a)
	}
}

// instrument returns an ASTM instrument connection to r, sending with
// dialect lis2a2 (240-byte frames, long records over ETB frames), and a
// context bounding the test.
func instrument(t *testing.T, r *Receiver) (*astm.Conn, context.Context) {
	t.Helper()
	d, _ := astm.LookupDialect("lis2a2")
	ic, err := astm.NewConn(serve(t, r), astm.Config{Role: link.Instrument, Dialect: d, Logger: quiet,
		Handler: astm.HandlerFuncs{AcceptFunc: func(context.Context, *astm.Message) error { return nil },
			RejectFunc: func(context.Context, *astm.Rejected) error { return nil }}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*guard)
	done := make(chan error, 1)
	go func() { done <- ic.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return ic, ctx
}

func testID(c string) record.TestID { return record.TestID{"", "", "", c} }

// An ASTM result of 900 KB, sent over thousands of ETB frames, is
// acknowledged only once it is stored in a record every reader can read:
// the value is a blob the record names.
func TestASTMLongValueKeptAsBlob(t *testing.T) {
	l := newLedger(t)
	r, o := newReceiver(t, l, protocol.ASTM, "lis2a2", nil)
	ic, ctx := instrument(t, r)
	long := strings.Repeat("0123456789ABCDEF", 900000/16)
	sent, err := ic.Send(ctx, &record.Message{Patients: []record.Patient{{LabID: "CASE-7", Orders: []record.Order{{
		SpecimenID: "S7", Results: []record.Result{
			{Test: testID("GHB"), Value: value.Value{Raw: "42.0"}, Units: "mg/L", Status: "F"},
			{Test: testID("TRACE"), Value: value.Value{Raw: long}, Status: "F"},
		}}}}}, Terminator: record.Terminator{Code: "N"}})
	if err != nil {
		t.Fatalf("the last frame was not acknowledged: %v", err)
	}
	if out := o.next(t); out.Kind != Stored || out.MessageID != sent.ID {
		t.Fatalf("outcome %+v", out)
	}
	es := checkReadable(t, l)
	if len(es) != 1 {
		t.Fatalf("%d entries", len(es))
	}
	res := es[0].Lab.Results
	if res[0].Value != "42.0" || res[1].Value != "" || res[1].ValueSize != int64(len(long)) ||
		res[1].ValueSHA256 != chain.Sum([]byte(long)).Hex() {
		t.Fatalf("results %+v", res)
	}
	if got := blob(t, l, chain.Sum([]byte(long))); string(got) != long {
		t.Fatal("the value blob is not the value")
	}
}

// An ASTM message whose results do not fit in one record is kept as
// received, in quarantine, and its last frame refused (NAK, every time it
// is sent): the instrument never sees it acknowledged, and the store holds
// it once, readable.
func TestASTMTooManyResultsRefused(t *testing.T) {
	l := newLedger(t)
	r, o := newReceiver(t, l, protocol.ASTM, "lis2a2", nil)
	ic, ctx := instrument(t, r)
	var results []record.Result
	for i := 0; i < 12000; i++ {
		results = append(results, record.Result{Test: testID(fmt.Sprintf("T%d", i)), Value: value.Value{Raw: "1.0"}, Status: "F"})
	}
	_, err := ic.Send(ctx, &record.Message{Patients: []record.Patient{{LabID: "CASE-7", Orders: []record.Order{{
		SpecimenID: "S7", Results: results}}}}, Terminator: record.Terminator{Code: "N"}})
	if err == nil {
		t.Fatal("a message whose results do not fit in one record was acknowledged")
	}
	out := o.next(t)
	if out.Kind != Quarantined || !out.Refused {
		t.Fatalf("outcome %+v", out)
	}
	es := checkReadable(t, l)
	if len(es) != 1 || !es[0].Quarantined() || !strings.Contains(es[0].Lab.Quarantine, "12000 results do not fit in one record") {
		t.Fatalf("entries %+v", es)
	}
}
