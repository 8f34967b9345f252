package link_test

import (
	"context"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/internal/streamtest"
	"github.com/exhibit-forensics/exhibit/lab/astm/frame"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
)

// end is one running link of a pair.
type end struct {
	l     *link.Link
	clk   *clock.Fake
	sink  *sink
	steps chan link.Step
}

func runPair(t *testing.T, hostRW, instRW link.Stream) (host, inst *end) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var done []chan error
	mk := func(role link.Role, rw link.Stream) *end {
		e := &end{clk: clock.NewFake(time.Unix(0, 0)), sink: newSink(), steps: make(chan link.Step, 1000)}
		l, err := link.New(rw, link.Config{Role: role, Receiver: e.sink, Clock: e.clk, Trace: func(s link.Step) { record(role, s); e.steps <- s }})
		if err != nil {
			t.Fatal(err)
		}
		e.l = l
		ch := make(chan error, 1)
		done = append(done, ch)
		go func() { ch <- l.Run(ctx) }()
		return e
	}
	host, inst = mk(link.Host, hostRW), mk(link.Instrument, instRW)
	t.Cleanup(func() {
		cancel()
		for _, c := range []io.Closer{hostRW.(io.Closer), instRW.(io.Closer)} {
			c.Close()
		}
		for _, ch := range done {
			<-ch
		}
	})
	return host, inst
}

func (e *end) wait(t *testing.T, from link.State, ev link.Event) {
	t.Helper()
	deadline := time.After(guard)
	for {
		select {
		case s := <-e.steps:
			if s.From == from && s.Event == ev {
				return
			}
		case <-deadline:
			t.Fatalf("no transition %v --%v-->", from, ev)
		}
	}
}

func (e *end) collect(t *testing.T) (texts []string) {
	t.Helper()
	for {
		select {
		case f := <-e.sink.frames:
			texts = append(texts, string(f.Text))
		case err := <-e.sink.ends:
			if err != nil {
				t.Fatalf("transfer ended with %v", err)
			}
			// Frames are delivered before the end: take any still queued.
			for {
				select {
				case f := <-e.sink.frames:
					texts = append(texts, string(f.Text))
				default:
					return texts
				}
			}
		case <-time.After(guard):
			t.Fatal("transfer did not end")
		}
	}
}

// longRecords holds a record longer than one E1381 frame.
var longRecords = append([][]byte{[]byte("H|\\^&|||Exhibit")},
	[]byte("C|1|I|"+strings.Repeat("long comment ", 40)), []byte("L|1|N"))

func exchange(t *testing.T, host, inst *end) {
	t.Helper()
	// Instrument to host, with a record split across frames (ETB).
	frames := frame.Split(longRecords, frame.RecordPerMessage, 0)
	if len(frames) < 4 {
		t.Fatalf("test record did not split: %d frames", len(frames))
	}
	errc := make(chan error, 1)
	go func() { errc <- inst.l.Send(context.Background(), frames) }()
	got := host.collect(t)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "") != string(joinRecords(longRecords)) {
		t.Fatalf("host received %q", got)
	}
	// Host to instrument.
	go func() {
		errc <- host.l.Send(context.Background(), frame.Split(domainRecords, frame.RecordPerMessage, 0))
	}()
	got = inst.collect(t)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "") != string(joinRecords(domainRecords)) {
		t.Fatalf("instrument received %q", got)
	}
}

func joinRecords(recs [][]byte) []byte {
	var b []byte
	for _, r := range recs {
		b = append(append(b, r...), '\r')
	}
	return b
}

func TestPairOverPipe(t *testing.T) {
	a, b := net.Pipe()
	host, inst := runPair(t, a, b)
	exchange(t, host, inst)
}

func TestPairOverPTY(t *testing.T) {
	p := streamtest.PTY(t)
	host, inst := runPair(t, p.Terminal(), p)
	exchange(t, host, inst)
}

// gated holds reads back until its gate opens.
type gated struct {
	r    *os.File
	w    *os.File
	gate chan struct{}
}

func (g *gated) Read(p []byte) (int, error) {
	<-g.gate
	return g.r.Read(p)
}
func (g *gated) Write(p []byte) (int, error) { return g.w.Write(p) }
func (g *gated) Close() error {
	g.r.Close()
	return g.w.Close()
}

// TestPairContention starts both sides with a message to send, so both bid
// for the line at once. The instrument must win, the host must receive its
// message, and then the host's message must go through.
func TestPairContention(t *testing.T) {
	r1, w1, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r2, w2, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	hostRW := &gated{r: r1, w: w2, gate: gate}
	instRW := &gated{r: r2, w: w1, gate: gate}
	host, inst := runPair(t, hostRW, instRW)

	hostMsg := frame.Split(domainRecords, frame.RecordPerMessage, 0)
	instMsg := frame.Split(longRecords, frame.RecordPerMessage, 0)
	hostDone, instDone := make(chan error, 1), make(chan error, 1)
	go func() { hostDone <- host.l.Send(context.Background(), hostMsg) }()
	go func() { instDone <- inst.l.Send(context.Background(), instMsg) }()
	// Both have sent ENQ before either can read.
	host.wait(t, link.Idle, link.EvSend)
	inst.wait(t, link.Idle, link.EvSend)
	close(gate)
	host.wait(t, link.Establishing, link.EvENQ) // host gives way (20 s)
	inst.wait(t, link.Establishing, link.EvENQ) // instrument waits 1 s
	if got := host.clk.Pending(); len(got) != 1 || got[0] != 20*time.Second {
		t.Fatalf("host timers %v", got)
	}
	if got := inst.clk.Pending(); len(got) != 1 || got[0] != time.Second {
		t.Fatalf("instrument timers %v", got)
	}
	inst.clk.Advance(time.Second)
	if got := host.collect(t); strings.Join(got, "") != string(joinRecords(longRecords)) {
		t.Fatalf("host received %q", got)
	}
	if err := <-instDone; err != nil {
		t.Fatal(err)
	}
	if got := inst.collect(t); strings.Join(got, "") != string(joinRecords(domainRecords)) {
		t.Fatalf("instrument received %q", got)
	}
	if err := <-hostDone; err != nil {
		t.Fatal(err)
	}
}
