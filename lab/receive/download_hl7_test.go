package receive

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/lab/astm"
	"github.com/exhibit-forensics/exhibit/lab/charset"
	"github.com/exhibit-forensics/exhibit/lab/hl7"
	"github.com/exhibit-forensics/exhibit/lab/hl7/mllp"
	"github.com/exhibit-forensics/exhibit/lab/protocol"
	"github.com/exhibit-forensics/exhibit/lab/transport"
)

type tcpConn struct{ net.Conn }

func (c tcpConn) String() string { return "tcp " + c.RemoteAddr().String() }

// tcpPair is a connected pair of TCP connections on loopback.
func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(got)
			return
		}
		got <- c
	}()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, ok := <-got
	if !ok {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// The order message for an analyser whose dialect predates OML is
// ORM^O01 v2.3.1; for the others OML^O33 v2.5.1. The control id depends
// on the order only, so a resent order is the same message.
func TestOrderMessage(t *testing.T) {
	o := astm.Order{PatientID: "CASE-7", SpecimenID: "S7", Tests: []string{"GHB", "BENZ"}, Priority: "S"}
	at := time.Date(2024, 6, 12, 10, 30, 0, 0, time.UTC)
	for _, tc := range []struct{ version, want string }{
		{"", "MSH|^~\\&|EXHIBIT|LAB|AU||20240612103000||OML^O33^OML_O33|O66e62b47a1b3899b8cc|P|2.5.1\rPID|1||CASE-7\rSPM|1|S7\r" +
			"ORC|NW|S7-1||S7\rTQ1|1||||||||S\rOBR|1|S7-1||GHB^^L\rORC|NW|S7-2||S7\rTQ1|1||||||||S\rOBR|2|S7-2||BENZ^^L\r"},
		{"2.3.1", "MSH|^~\\&|EXHIBIT|LAB|AU||20240612103000||ORM^O01|O95c317ca63c8ad38a49|P|2.3.1\rPID|1||CASE-7\r" +
			"ORC|NW|S7-1||S7\rOBR|1|S7-1||GHB^^L|S\rORC|NW|S7-2||S7\rOBR|2|S7-2||BENZ^^L|S\r"},
	} {
		segs, err := OrderMessage(o, tc.version, "AU", at)
		if err != nil {
			t.Fatal(err)
		}
		out, err := hl7.Encode(segs, hl7.Standard, charset.ASCII)
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != tc.want {
			t.Errorf("%q:\n%q\nwant\n%q", tc.version, out, tc.want)
		}
		again, _ := OrderMessage(o, tc.version, "AU", at.Add(time.Hour))
		if again[0].Text(10) != segs[0].Text(10) {
			t.Errorf("control id changed between sends: %s, %s", segs[0].Text(10), again[0].Text(10))
		}
	}
	other := o
	other.Tests = []string{"GHB"}
	if OrderControlID(other, "") == OrderControlID(o, "") {
		t.Error("different orders, same control id")
	}
}

// No reply within OrderTimeout (on the clock): the order connection is
// given up with ErrNoOrderReply and the order is not marked sent. A reply
// that cannot be read, or names another message, does not count as one.
func TestOrderReplyTimeout(t *testing.T) {
	f := &feed{due: []astm.Order{{SpecimenID: "S7", Tests: []string{"GHB"}, Priority: "R"}}, marked: make(chan []string, 10)}
	clk := clock.NewFake(time.Date(2024, 6, 12, 10, 30, 0, 0, time.UTC))
	r, _ := newReceiver(t, newLedger(t), "hl7", "mllp", func(c *Config) {
		c.Download, c.OrderLink, c.OrderTimeout, c.Clock = f, &transport.Client{}, 5*time.Second, clk
	})
	a, b := tcpPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.ServeOrders(ctx, tcpConn{a}) }()

	raw, err := mllp.NewReader(b, mllp.Standard, 0).ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	m, err := hl7.Parse(raw, hl7.Options{})
	if err != nil || m.Type() != "OML" {
		t.Fatalf("%q %v", raw, err)
	}
	// An ACK naming another message, and an ORU: neither is the reply.
	for _, s := range []string{"MSH|^~\\&|AU||EXHIBIT||||ACK^O33|X1|P|2.5.1\rMSA|AA|NOTOURS\r", "MSH|^~\\&|AU||EXHIBIT||||ORU^R01|X2|P|2.5.1\rMSA|AA|" + m.ControlID() + "\r"} {
		if err := mllp.Write(b, []byte(s), mllp.Standard); err != nil {
			t.Fatal(err)
		}
	}
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(5 * time.Second)
	select {
	case err := <-done:
		if !errors.Is(err, ErrNoOrderReply) {
			t.Errorf("ServeOrders: %v, want ErrNoOrderReply", err)
		}
	case <-ctx.Done():
		t.Fatal("ServeOrders still waiting")
	}
	select {
	case sp := <-f.marked:
		t.Errorf("marked sent without a reply: %v", sp)
	default:
	}
}

// HL7 order download needs the analyser's order port.
func TestHL7DownloadNeedsOrderLink(t *testing.T) {
	d, _ := protocol.Lookup(protocol.HL7, "mllp")
	if _, err := New(Config{Store: newLedger(t), Dialect: d, Download: &feed{}}); err == nil {
		t.Error("HL7 download without an OrderLink accepted")
	}
}
