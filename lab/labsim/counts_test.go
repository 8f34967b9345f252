package labsim

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/lab/astm/frame"
	"github.com/exhibit-forensics/exhibit/lab/protocol"
)

// A garbage burst or NAK storm is counted when its bytes go on the line,
// and not when a dead line swallows them: the counts say what the receiver
// was actually given, which is what a fault run checks.
func TestPreMessageFaultsCountedWhenSent(t *testing.T) {
	d, err := protocol.Lookup(protocol.ASTM, "lis2a2")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Scenario: example(t), Dialect: d, Logger: quiet, Faults: Faults{Garbage: 1, NAKStorm: 1, Seed: 7}})
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	got := make(chan []byte, 1)
	go func() {
		all, _ := io.ReadAll(b)
		got <- all
	}()
	clk := clock.NewFake(time.Unix(0, 0))
	ln := &line{c: pipeConn{a}, faults: &s.cfg.Faults, d: s.d, counts: s.counts, clk: clk}

	if err := s.beforeMessage(ln, 100, frame.NAK); err != nil {
		t.Fatal(err)
	}
	if c := s.Stats(); c.GarbageBursts != 1 || c.NAKStorms != 1 || c.Written == 0 {
		t.Fatalf("live line: counts %+v, want one garbage burst and one NAK storm", c.Counts)
	}
	written := s.Stats().Written

	// The line goes dead (a Timeout fault): the next message's garbage and
	// NAKs are rolled but never reach the receiver.
	ln.deadUntil = clk.Now().Add(time.Minute)
	if err := s.beforeMessage(ln, 100, frame.NAK); err != nil {
		t.Fatal(err)
	}
	if c := s.Stats(); c.GarbageBursts != 1 || c.NAKStorms != 1 || c.Written != written {
		t.Fatalf("dead line: counts %+v, want the first burst and storm only", c.Counts)
	}
	a.Close()
	out := <-got
	if int64(len(out)) != written {
		t.Fatalf("the receiver got %d bytes, the counts say %d were written", len(out), written)
	}
	if !bytes.Contains(out, []byte{frame.NAK, frame.NAK, frame.NAK}) {
		t.Fatalf("no NAK storm on the line: %q", out)
	}
}
