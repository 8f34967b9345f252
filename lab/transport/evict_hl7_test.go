package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/lab/hl7"
	"github.com/exhibit-forensics/exhibit/lab/hl7/mllp"
)

// slowKeeper is an hl7.Handler whose Accept, for the control ids in hold,
// blocks until released, as a capture still being written does.
type slowKeeper struct {
	mu       sync.Mutex
	hold     map[string]chan struct{}
	accepted chan string
	ctxErr   map[string]error // ctx.Err() when Accept returned
}

func (k *slowKeeper) Accept(ctx context.Context, m *hl7.Received) error {
	id := m.ControlID()
	k.accepted <- id
	k.mu.Lock()
	ch := k.hold[id]
	k.mu.Unlock()
	if ch != nil {
		<-ch
	}
	k.mu.Lock()
	k.ctxErr[id] = ctx.Err()
	k.mu.Unlock()
	return nil
}

func (k *slowKeeper) Reject(ctx context.Context, r *hl7.Rejected) error {
	return fmt.Errorf("unexpected reject: %v", r.Reason)
}

func hl7Message(id string) []byte {
	return []byte("\x0bMSH|^~\\&|ANALYSER|LAB|EXHIBIT|FORENSICS|20260301080000||ORU^R01|" + id + "|P|2.5\rPID|1||P" + id +
		"\rOBR|1||S" + id + "|TOX\rOBX|1|NM|GHB||42.0|mg/L||H|||F\r\x1c\r")
}

// readAck reads one acknowledgement from an MLLP stream.
func readAck(t *testing.T, r *mllp.Reader) *hl7.Ack {
	t.Helper()
	raw, err := r.ReadMessage()
	if err != nil {
		t.Fatalf("reading the acknowledgement: %v", err)
	}
	m, err := hl7.Parse(raw, hl7.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := hl7.ParseAck(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// With the real HL7 server as the session: an analyser evicted while its
// message is being kept still gets its AA once the message is kept, the
// newcomer is served meanwhile, and the evicted session's context is never
// cancelled (lab/hl7 closes the connection when it is, which would lose
// the AA). The evicted analyser then sees the connection end, as when an
// ACK is lost, and would reconnect.
func TestEvictionKeepsHL7AckAfterDurable(t *testing.T) {
	lg := newLogs()
	k := &slowKeeper{hold: map[string]chan struct{}{"A1": make(chan struct{})}, accepted: make(chan string, 10),
		ctxErr: map[string]error{}}
	srv := &hl7.Server{Handler: k, App: "EXHIBIT", Logger: lg.logger()}
	ready := make(chan net.Addr, 1)
	s := &Server{Addr: "127.0.0.1:0", MaxConns: 1, Logger: lg.logger(), Clock: newHeldWaits(),
		Ready: func(a net.Addr) { ready <- a }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.Run(ctx, func(ctx context.Context, c Conn) error { return srv.ServeConn(ctx, c) })
	}()
	var release sync.Once
	releaseA1 := func() { release.Do(func() { close(k.hold["A1"]) }) }
	defer func() {
		// Run waits for its sessions, so a failed test still lets A1's
		// Accept return.
		releaseA1()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(guard):
			t.Error("Run did not return after its context ended")
		}
	}()
	addr := (<-ready).String()
	dial := func() (net.Conn, *mllp.Reader) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(guard)) // a guard against a hang
		return c, mllp.NewReader(c, mllp.Standard, 0)
	}
	expectAccept := func(want string) {
		t.Helper()
		select {
		case id := <-k.accepted:
			if id != want {
				t.Fatalf("accepting %s, want %s", id, want)
			}
		case <-time.After(guard):
			t.Fatalf("%s never reached Accept", want)
		}
	}

	a, ar := dial()
	if _, err := a.Write(hl7Message("A1")); err != nil {
		t.Fatal(err)
	}
	expectAccept("A1")
	b, br := dial() // evicts a while A1 is being kept
	if _, err := b.Write(hl7Message("B1")); err != nil {
		t.Fatal(err)
	}
	expectAccept("B1")
	if ack := readAck(t, br); ack.Code != hl7.AA || ack.ControlID != "B1" {
		t.Fatalf("b: %s %s", ack.Code, ack.ControlID)
	}
	lg.waitFor(t, "evicting the connection")
	releaseA1()
	if ack := readAck(t, ar); ack.Code != hl7.AA || ack.ControlID != "A1" {
		t.Fatalf("a: %s %s, want AA for A1", ack.Code, ack.ControlID)
	}
	if _, err := ar.ReadMessage(); !errors.Is(err, io.EOF) {
		t.Fatalf("a after its AA: %v, want the connection's end", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.ctxErr["A1"]; err != nil {
		t.Fatalf("the evicted session's context ended (%v) while its message was being kept", err)
	}
}
