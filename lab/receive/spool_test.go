package receive

import (
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/internal/streamtest"
	"github.com/exhibit-forensics/exhibit/lab/astm"
	"github.com/exhibit-forensics/exhibit/lab/astm/frame"
	"github.com/exhibit-forensics/exhibit/lab/protocol"
)

// Input over the dialect's max-message reaches the store from the ASTM
// spool (astm.Rejected.Body; Raw is nil): the quarantined blob is every
// byte received of it.
func TestASTMOverLimitQuarantinedFromSpool(t *testing.T) {
	l := newLedger(t)
	r, o := newReceiver(t, l, protocol.ASTM, "lis2a2", func(c *Config) { c.Dialect.ASTM.MaxMessage = 4096 })
	peer := &streamtest.Peer{RW: serve(t, r), Wait: guard}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	send := func(n int, text string) {
		t.Helper()
		b, err := frame.Append(nil, frame.Frame{Number: n % 8, Text: []byte(text), Last: true}, frame.Options{})
		must(err)
		_, err = peer.RW.Write(b)
		must(err)
	}
	must(peer.Write("<ENQ>"))
	must(peer.Expect("<ACK>"))
	sent := "H|\\^&\r"
	send(1, sent)
	must(peer.Expect("<ACK>"))
	rec := "C|1|I|" + strings.Repeat("c", 200) + "|G\r"
	n := 2
	for ; len(sent)+len(rec) <= 4096; n++ {
		send(n, rec)
		must(peer.Expect("<ACK>"))
		sent += rec
	}
	send(n, rec)
	out := o.next(t)
	must(peer.Expect("<NAK>"))
	must(peer.Write("<EOT>"))
	want := sent + rec
	if out.Kind != Quarantined || !strings.Contains(out.Reason, astm.ErrTooLarge.Error()) || out.MessageID != chain.Sum([]byte(want)) {
		t.Fatalf("outcome %+v", out)
	}
	es := entries(t, l)
	if len(es) != 1 || es[0].Size != int64(len(want)) || string(blob(t, l, es[0].Blob)) != want {
		t.Fatalf("%d entries; stored %d bytes, want %d", len(es), es[0].Size, len(want))
	}
}
