package hl7

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/lab/charset"
	"github.com/exhibit-forensics/exhibit/lab/hl7/mllp"
	"github.com/exhibit-forensics/exhibit/lab/testcode"
)

const guard = 10 * time.Second

type rec struct {
	mu         sync.Mutex
	accepted   []*Received
	rejected   []*Rejected
	failAccept int
	failReject int
}

func (r *rec) Accept(ctx context.Context, m *Received) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failAccept > 0 {
		r.failAccept--
		return errors.New("storage unavailable")
	}
	r.accepted = append(r.accepted, m)
	return nil
}

func (r *rec) Reject(ctx context.Context, rj *Rejected) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failReject > 0 {
		r.failReject--
		return errors.New("quarantine unavailable")
	}
	r.rejected = append(r.rejected, rj)
	return nil
}

func (r *rec) snapshot() ([]*Received, []*Rejected) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Received(nil), r.accepted...), append([]*Rejected(nil), r.rejected...)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// serve runs a Server on one end of a pipe and returns the other end.
func serve(t *testing.T, s *Server) net.Conn {
	t.Helper()
	a, b := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeConn(ctx, a) }()
	t.Cleanup(func() { cancel(); b.Close(); <-done })
	return b
}

func newServer(r *rec) *Server {
	codes, _ := testcode.Parse([]byte("testcode v1\nGHB ghb mg/L\nTHC thc-cooh\n"))
	return &Server{Handler: r, Codes: codes, App: "EXHIBIT", Facility: "LAB", Logger: quiet,
		Now: func() time.Time { return time.Date(2024, 6, 12, 10, 31, 0, 0, time.UTC) }}
}

// exchange writes framed messages and reads n acknowledgements.
func exchange(t *testing.T, c net.Conn, n int, msgs ...[]byte) []*Ack {
	t.Helper()
	// net.Pipe is synchronous: write from another goroutine so that the
	// server can send an ACK before the next message is taken.
	werr := make(chan error, 1)
	go func() {
		for _, m := range msgs {
			if err := mllp.Write(c, m, mllp.Standard); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	defer func() {
		if err := <-werr; err != nil {
			t.Errorf("writing: %v", err)
		}
	}()
	c.SetReadDeadline(time.Now().Add(guard))
	r := mllp.NewReader(c, mllp.Standard, 0)
	var acks []*Ack
	for len(acks) < n {
		raw, err := r.ReadMessage()
		if err != nil {
			t.Fatalf("reading ack %d: %v", len(acks)+1, err)
		}
		m, err := Parse(raw, Options{})
		if err != nil {
			t.Fatal(err)
		}
		a, err := ParseAck(m)
		if err != nil {
			t.Fatal(err)
		}
		acks = append(acks, a)
	}
	return acks
}

func TestServerAcceptsThenAcknowledges(t *testing.T) {
	r := &rec{}
	c := serve(t, newServer(r))
	acks := exchange(t, c, 1, oruTwoGroups)
	if acks[0].Code != AA || acks[0].ControlID != "MSG0001" {
		t.Fatalf("ack %+v", acks[0])
	}
	acc, _ := r.snapshot()
	if len(acc) != 1 || acc[0].Results == nil || len(acc[0].Results.Patients) != 2 {
		t.Fatalf("accepted %+v", acc)
	}
	if fmt.Sprint(acc[0].Unknown) != "[BENZ ETG]" {
		t.Errorf("unknown codes %v", acc[0].Unknown)
	}
	// The ACK's charset follows the message's.
	if acks[0].Message.Charset != charset.Latin1 {
		t.Errorf("ack charset %v", acks[0].Message.Charset)
	}
}

func TestServerAEThenRetransmissionSameID(t *testing.T) {
	r := &rec{failAccept: 1}
	c := serve(t, newServer(r))
	acks := exchange(t, c, 2, oruTwoGroups, oruTwoGroups)
	if acks[0].Code != AE || acks[1].Code != AA {
		t.Fatalf("acks %s %s", acks[0].Code, acks[1].Code)
	}
	acc, _ := r.snapshot()
	if len(acc) != 1 {
		t.Fatalf("%d accepted", len(acc))
	}
	m, _ := Parse(oruTwoGroups, Options{})
	if acc[0].ID != m.ID {
		t.Error("ID differs")
	}
}

func TestServerSendNothingOnFailure(t *testing.T) {
	r := &rec{failAccept: 1}
	s := newServer(r)
	s.OnFailure = SendNothing
	c := serve(t, s)
	second := msg("MSH|^~\\&|ANALYSER|LAB|||20240612||ORU^R01|MSG0002|P|2.5.1", "OBR|1|S||GHB", "OBX|1|NM|GHB||1.0|mg/L")
	acks := exchange(t, c, 1, oruTwoGroups, second)
	// The first message was not kept and got no ACK: the first ACK is the second message's.
	if acks[0].ControlID != "MSG0002" || acks[0].Code != AA {
		t.Fatalf("ack %+v", acks[0])
	}
}

func TestServerRejectsMalformed(t *testing.T) {
	r := &rec{}
	c := serve(t, newServer(r))
	bad := msg("MSH|^~\\&|ANALYSER|LAB|||20240612||ORU^R01|BAD1|P|2.5.1", "OBX|1|NM|GHB||42")
	badEscape := msg("MSH|^~\\&|ANALYSER|LAB|||20240612||ORU^R01|BAD2|P|2.3", "OBR|1|S||GHB", "NTE|1||\\Q\\x")
	acks := exchange(t, c, 2, bad, badEscape)
	if acks[0].Code != AR || acks[0].ControlID != "BAD1" || acks[1].Code != AR || acks[1].ControlID != "BAD2" {
		t.Fatalf("acks %+v %+v", acks[0], acks[1])
	}
	errSeg := acks[0].Message.Find("ERR")
	if len(errSeg) != 1 || errSeg[0].Field(3).Component(1) != "100" {
		t.Errorf("ERR %+v", errSeg)
	}
	_, rej := r.snapshot()
	if len(rej) != 2 || !errors.Is(rej[0].Reason, ErrStructure) || !errors.Is(rej[1].Reason, ErrEscape) || string(rej[0].Raw) != string(bad) {
		t.Fatalf("rejected %+v", rej)
	}
}

func TestServerNoAckWhenQuarantineFails(t *testing.T) {
	r := &rec{failReject: 1}
	c := serve(t, newServer(r))
	bad := msg("MSH|^~\\&|ANALYSER|LAB|||20240612||ORU^R01|BAD1|P|2.5.1", "OBX|1|NM|GHB||42")
	good := msg("MSH|^~\\&|ANALYSER|LAB|||20240612||ORU^R01|OK1|P|2.5.1", "OBR|1|S||GHB", "OBX|1|NM|GHB||1")
	acks := exchange(t, c, 1, bad, good)
	if acks[0].ControlID != "OK1" {
		t.Fatalf("ack %+v", acks[0])
	}
}

func TestServerReportsJunkAndNoMSH(t *testing.T) {
	r := &rec{}
	c := serve(t, newServer(r))
	good := msg("MSH|^~\\&|ANALYSER|LAB|||20240612||ORU^R01|OK1|P|2.5.1", "OBR|1|S||GHB", "OBX|1|NM|GHB||1")
	wrote := make(chan struct{})
	go func() { c.Write([]byte("GET / HTTP/1.1\r\n")); close(wrote) }()
	<-wrote // the server has read it
	acks := exchange(t, c, 1, []byte("not hl7 at all"), good)
	if acks[0].ControlID != "OK1" {
		t.Fatalf("ack %+v", acks[0])
	}
	// The probe and the frame that is no message are one burst of junk,
	// ended by the message frame: one quarantined blob, the bytes as they
	// came, framing included.
	_, rej := r.snapshot()
	if len(rej) != 1 {
		t.Fatalf("%d rejected", len(rej))
	}
	var je *JunkError
	if !errors.As(rej[0].Reason, &je) || !errors.Is(rej[0].Reason, mllp.ErrJunk) || string(rej[0].Raw) != "GET / HTTP/1.1\r\n\x0bnot hl7 at all\x1c\r" ||
		je.Frames != 1 || je.Size != rej[0].Size {
		t.Errorf("junk: %v %q", rej[0].Reason, rej[0].Raw)
	}
}

func TestCustomFramingBytes(t *testing.T) {
	r := &rec{}
	s := newServer(r)
	f := mllp.Framing{Start: 0x02, End: []byte{0x03}}
	s.Framing = f
	a, b := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeConn(ctx, a) }()
	defer func() { cancel(); b.Close(); <-done }()
	cl := NewClient(b, f)
	m, _ := Parse(oruTwoGroups, Options{})
	ctx2, cancel2 := context.WithTimeout(context.Background(), guard)
	defer cancel2()
	ack, err := cl.Send(ctx2, m.Segments, m.Delimiters, m.Charset)
	if err != nil || ack.Code != AA {
		t.Fatalf("%+v %v", ack, err)
	}
}

// TestClientServerOverTCP runs an instrument-side Client against the Server
// over a loopback TCP connection, as a simulator would.
func TestClientServerOverTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback TCP: %v", err)
	}
	defer ln.Close()
	r := &rec{}
	s := newServer(r)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		served <- s.ServeConn(ctx, conn)
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cl := NewClient(conn, mllp.Framing{})
	at := time.Date(2024, 6, 12, 10, 30, 0, 0, time.UTC)
	segs := []Segment{
		Header{SendingApp: "SIM", Time: at, ControlID: "R1", Version: "2.5.1", Charset: charset.UTF8}.msh("ORU", "R01", "ORU_R01"),
		Seg("PID", T("1"), nil, T("CASE-9"), nil, C("Doe", "Jane")),
		Seg("OBR", T("1"), T("S9"), nil, C("GHB", "GHB", "L")),
		Seg("OBX", T("1"), T("SN"), C("GHB", "GHB", "L"), nil, C("<", "0.5"), C("mg/L")),
		Seg("NTE", T("1"), nil, T("Bemerkung: Probe hämolytisch\nzweite Zeile")),
	}
	wctx, wcancel := context.WithTimeout(context.Background(), guard)
	defer wcancel()
	ack, err := cl.Send(wctx, segs, Standard, charset.UTF8)
	if err != nil || ack.Code != AA || ack.ControlID != "R1" {
		t.Fatalf("%+v %v", ack, err)
	}
	acc, _ := r.snapshot()
	ob := acc[0].Results.Patients[0].Orders[0].Observations[0]
	if ob.Value.Kind.String() != "censored" || ob.Value.Decimal != "0.5" {
		t.Errorf("value %+v", ob.Value)
	}
	if n := ob.Notes[0]; n != "Bemerkung: Probe hämolytisch\nzweite Zeile" {
		t.Errorf("note %q", n)
	}
	conn.Close()
	if err := <-served; err != nil {
		t.Errorf("ServeConn = %v", err)
	}
	cancel()
}

var _ CodeMap = (*testcode.Map)(nil)
