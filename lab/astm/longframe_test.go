package astm

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/lab/astm/frame"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
	"github.com/exhibit-forensics/exhibit/lab/astm/record"
	"github.com/exhibit-forensics/exhibit/lab/value"
)

// longFrameDialect is an instrument that sends a whole message in one frame
// of up to 63,993 bytes, as Sysmex XN/XP, Roche cobas c311, Cepheid
// GeneXpert and Siemens DCA Vantage do over TCP.
func longFrameDialect(t *testing.T) *Dialect {
	t.Helper()
	d := Standard()
	d.Name = "long-frames"
	d.Packing = frame.WholeMessage
	d.Frame.MaxText = frame.MaxTextLIS1A
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	return d
}

// bigMessage is a message of about n results.
func bigMessage(n int) *record.Message {
	var rs []record.Result
	for i := 0; i < n; i++ {
		rs = append(rs, record.Result{Test: record.TestID{"", "", "", fmt.Sprintf("T%03d", i)},
			Value: value.Value{Raw: "42.0"}, Units: "mg/L", Range: "0-10", Status: "F"})
	}
	return &record.Message{
		Patients: []record.Patient{{LabID: "CASE-0001", Orders: []record.Order{{SpecimenID: "S1",
			Tests: []record.TestID{{"", "", "", "GHB"}}, Results: rs}}}},
		Terminator: record.Terminator{Code: "N"},
	}
}

// TestWholeMessageInOneLongFrame: an instrument sends a 4 kB message in one
// frame; a host on the standard dialect takes it (it used to NAK every frame
// over 240 bytes until the instrument gave up).
func TestWholeMessageInOneLongFrame(t *testing.T) {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	clk := clock.NewFake(time.Date(2024, 6, 12, 10, 30, 0, 0, time.UTC))
	hrec := newRecorder()
	hc, err := NewConn(a, Config{Role: link.Host, Dialect: Standard(), Handler: hrec, Clock: clk, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	var naks atomic.Int32
	ic, err := NewConn(b, Config{Role: link.Instrument, Dialect: longFrameDialect(t), Handler: newRecorder(), Clock: clk,
		Logger: quiet, Sender: record.Repeat{"XN-550"}, Trace: func(s link.Step) {
			if s.From == link.Sending && (s.Event == link.EvNAK || s.Event == link.EvNAKLimit) {
				naks.Add(1)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	hd, id := make(chan error, 1), make(chan error, 1)
	go func() { hd <- hc.Run(ctx) }()
	go func() { id <- ic.Run(ctx) }()
	defer func() { cancel(); <-hd; <-id }()

	raws, _, err := ic.Encode(bigMessage(150))
	if err != nil {
		t.Fatal(err)
	}
	fs := frame.Split(raws, frame.WholeMessage, frame.MaxTextLIS1A)
	if len(fs) != 1 || len(fs[0].Text) < 4000 {
		t.Fatalf("%d frames, first %d bytes: want one frame over 4 kB", len(fs), len(fs[0].Text))
	}
	sent, err := ic.Send(ctx, bigMessage(150))
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if ev := hrec.next(); ev != "accept" {
		t.Fatalf("host: %s", ev)
	}
	acc, rej := hrec.snapshot()
	if len(acc) != 1 || len(rej) != 0 || acc[0].ID != sent.ID || len(acc[0].Results) != 150 {
		t.Fatalf("accepted %d, rejected %d", len(acc), len(rej))
	}
	if n := naks.Load(); n != 0 {
		t.Fatalf("the host refused the frame %d times", n)
	}
}

// A dialect may tighten the receive limit (max-receive-text): the long frame
// is then refused, and the send limit (max-text) still bounds what this side
// sends.
func TestDialectTightensReceiveLimit(t *testing.T) {
	d, err := ParseDialect([]byte("astm-dialect v1\nname tight\nmax-text 200\nmax-receive-text 300\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Frame.Max() != 200 || d.Frame.ReceiveMax() != 300 {
		t.Fatalf("frame options %+v", d.Frame)
	}
	if std := Standard(); std.Frame.Max() != frame.MaxTextE1381 || std.Frame.ReceiveMax() != frame.MaxTextLIS1A {
		t.Fatalf("standard frame options %+v", std.Frame)
	}
	h := startHost(t, func(c *Config) { c.Dialect = d })
	text := []byte("H|\\^&\r" + strings.Repeat("C|1|I|comment|G\r", 20) + "L|1|N\r")
	enc, err := frame.Append(nil, frame.Frame{Number: 1, Text: text, Last: true}, frame.Options{MaxText: frame.MaxTextLIS1A})
	if err != nil {
		t.Fatal(err)
	}
	h.w("<ENQ>")
	h.x("<ACK>")
	h.raw(enc)
	h.x("<NAK>")
}
