package receive

import (
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/lab/hl7"
	"github.com/exhibit-forensics/exhibit/lab/protocol"
)

// TestHL7RetransmissionWithNewTimestamp: the capture key and the record's
// messageId are the message's identity, so a retransmission that stamps a
// new MSH-7 is recognised, while a reused MSH-10 with other results is kept
// as a message of its own; the blob is still the bytes received.
func TestHL7RetransmissionWithNewTimestamp(t *testing.T) {
	l := newLedger(t)
	r, o := newReceiver(t, l, protocol.HL7, "mllp", nil)
	c := hl7Client(t, r)

	if a := send(t, c, oru); a.Code != hl7.AA {
		t.Fatalf("ack %+v", a)
	}
	first := o.next(t)
	if first.Kind != Stored {
		t.Fatalf("outcome %+v", first)
	}
	again := strings.Replace(oru, "20240612103000", "20240612104500", 1)
	if a := send(t, c, again); a.Code != hl7.AA {
		t.Fatalf("ack %+v", a)
	}
	if out := o.next(t); out.Kind != Duplicate || out.Ref != first.Ref {
		t.Fatalf("retransmission with a new MSH-7: outcome %+v", out)
	}
	changed := strings.Replace(oru, "42.0", "43.0", 1)
	if a := send(t, c, changed); a.Code != hl7.AA {
		t.Fatalf("ack %+v", a)
	}
	if out := o.next(t); out.Kind != Stored {
		t.Fatalf("reused MSH-10 with changed results: outcome %+v", out)
	}
	es := entries(t, l)
	if len(es) != 2 {
		t.Fatalf("%d entries", len(es))
	}
	id, _ := hl7.Identity([]byte(oru))
	if es[0].Lab.MessageID != id.String() || first.Key != "hl7:"+id.String() {
		t.Errorf("messageId %s key %s, want the identity %s", es[0].Lab.MessageID, first.Key, id)
	}
	if got := blob(t, l, es[0].Blob); string(got) != oru || chain.Sum(got) == id {
		t.Errorf("blob %q", got)
	}
}
