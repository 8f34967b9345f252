package astm

import (
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/lab/astm/link"
)

// TestIdleForDays holds one connection open for three days of (fake) time
// between two transfers, as an analyser left running over a long weekend
// does: stray bytes on the line, an instrument's link check (ENQ and then
// nothing) that times out, and hours of silence. No timer may run while the
// link is idle, nothing may be quarantined or accepted from the noise, and
// the connection must still take the next message — and recognise a
// retransmission of the first one.
func TestIdleForDays(t *testing.T) {
	h := startHost(t, nil)
	send := func() {
		t.Helper()
		h.w("<ENQ>")
		h.x("<ACK>")
		for i, f := range domainSession {
			h.w(f)
			if i == len(domainSession)-1 {
				h.event("accept")
			}
			h.x("<ACK>")
		}
		h.w("<EOT>")
		h.waitStep(link.Receiving, link.EvEOT)
	}
	send()
	start := h.clk.Now()
	for hour := 1; hour <= 72; hour++ {
		if got := h.clk.Pending(); len(got) != 0 {
			t.Fatalf("hour %d: timers %v running on an idle link", hour, got)
		}
		if n := h.clk.Advance(time.Hour); n != 0 {
			t.Fatalf("hour %d: %d timers fired on an idle link", hour, n)
		}
		switch hour % 12 {
		case 3: // line noise between transfers: ignored
			h.w("<x00><LF><ACK><NAK>")
		case 7: // a link check: ENQ, then nothing; the receive timer ends it
			h.w("<ENQ>")
			h.x("<ACK>")
			h.waitStep(link.Idle, link.EvENQ)
			if got := h.clk.Pending(); len(got) != 1 || got[0] != 30*time.Second {
				t.Fatalf("hour %d: timers %v after ENQ", hour, got)
			}
			h.clk.Advance(30 * time.Second)
			h.waitStep(link.Receiving, link.EvTimeout)
		}
	}
	if d := h.clk.Now().Sub(start); d < 72*time.Hour {
		t.Fatalf("only %v passed", d)
	}
	send() // the same message again: same ID, for the store to keep once
	acc, rej := h.rec.snapshot()
	if len(rej) != 0 {
		t.Fatalf("noise quarantined: %v", rej[0].Reason)
	}
	if len(acc) != 2 || acc[0].ID != acc[1].ID {
		t.Fatalf("accepted %d messages", len(acc))
	}
	if !acc[1].Received.After(acc[0].Received.Add(72 * time.Hour)) {
		t.Fatalf("received %v then %v", acc[0].Received, acc[1].Received)
	}
}
