package astm

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
)

// junkRun writes n random bytes (seeded) to a host on dialect name and
// returns what its Handler was given.
func junkRun(t *testing.T, name string, n int) ([]*Message, []*Rejected, Stats) {
	t.Helper()
	d, err := LookupDialect(name)
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	rec := newRecorder()
	rec.events = make(chan string, 1<<16)
	c, err := NewConn(a, Config{Role: link.Host, Dialect: d, Handler: rec, Logger: quiet, Spool: t.TempDir(),
		Clock: clock.NewFake(time.Date(2024, 6, 12, 10, 30, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	go io.Copy(io.Discard, b) // the host's answers
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 4096)
	for sent := 0; sent < n; sent += len(buf) {
		for i := range buf {
			buf[i] = byte(rng.UintN(256))
		}
		if _, err := b.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	a.Close()
	b.Close()
	<-done
	acc, rej := rec.snapshot()
	return acc, rej, c.Stats()
}

// Five megabytes of random bytes (a port scanner, line noise) make at most a
// handful of quarantine records, on a dialect with checksums and on one
// without (Beckman AU, where random bytes often make valid frames: they
// used to make 1,209 records, one per random ENQ…EOT "transfer").
func TestRandomBytesMakeFewRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("5 MB of random bytes")
	}
	for _, name := range []string{"lis2a2", "beckman-au"} {
		acc, rej, st := junkRun(t, name, 5<<20)
		t.Logf("%s: %d accepted, %d quarantined; %v", name, len(acc), len(rej), st)
		if len(acc) != 0 || len(rej) > 12 {
			t.Errorf("%s: 5 MB of random bytes made %d messages and %d quarantine records", name, len(acc), len(rej))
		}
	}
}

// Records outside a message are quarantined once per burst: after that,
// frames that carry only such records are refused (NAK, so nothing is
// acknowledged that would need keeping) until a message begins with an H
// record, which ends the burst.
func TestStrayRecordsCoalescedPerBurst(t *testing.T) {
	h := startHost(t, nil)
	stray := func(fn int) []byte { return frameBytes(t, fn, "P|1||stray\r", true) }
	h.w("<ENQ>")
	h.x("<ACK>")
	h.raw(stray(1))
	h.x("<ACK>")
	h.w("<EOT>")
	h.event("reject") // the first stray records are kept
	for i := 0; i < 3; i++ {
		h.w("<ENQ>")
		h.x("<ACK>")
		for j := 0; j < 6; j++ {
			h.raw(stray(1))
			h.x("<NAK>")
		}
		h.w("<EOT>")
		h.waitStep(link.Receiving, link.EvEOT)
	}
	// A frame with an H record in it is taken, and ends the burst.
	h.w("<ENQ>")
	h.x("<ACK>")
	h.raw(frameBytes(t, 1, "P|1||before\rH|\\^&\r", true))
	h.event("reject") // what came before the H
	h.x("<ACK>")
	h.raw(frameBytes(t, 2, "L|1|N\r", true))
	h.event("accept")
	h.x("<ACK>")
	h.raw(stray(3)) // after a message: a new burst
	h.x("<ACK>")
	h.w("<EOT>")
	h.event("reject")
	acc, rej := h.rec.snapshot()
	if len(acc) != 1 || len(rej) != 3 || !errors.Is(rej[1].Reason, ErrNoHeader) || string(rej[1].Raw) != "P|1||before\r" {
		t.Fatalf("accepted %d, quarantined %d", len(acc), len(rej))
	}
	if s := h.c.Stats(); s.Refused != 18 || s.NAKs != 18 {
		t.Fatalf("stats %+v", s)
	}
}
