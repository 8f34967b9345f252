package labsim

import (
	"context"
	"net"
	"reflect"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/lab/hl7"
	"github.com/exhibit-forensics/exhibit/lab/hl7/mllp"
	"github.com/exhibit-forensics/exhibit/lab/protocol"
)

type tcpConn struct{ net.Conn }

func (c tcpConn) String() string { return "tcp " + c.RemoteAddr().String() }

// The order port over TCP, message by message: ORM^O01 (v2.3.1) answered
// ORR^O02 AA and its orders held; the same orders again are the same
// orders; an order control other than NW, a test not on the menu and a
// message that is not an order are answered AR and change nothing.
func TestHL7OrderPort(t *testing.T) {
	d, _ := protocol.Lookup(protocol.HL7, "mllp")
	sc, err := ParseScenario([]byte("analyser-scenario v1\ndownload yes\nspecimen S1\nresult GHB 1\nresult BENZ NEG\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Scenario: sc, Dialect: d, Logger: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		served <- s.ServeOrders(ctx, tcpConn{c})
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := mllp.NewReader(c, mllp.Standard, 0)
	sendRaw := func(segs ...string) *hl7.Message {
		t.Helper()
		var out []byte
		for _, sg := range segs {
			out = append(out, sg...)
			out = append(out, '\r')
		}
		if err := mllp.Write(c, out, mllp.Standard); err != nil {
			t.Fatal(err)
		}
		raw, err := r.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		m, err := hl7.Parse(raw, hl7.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	send := func(segs ...string) *hl7.OrderReply {
		t.Helper()
		m := sendRaw(segs...)
		rp, err := hl7.ParseOrderReply(m)
		if err != nil {
			t.Fatalf("%q: %v", m.Raw, err)
		}
		return rp
	}
	orm := []string{"MSH|^~\\&|EXHIBIT|LAB|SIM||20240612103000||ORM^O01|O1|P|2.3.1", "PID|1||CASE-1",
		"ORC|NW|S1-1||S1", "OBR|1|S1-1||GHB^^L|R", "ORC|NW|S1-2||S1", "OBR|2|S1-2||BENZ^^L|R"}
	for i := range 2 {
		if rp := send(orm...); rp.Type != "ORR^O02" || rp.Code != hl7.AA || rp.ControlID != "O1" {
			t.Errorf("ORM^O01 send %d: %+v", i+1, rp)
		}
	}
	for _, tc := range []struct {
		segs []string
		want string
	}{
		{[]string{"MSH|^~\\&|EXHIBIT|LAB|SIM||||OML^O33^OML_O33|O2|P|2.5.1", "SPM|1|S1", "ORC|CA|S1-3||S1", "OBR|1|S1-3||GHB^^L"}, "ORL^O34"},
		{[]string{"MSH|^~\\&|EXHIBIT|LAB|SIM||||OML^O33^OML_O33|O3|P|2.5.1", "SPM|1|S1", "ORC|NW|S1-4||S1", "OBR|1|S1-4||THC^^L"}, "ORL^O34"},
	} {
		if rp := send(tc.segs...); rp.Code != hl7.AR || rp.Type != tc.want || len(rp.Errors) != 1 {
			t.Errorf("%s: %+v, want AR in %s with an ERR", tc.segs[0], rp, tc.want)
		}
	}
	// Not an order message: refused with a plain ACK^A01 (which is not an
	// order reply).
	if a, err := hl7.ParseAck(sendRaw("MSH|^~\\&|EXHIBIT|LAB|SIM||||ADT^A01|O4|P|2.5.1", "PID|1||CASE-1")); err != nil || a.Code != hl7.AR || a.ControlID != "O4" {
		t.Errorf("ADT^A01: %+v %v", a, err)
	}
	c.Close()
	if err := <-served; err != nil {
		t.Errorf("ServeOrders: %v", err)
	}
	if got := s.HeldOrders(); !reflect.DeepEqual(got, []string{"S1-1", "S1-2"}) {
		t.Errorf("held %v", got)
	}
	if st := s.Stats(); st.Downloads != 1 || st.OrderRepeats != 2 {
		t.Errorf("downloads %d, repeats %d; want 1 and 2", st.Downloads, st.OrderRepeats)
	}
	s.mu.Lock()
	codes := s.ordered["S1"]
	s.mu.Unlock()
	if !reflect.DeepEqual(codes, []string{"GHB", "BENZ"}) {
		t.Errorf("ordered for S1: %v", codes)
	}
	// Without download mode there is no order port.
	sc.Download = false
	s2, _ := New(Config{Scenario: sc, Dialect: d})
	if err := s2.ServeOrders(ctx, tcpConn{c}); err == nil {
		t.Error("order port served without download mode")
	}
}
