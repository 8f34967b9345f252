package astm

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/lab/astm/link"
)

// A frame dribbled in at one byte a second cannot hold the link: the E1381
// receive timer (30 s for the next frame) runs from the last answer and is
// not restarted by bytes that do not complete a frame. When it runs out the
// partial message is quarantined and the line is free for the next ENQ.
func TestDribbledFrameTimesOut(t *testing.T) {
	h := startHost(t, nil)
	h.w("<ENQ>")
	h.x("<ACK>")
	h.w(domainSession[0])
	h.x("<ACK>")
	h.waitStep(link.Receiving, link.EvFrame)
	slow := frameBytes(t, 2, "C|1|I|"+strings.Repeat("slow ", 12)+"|G\r", true) // 76 bytes: 76 s at 1 byte/s
	for i, c := range slow {
		h.raw([]byte{c})
		if got := h.clk.Pending(); len(got) != 1 || got[0] != 30*time.Second-time.Duration(i)*time.Second {
			t.Fatalf("after %d bytes: timers %v, want the receive timer with %v left", i+1, got, 30*time.Second-time.Duration(i)*time.Second)
		}
		fired := h.clk.Advance(time.Second)
		if want := i == 29; (fired == 1) != want {
			t.Fatalf("after %d bytes and %d s: %d timers fired", i+1, i+1, fired)
		}
		if fired == 1 {
			break
		}
	}
	h.waitStep(link.Receiving, link.EvTimeout)
	h.event("reject")
	_, rej := h.rec.snapshot()
	if !errors.Is(rej[0].Reason, link.ErrReceiveTimeout) || string(rej[0].Raw) != "H|\\^&|||EdgeSim^1.0|||||||P|LIS2-A2|20240612103000\r" {
		t.Fatalf("quarantined %q: %v", rej[0].Raw, rej[0].Reason)
	}
	if got := h.clk.Pending(); len(got) != 0 {
		t.Fatalf("timers %v after the timeout", got)
	}
}
