package link_test

import (
	"errors"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/streamtest"
	"github.com/exhibit-forensics/exhibit/lab/astm/frame"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
)

// naks starts a host that passes its NAK reports to a channel.
func naks(t *testing.T) (*harness, chan link.NAK) {
	ch := make(chan link.NAK, 100)
	h := start(t, link.Host, func(c *link.Config) { c.OnNAK = func(n link.NAK) { ch <- n } })
	return h, ch
}

func nextNAK(t *testing.T, ch chan link.NAK) link.NAK {
	t.Helper()
	select {
	case n := <-ch:
		return n
	case <-time.After(guard):
		t.Fatal("no NAK reported")
	}
	return link.NAK{}
}

func wireLen(t *testing.T, s string) int64 {
	t.Helper()
	b, err := streamtest.Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	return int64(len(b))
}

// Every NAK is reported with its event, the frame number, the frame's byte
// offset in the stream, the count of refusals in a row and the reason; a
// transfer that ends on a refused frame ends with ErrAbandoned, whether by
// EOT, a restart or the receive timer.
func TestNAKReported(t *testing.T) {
	h, ch := naks(t)
	errFull := errors.New("disk full")
	h.sink.refuse = func(f frame.Frame) error {
		if f.Number == 2 {
			return errFull
		}
		return nil
	}
	h.write("<ENQ>")
	h.expect("<ACK>")
	h.write(domainFrames[0])
	h.expect("<ACK>")
	off := 1 + wireLen(t, domainFrames[0])
	bad := "<STX>2P|1||CASE-0001<CR><ETX>40<CR><LF>"
	h.write(bad)
	h.expect("<NAK>")
	n := nextNAK(t, ch)
	if n.Event != link.EvFrameBad || n.Frame != 2 || n.Offset != off || n.Attempt != 1 || !errors.Is(n.Reason, frame.ErrChecksum) || n.Withheld {
		t.Fatalf("bad frame reported as %+v", n)
	}
	off += wireLen(t, bad)
	h.write(domainFrames[1]) // valid, but the upper layer cannot keep it
	h.expect("<NAK>")
	if n := nextNAK(t, ch); n.Event != link.EvFrameRefused || n.Frame != 2 || n.Offset != off || n.Attempt != 2 || !errors.Is(n.Reason, errFull) {
		t.Fatalf("refused frame reported as %+v", n)
	}
	off += wireLen(t, domainFrames[1])
	h.write(domainFrames[2]) // frame 3 while 2 is expected
	h.expect("<NAK>")
	if n := nextNAK(t, ch); n.Event != link.EvFrameBad || n.Frame != 3 || n.Offset != off || n.Attempt != 3 || !errors.Is(n.Reason, link.ErrOutOfSequence) {
		t.Fatalf("out-of-sequence frame reported as %+v", n)
	}
	h.write("<EOT>") // the sender gives up
	err := h.end()
	if !errors.Is(err, link.ErrAbandoned) || !errors.Is(err, link.ErrOutOfSequence) {
		t.Fatalf("End(%v), want ErrAbandoned on the out-of-sequence frame", err)
	}

	// An accepted frame clears the count: a transfer that ends after it is
	// not abandoned.
	h.sink.refuse = nil
	h.write("<ENQ>")
	h.expect("<ACK>")
	h.write("<STX>1H|\\^&<CR><ETX>00<CR><LF>") // checksum wrong
	h.expect("<NAK>")
	nextNAK(t, ch)
	h.write(domainFrames[0])
	h.expect("<ACK>")
	h.write("<EOT>")
	if err := h.end(); err != nil {
		t.Fatalf("End(%v) after an accepted frame, want nil", err)
	}

	// The receive timer and a restart after a refusal.
	for _, tc := range []struct {
		name  string
		after func()
		cause error
	}{
		{"timeout", func() { h.clk.Advance(30 * time.Second) }, link.ErrReceiveTimeout},
		{"restart", func() { h.clk.Advance(10 * time.Second); h.write("<ENQ>"); h.expect("<ACK>") }, link.ErrRestarted},
	} {
		h.write("<ENQ>")
		h.expect("<ACK>")
		h.write("<STX>1H|\\^&<CR><ETX>00<CR><LF>")
		h.expect("<NAK>")
		nextNAK(t, ch)
		tc.after()
		if err := h.end(); !errors.Is(err, link.ErrAbandoned) || !errors.Is(err, tc.cause) || !errors.Is(err, frame.ErrChecksum) {
			t.Fatalf("%s: End(%v)", tc.name, err)
		}
	}
	h.write("<EOT>")
	if err := h.end(); err != nil {
		t.Fatalf("End(%v) after the restart, want nil", err)
	}

	// Busy.
	h.busy.Store(true)
	h.write("<ENQ>")
	h.expect("<NAK>")
	if n := nextNAK(t, ch); n.Event != link.EvENQBusy || n.Frame != -1 || !errors.Is(n.Reason, link.ErrBusy) {
		t.Fatalf("busy reported as %+v", n)
	}
}

// A NAK withheld because it was due after the sender's reply timer is
// reported as withheld.
func TestWithheldNAKReported(t *testing.T) {
	h, ch := naks(t)
	h.sink.refuse = func(f frame.Frame) error {
		h.clk.Advance(15 * time.Second) // the disk stalled
		return errors.New("disk stalled")
	}
	h.write("<ENQ>")
	h.expect("<ACK>")
	h.write(domainFrames[0])
	if n := nextNAK(t, ch); !n.Withheld || n.Event != link.EvFrameRefused || n.Attempt != 1 {
		t.Fatalf("reported %+v", n)
	}
	h.write("<EOT>")
	if err := h.end(); !errors.Is(err, link.ErrAbandoned) {
		t.Fatalf("End(%v)", err)
	}
}
