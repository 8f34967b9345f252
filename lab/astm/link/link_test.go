package link_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/internal/streamtest"
	"github.com/exhibit-forensics/exhibit/lab/astm/frame"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
)

// guard bounds every wait in real time so a broken link fails instead of
// hanging; no test sleeps or depends on real time otherwise.
const guard = 10 * time.Second

// sink is a Receiver that records what it is given.
type sink struct {
	mu     sync.Mutex
	frames chan frame.Frame
	ends   chan error
	refuse func(frame.Frame) error
}

func newSink() *sink {
	return &sink{frames: make(chan frame.Frame, 100), ends: make(chan error, 100)}
}

func (s *sink) Frame(ctx context.Context, f frame.Frame) error {
	s.mu.Lock()
	refuse := s.refuse
	s.mu.Unlock()
	if refuse != nil {
		if err := refuse(f); err != nil {
			return err
		}
	}
	s.frames <- f
	return nil
}

func (s *sink) End(ctx context.Context, err error) { s.ends <- err }

type harness struct {
	t     *testing.T
	l     *link.Link
	peer  *streamtest.Peer
	clk   *clock.Fake
	steps chan link.Step
	sink  *sink
	stop  context.CancelFunc
	ran   chan error
	busy  atomic.Bool // what Config.Busy reports
}

func start(t *testing.T, role link.Role, mod func(*link.Config)) *harness {
	t.Helper()
	a, b := net.Pipe()
	h := &harness{t: t, peer: &streamtest.Peer{RW: b, Wait: guard}, clk: clock.NewFake(time.Date(2024, 6, 12, 10, 30, 0, 0, time.UTC)),
		steps: make(chan link.Step, 1000), sink: newSink(), ran: make(chan error, 1)}
	cfg := link.Config{Role: role, Receiver: h.sink, Clock: h.clk, Trace: func(s link.Step) { record(role, s); h.steps <- s },
		Busy: h.busy.Load}
	if mod != nil {
		mod(&cfg)
	}
	l, err := link.New(a, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.l = l
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	go func() { h.ran <- l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		b.Close()
		a.Close()
		<-h.ran
	})
	return h
}

// step waits for the transition (from, ev) and returns it. Steps before it
// are skipped.
func (h *harness) step(from link.State, ev link.Event) link.Step {
	h.t.Helper()
	deadline := time.After(guard)
	for {
		select {
		case s := <-h.steps:
			if s.From == from && s.Event == ev {
				return s
			}
		case <-deadline:
			h.t.Fatalf("no transition %v --%v-->", from, ev)
		}
	}
}

func (h *harness) write(s string) {
	h.t.Helper()
	if err := h.peer.Write(s); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) expect(s string) {
	h.t.Helper()
	if err := h.peer.Expect(s); err != nil {
		h.t.Fatal(err)
	}
}

// pending checks the armed timers.
func (h *harness) pending(want ...time.Duration) {
	h.t.Helper()
	got := h.clk.Pending()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		h.t.Fatalf("armed timers = %v, want %v", got, want)
	}
}

// fireAt checks a timer does not fire a nanosecond early and does on time.
func (h *harness) fireAt(d time.Duration) {
	h.t.Helper()
	if n := h.clk.Advance(d - time.Nanosecond); n != 0 {
		h.t.Fatalf("%d timers fired before %v", n, d)
	}
	if n := h.clk.Advance(time.Nanosecond); n != 1 {
		h.t.Fatalf("%d timers fired at %v, want 1", n, d)
	}
}

// send starts l.Send in the background.
func (h *harness) send(ctx context.Context, frames []frame.Frame) chan error {
	done := make(chan error, 1)
	go func() { done <- h.l.Send(ctx, frames) }()
	return done
}

func (h *harness) result(done chan error) error {
	h.t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(guard):
		h.t.Fatal("Send did not return")
	}
	return nil
}

func (h *harness) frame() frame.Frame {
	h.t.Helper()
	select {
	case f := <-h.sink.frames:
		return f
	case <-time.After(guard):
		h.t.Fatal("no frame delivered")
	}
	return frame.Frame{}
}

func (h *harness) end() error {
	h.t.Helper()
	select {
	case err := <-h.sink.ends:
		return err
	case <-time.After(guard):
		h.t.Fatal("transfer did not end")
	}
	return nil
}

func (h *harness) noFrame() {
	h.t.Helper()
	select {
	case f := <-h.sink.frames:
		h.t.Fatalf("unexpected frame delivered: %q", f.Text)
	default:
	}
}

// The example session of shared/domain/analysers.md, as the sender writes
// it. The checksums are the notes' own.
var domainFrames = []string{
	"<STX>1H|\\^&|||EdgeSim^1.0|||||||P|LIS2-A2|20240612103000<CR><ETX>FF<CR><LF>",
	"<STX>2P|1||CASE-0001<CR><ETX>41<CR><LF>",
	"<STX>3O|1|S240612-0001||^^^BENZ\\^^^GHB|R||||||N||||URINE<CR><ETX>2A<CR><LF>",
	"<STX>4R|1|^^^GHB|42.0|mg/L|0-10|H||F||||20240612102900<CR><ETX>9E<CR><LF>",
	"<STX>5L|1|N<CR><ETX>08<CR><LF>",
}

var domainRecords = [][]byte{
	[]byte("H|\\^&|||EdgeSim^1.0|||||||P|LIS2-A2|20240612103000"),
	[]byte("P|1||CASE-0001"),
	[]byte("O|1|S240612-0001||^^^BENZ\\^^^GHB|R||||||N||||URINE"),
	[]byte("R|1|^^^GHB|42.0|mg/L|0-10|H||F||||20240612102900"),
	[]byte("L|1|N"),
}

func TestReceiveDomainSession(t *testing.T) {
	h := start(t, link.Host, nil)
	h.write("<ENQ>")
	h.expect("<ACK>")
	for i, f := range domainFrames {
		h.write(f)
		h.expect("<ACK>")
		got := h.frame()
		if got.Number != (i+1)%8 || !got.Last || string(got.Text) != string(domainRecords[i])+"\r" {
			t.Fatalf("frame %d = %+v", i+1, got)
		}
	}
	h.write("<EOT>")
	if err := h.end(); err != nil {
		t.Fatalf("End(%v), want nil", err)
	}
}

func TestSendDomainSession(t *testing.T) {
	h := start(t, link.Instrument, nil)
	done := h.send(context.Background(), frame.Split(domainRecords, frame.RecordPerMessage, 0))
	h.expect("<ENQ>")
	h.write("<ACK>")
	for _, f := range domainFrames {
		h.expect(f)
		h.write("<ACK>")
	}
	h.expect("<EOT>")
	if err := h.result(done); err != nil {
		t.Fatal(err)
	}
}

func TestNoiseBeforeENQIgnored(t *testing.T) {
	h := start(t, link.Host, nil)
	h.write("\r\nATZ<ACK><NAK><STX>1junk<ETX>00<CR><LF>")
	h.write("<ENQ>")
	h.expect("<ACK>")
	h.write(domainFrames[0])
	h.expect("<ACK>")
	if f := h.frame(); f.Number != 1 {
		t.Fatalf("frame %+v", f)
	}
}

func TestNAKThenRetry(t *testing.T) {
	h := start(t, link.Instrument, nil)
	done := h.send(context.Background(), frame.Split(domainRecords[4:], frame.RecordPerMessage, 0))
	h.expect("<ENQ>")
	h.write("<ACK>")
	h.expect(domainFrames[0][:0] + "<STX>1L|1|N<CR><ETX>04<CR><LF>")
	h.write("<NAK>")
	h.expect("<STX>1L|1|N<CR><ETX>04<CR><LF>") // same number, same bytes
	h.write("<ACK>")
	h.expect("<EOT>")
	if err := h.result(done); err != nil {
		t.Fatal(err)
	}
}

func TestAnyOtherReplyCountsAsNAK(t *testing.T) {
	h := start(t, link.Instrument, nil)
	done := h.send(context.Background(), frame.Split(domainRecords[4:], frame.RecordPerMessage, 0))
	h.expect("<ENQ>")
	h.write("<ACK>")
	for _, reply := range []string{"X", "<ENQ>", "<STX>1L|1|N<CR><ETX>04<CR><LF>"} {
		h.expect("<STX>1L|1|N<CR><ETX>04<CR><LF>")
		h.write(reply)
	}
	h.expect("<STX>1L|1|N<CR><ETX>04<CR><LF>")
	h.write("<ACK>")
	h.expect("<EOT>")
	if err := h.result(done); err != nil {
		t.Fatal(err)
	}
}

func TestSixRefusalsAbort(t *testing.T) {
	h := start(t, link.Instrument, nil)
	done := h.send(context.Background(), frame.Split(domainRecords, frame.RecordPerMessage, 0))
	h.expect("<ENQ>")
	h.write("<ACK>")
	h.expect(domainFrames[0])
	h.write("<ACK>")
	for i := 1; i <= link.MaxAttempts; i++ {
		h.expect(domainFrames[1])
		h.write("<NAK>")
	}
	h.expect("<EOT>")
	err := h.result(done)
	if !errors.Is(err, link.ErrRefused) {
		t.Fatalf("Send = %v, want ErrRefused", err)
	}
	if !strings.Contains(err.Error(), "refused 6 times") {
		t.Errorf("error %q does not say how often", err)
	}
	h.pending() // no timer left running
}

func TestReplyTimeoutOnFrame(t *testing.T) {
	h := start(t, link.Instrument, nil)
	done := h.send(context.Background(), frame.Split(domainRecords, frame.RecordPerMessage, 0))
	h.expect("<ENQ>")
	h.write("<ACK>")
	h.expect(domainFrames[0])
	h.step(link.Establishing, link.EvACK)
	h.pending(15 * time.Second)
	h.fireAt(15 * time.Second)
	h.expect("<EOT>")
	if err := h.result(done); !errors.Is(err, link.ErrNoReply) {
		t.Fatalf("Send = %v, want ErrNoReply", err)
	}
}

func TestReplyTimeoutOnENQ(t *testing.T) {
	h := start(t, link.Host, nil)
	done := h.send(context.Background(), frame.Split(domainRecords, frame.RecordPerMessage, 0))
	h.expect("<ENQ>")
	h.step(link.Idle, link.EvSend)
	h.pending(15 * time.Second)
	h.fireAt(15 * time.Second)
	h.expect("<EOT>")
	if err := h.result(done); !errors.Is(err, link.ErrNoReply) {
		t.Fatalf("Send = %v, want ErrNoReply", err)
	}
}

func TestBusyNAKToENQWaits10s(t *testing.T) {
	h := start(t, link.Instrument, nil)
	done := h.send(context.Background(), frame.Split(domainRecords[4:], frame.RecordPerMessage, 0))
	h.expect("<ENQ>")
	h.write("<NAK>")
	h.step(link.Establishing, link.EvNAK)
	h.pending(10 * time.Second)
	h.fireAt(10 * time.Second)
	h.expect("<ENQ>")
	h.write("<ACK>")
	h.expect("<STX>1L|1|N<CR><ETX>04<CR><LF>")
	h.write("<ACK>")
	h.expect("<EOT>")
	if err := h.result(done); err != nil {
		t.Fatal(err)
	}
}

func TestReceiverBusyAnswersNAK(t *testing.T) {
	busy := true
	var mu sync.Mutex
	h := start(t, link.Host, func(c *link.Config) {
		c.Busy = func() bool { mu.Lock(); defer mu.Unlock(); return busy }
	})
	h.write("<ENQ>")
	h.expect("<NAK>")
	h.step(link.Idle, link.EvENQBusy)
	mu.Lock()
	busy = false
	mu.Unlock()
	h.write("<ENQ>")
	h.expect("<ACK>")
}

func TestReceiveTimeoutDiscardsPartialMessage(t *testing.T) {
	h := start(t, link.Host, nil)
	h.write("<ENQ>")
	h.expect("<ACK>")
	h.step(link.Idle, link.EvENQ)
	h.pending(30 * time.Second)
	h.write("<STX>1H|\\^&<CR><ETB>F9<CR><LF>")
	h.expect("<ACK>")
	h.frame()
	h.step(link.Receiving, link.EvFrame)
	h.pending(30 * time.Second)
	h.fireAt(30 * time.Second)
	if err := h.end(); !errors.Is(err, link.ErrReceiveTimeout) {
		t.Fatalf("End(%v), want ErrReceiveTimeout", err)
	}
	// The link is neutral again and a new transfer starts at frame 1.
	h.write("<ENQ>")
	h.expect("<ACK>")
	h.write(domainFrames[0])
	h.expect("<ACK>")
	if f := h.frame(); f.Number != 1 {
		t.Fatalf("frame %+v", f)
	}
}

func TestChecksumErrorGetsNAK(t *testing.T) {
	h := start(t, link.Host, nil)
	h.write("<ENQ>")
	h.expect("<ACK>")
	h.write("<STX>1H|\\^&|||EdgeSim^1.0|||||||P|LIS2-A2|20240612103000<CR><ETX>FE<CR><LF>")
	h.expect("<NAK>")
	s := h.step(link.Receiving, link.EvFrameBad)
	if !strings.Contains(s.Detail, "checksum") {
		t.Errorf("step detail %q does not name the checksum", s.Detail)
	}
	h.noFrame()
	h.write(domainFrames[0])
	h.expect("<ACK>")
	if f := h.frame(); f.Number != 1 {
		t.Fatalf("frame %+v", f)
	}
}

func TestOtherBadFramesGetNAK(t *testing.T) {
	h := start(t, link.Host, func(c *link.Config) { c.Frame.MaxText = 10 })
	h.write("<ENQ>")
	h.expect("<ACK>")
	for _, bad := range []string{
		"<STX>1ABCDEFGHIJK<ETX>2C<CR><LF>",  // 11 bytes of text under a 10-byte limit
		"<STX>9L|1|N<CR><ETX>0C<CR><LF>",    // frame number 9
		"<STX>1L|1<LF>N<CR><ETX>0E<CR><LF>", // LF in text
		"<STX>1L|1|N<CR><ETX>04<CR>X",       // broken trailer
	} {
		h.write(bad)
		h.expect("<NAK>")
	}
	h.noFrame()
}

func TestFrameOutOfSequenceGetsNAK(t *testing.T) {
	h := start(t, link.Host, nil)
	h.write("<ENQ>")
	h.expect("<ACK>")
	h.write(domainFrames[0])
	h.expect("<ACK>")
	h.frame()
	h.write(domainFrames[2]) // frame 3 where 2 is due
	h.expect("<NAK>")
	h.noFrame()
	h.write(domainFrames[1])
	h.expect("<ACK>")
	if f := h.frame(); f.Number != 2 {
		t.Fatalf("frame %+v", f)
	}
}

func TestDuplicateFrameAcceptedAsRetransmission(t *testing.T) {
	h := start(t, link.Host, nil)
	h.write("<ENQ>")
	h.expect("<ACK>")
	h.write(domainFrames[0])
	h.expect("<ACK>")
	h.frame()
	h.write(domainFrames[0]) // our ACK was lost; the sender repeats frame 1
	h.expect("<ACK>")
	h.step(link.Receiving, link.EvFrameRepeat)
	h.noFrame() // not handed up twice
	h.write(domainFrames[1])
	h.expect("<ACK>")
	if f := h.frame(); f.Number != 2 {
		t.Fatalf("frame %+v", f)
	}
	// Same number, different text: not a retransmission.
	h.write("<STX>2P|2||CASE-0002<CR><ETX>45<CR><LF>")
	h.expect("<NAK>")
	h.step(link.Receiving, link.EvFrameBad)
	h.noFrame()
}

func TestRefusedFrameGetsNAKAndIsRetried(t *testing.T) {
	h := start(t, link.Host, nil)
	refusals := 1
	h.sink.mu.Lock()
	h.sink.refuse = func(f frame.Frame) error {
		if f.Number == 5 && refusals > 0 {
			refusals--
			return errors.New("disk full")
		}
		return nil
	}
	h.sink.mu.Unlock()
	h.write("<ENQ>")
	h.expect("<ACK>")
	for _, f := range domainFrames[:4] {
		h.write(f)
		h.expect("<ACK>")
		h.frame()
	}
	h.write(domainFrames[4])
	h.expect("<NAK>")
	s := h.step(link.Receiving, link.EvFrameRefused)
	if s.Detail != "disk full" {
		t.Errorf("detail %q", s.Detail)
	}
	h.noFrame()
	h.write(domainFrames[4])
	h.expect("<ACK>")
	if f := h.frame(); f.Number != 5 {
		t.Fatalf("frame %+v", f)
	}
}

func TestFrameNumbersWrap(t *testing.T) {
	var recs [][]byte
	for i := 1; i <= 10; i++ {
		recs = append(recs, []byte(fmt.Sprintf("C|%d", i)))
	}
	frames := frame.Split(recs, frame.RecordPerMessage, 0)

	// As sender: 1..7, then 0, 1, 2.
	h := start(t, link.Instrument, nil)
	done := h.send(context.Background(), frames)
	h.expect("<ENQ>")
	h.write("<ACK>")
	for i, f := range frames {
		f.Number = (i + 1) % 8
		enc, _ := frame.Append(nil, f, frame.Options{})
		h.expect(streamtest.Encode(enc))
		h.write("<ACK>")
	}
	h.expect("<EOT>")
	if err := h.result(done); err != nil {
		t.Fatal(err)
	}

	// As receiver: frame 0 follows frame 7.
	r := start(t, link.Host, nil)
	r.write("<ENQ>")
	r.expect("<ACK>")
	for i, f := range frames {
		f.Number = (i + 1) % 8
		enc, _ := frame.Append(nil, f, frame.Options{})
		r.write(streamtest.Encode(enc))
		r.expect("<ACK>")
		if got := r.frame(); got.Number != f.Number {
			t.Fatalf("frame %d has number %d", i, got.Number)
		}
	}
}

func TestContentionInstrumentWins(t *testing.T) {
	h := start(t, link.Instrument, nil)
	done := h.send(context.Background(), frame.Split(domainRecords[4:], frame.RecordPerMessage, 0))
	h.expect("<ENQ>")
	h.write("<ENQ>") // the host bid at the same time
	h.step(link.Establishing, link.EvENQ)
	h.pending(time.Second)
	h.fireAt(time.Second)
	h.expect("<ENQ>")
	h.write("<ACK>")
	h.expect("<STX>1L|1|N<CR><ETX>04<CR><LF>")
	h.write("<ACK>")
	h.expect("<EOT>")
	if err := h.result(done); err != nil {
		t.Fatal(err)
	}
}

func TestContentionHostGivesWay(t *testing.T) {
	h := start(t, link.Host, nil)
	done := h.send(context.Background(), frame.Split(domainRecords[4:], frame.RecordPerMessage, 0))
	h.expect("<ENQ>")
	h.write("<ENQ>") // the instrument bid at the same time
	h.step(link.Establishing, link.EvENQ)
	h.pending(20 * time.Second)
	h.clk.Advance(time.Second) // the instrument waits its 1 s, then bids again
	h.write("<ENQ>")
	h.expect("<ACK>")
	h.write(domainFrames[4][:0] + "<STX>1L|1|N<CR><ETX>04<CR><LF>")
	h.expect("<ACK>")
	h.frame()
	h.write("<EOT>")
	if err := h.end(); err != nil {
		t.Fatal(err)
	}
	// Now the host's own message goes.
	h.expect("<ENQ>")
	h.write("<ACK>")
	h.expect("<STX>1L|1|N<CR><ETX>04<CR><LF>")
	h.write("<ACK>")
	h.expect("<EOT>")
	if err := h.result(done); err != nil {
		t.Fatal(err)
	}
}

func TestHostContentionTimesOut(t *testing.T) {
	h := start(t, link.Host, nil)
	done := h.send(context.Background(), frame.Split(domainRecords[4:], frame.RecordPerMessage, 0))
	h.expect("<ENQ>")
	h.write("<ENQ>")
	h.step(link.Establishing, link.EvENQ)
	h.fireAt(20 * time.Second) // the instrument never bid again
	h.expect("<ENQ>")
	h.write("<ACK>")
	h.expect("<STX>1L|1|N<CR><ETX>04<CR><LF>")
	h.write("<ACK>")
	h.expect("<EOT>")
	if err := h.result(done); err != nil {
		t.Fatal(err)
	}
}

func TestReceiverInterruptsWhenItHasSomethingToSend(t *testing.T) {
	h := start(t, link.Host, func(c *link.Config) { c.Interrupt = true })
	h.write("<ENQ>")
	h.expect("<ACK>")
	h.step(link.Idle, link.EvENQ)
	done := h.send(context.Background(), frame.Split(domainRecords[4:], frame.RecordPerMessage, 0))
	h.step(link.Receiving, link.EvSend) // queued: the link is busy receiving
	h.write(domainFrames[0])
	h.expect("<EOT>") // accepted, and please stop
	if f := h.frame(); f.Number != 1 {
		t.Fatalf("frame %+v", f)
	}
	h.write("<EOT>") // the instrument honours it
	if err := h.end(); err != nil {
		t.Fatal(err)
	}
	h.expect("<ENQ>")
	h.write("<ACK>")
	h.expect("<STX>1L|1|N<CR><ETX>04<CR><LF>")
	h.write("<ACK>")
	h.expect("<EOT>")
	if err := h.result(done); err != nil {
		t.Fatal(err)
	}
}

func TestSenderHonoursInterrupt(t *testing.T) {
	h := start(t, link.Instrument, nil)
	done := h.send(context.Background(), frame.Split(domainRecords, frame.RecordPerMessage, 0))
	h.expect("<ENQ>")
	h.write("<ACK>")
	h.expect(domainFrames[0])
	h.write("<EOT>") // receiver interrupt
	h.expect("<EOT>")
	if err := h.result(done); !errors.Is(err, link.ErrInterrupted) {
		t.Fatalf("Send = %v, want ErrInterrupted", err)
	}
	h.step(link.Sending, link.EvInterrupt)
	h.pending(15 * time.Second)
	// The receiver uses the line it asked for.
	h.write("<ENQ>")
	h.expect("<ACK>")
	h.step(link.Hold, link.EvENQ)
	h.write("<EOT>")
	h.end()
}

func TestHoldTimesOutThenWaitingSendGoes(t *testing.T) {
	h := start(t, link.Instrument, nil)
	first := h.send(context.Background(), frame.Split(domainRecords, frame.RecordPerMessage, 0))
	h.expect("<ENQ>")
	h.write("<ACK>")
	h.expect(domainFrames[0])
	h.write("<EOT>")
	h.expect("<EOT>")
	h.result(first)
	second := h.send(context.Background(), frame.Split(domainRecords[4:], frame.RecordPerMessage, 0))
	h.step(link.Hold, link.EvSend)
	h.fireAt(15 * time.Second)
	h.expect("<ENQ>")
	h.write("<ACK>")
	h.expect("<STX>1L|1|N<CR><ETX>04<CR><LF>")
	h.write("<ACK>")
	h.expect("<EOT>")
	if err := h.result(second); err != nil {
		t.Fatal(err)
	}
}

func TestSenderMayIgnoreInterrupt(t *testing.T) {
	h := start(t, link.Instrument, func(c *link.Config) { c.IgnoreInterrupts = true })
	done := h.send(context.Background(), frame.Split(domainRecords[:2], frame.RecordPerMessage, 0))
	h.expect("<ENQ>")
	h.write("<ACK>")
	h.expect(domainFrames[0])
	h.write("<EOT>")
	h.expect(domainFrames[1])
	h.write("<EOT>")
	h.expect("<EOT>")
	if err := h.result(done); err != nil {
		t.Fatal(err)
	}
}

func TestInterruptOnLastFrameIsSuccess(t *testing.T) {
	h := start(t, link.Instrument, nil)
	done := h.send(context.Background(), frame.Split(domainRecords[4:], frame.RecordPerMessage, 0))
	h.expect("<ENQ>")
	h.write("<ACK>")
	h.expect("<STX>1L|1|N<CR><ETX>04<CR><LF>")
	h.write("<EOT>")
	h.expect("<EOT>")
	if err := h.result(done); err != nil {
		t.Fatal(err)
	}
}

func TestENQDuringReceiveRestarts(t *testing.T) {
	h := start(t, link.Host, nil)
	h.write("<ENQ>")
	h.expect("<ACK>")
	h.write(domainFrames[0])
	h.expect("<ACK>")
	h.frame()
	h.write("<ENQ>")
	h.expect("<ACK>")
	if err := h.end(); !errors.Is(err, link.ErrRestarted) {
		t.Fatalf("End(%v), want ErrRestarted", err)
	}
	h.write(domainFrames[0]) // frame 1 again, now as the first frame
	h.expect("<ACK>")
	h.frame()
}

func TestCancelledSendEndsWithEOT(t *testing.T) {
	h := start(t, link.Instrument, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := h.send(ctx, frame.Split(domainRecords, frame.RecordPerMessage, 0))
	h.expect("<ENQ>")
	h.write("<ACK>")
	h.expect(domainFrames[0])
	cancel()
	h.expect("<EOT>")
	if err := h.result(done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send = %v", err)
	}
}

func TestStoppingMidSendEndsWithEOT(t *testing.T) {
	h := start(t, link.Instrument, nil)
	done := h.send(context.Background(), frame.Split(domainRecords, frame.RecordPerMessage, 0))
	h.expect("<ENQ>")
	h.write("<ACK>")
	h.expect(domainFrames[0])
	h.stop()
	h.expect("<EOT>")
	if err := h.result(done); !errors.Is(err, link.ErrClosed) {
		t.Fatalf("Send = %v, want ErrClosed", err)
	}
	if err := <-h.ran; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
	h.ran <- nil // for the cleanup
	if err := h.l.Send(context.Background(), frame.Split(domainRecords, 0, 0)); !errors.Is(err, link.ErrClosed) {
		t.Fatalf("Send after stop = %v", err)
	}
}

func TestStreamClosedWhileReceiving(t *testing.T) {
	h := start(t, link.Host, nil)
	h.write("<ENQ>")
	h.expect("<ACK>")
	h.write(domainFrames[0])
	h.expect("<ACK>")
	h.frame()
	h.peer.RW.(net.Conn).Close()
	if err := h.end(); !errors.Is(err, link.ErrClosed) {
		t.Fatalf("End(%v), want ErrClosed", err)
	}
	err := <-h.ran
	h.ran <- err
	if err == nil || !strings.Contains(err.Error(), "reading") {
		t.Fatalf("Run = %v", err)
	}
}

func TestBeckmanFraming(t *testing.T) {
	opt := frame.Options{NoFrameNumbers: true, NoChecksum: true, NoTrailer: true}
	h := start(t, link.Instrument, func(c *link.Config) { c.Frame = opt })
	done := h.send(context.Background(), frame.Split(domainRecords[3:], frame.RecordPerMessage, 0))
	h.expect("<ENQ>")
	h.write("<ACK>")
	h.expect("<STX>R|1|^^^GHB|42.0|mg/L|0-10|H||F||||20240612102900<CR><ETX>")
	h.write("<ACK>")
	h.expect("<STX>L|1|N<CR><ETX>")
	h.write("<ACK>")
	h.expect("<EOT>")
	if err := h.result(done); err != nil {
		t.Fatal(err)
	}

	r := start(t, link.Host, func(c *link.Config) { c.Frame = opt })
	r.write("<ENQ>")
	r.expect("<ACK>")
	r.write("<STX>L|1|N<CR><ETX><CR><LF>") // a trailing CR LF is harmless noise
	r.expect("<ACK>")
	if f := r.frame(); f.Number != -1 || string(f.Text) != "L|1|N\r" {
		t.Fatalf("frame %+v", f)
	}
	r.write("<EOT>")
	r.end()
}

func TestSendRejectsBadFrames(t *testing.T) {
	h := start(t, link.Instrument, nil)
	if err := h.l.Send(context.Background(), nil); !errors.Is(err, link.ErrNoFrames) {
		t.Errorf("empty Send = %v", err)
	}
	err := h.l.Send(context.Background(), []frame.Frame{{Text: []byte("a\x02b"), Last: true}})
	if !errors.Is(err, frame.ErrRestricted) {
		t.Errorf("Send with STX in text = %v", err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	a, _ := net.Pipe()
	for _, c := range []link.Config{
		{Receiver: newSink()},
		{Role: link.Host},
		{Role: link.Host, Receiver: newSink(), Frame: frame.Options{MaxText: 70000}},
	} {
		if _, err := link.New(a, c); err == nil {
			t.Errorf("New(%+v) succeeded", c)
		}
	}
}

func TestRunTwice(t *testing.T) {
	h := start(t, link.Host, nil)
	h.write("<ENQ>")
	h.expect("<ACK>") // Run is running
	if err := h.l.Run(context.Background()); !errors.Is(err, link.ErrRunning) {
		t.Fatalf("second Run = %v", err)
	}
}

func TestBusyWaitAcceptsTheOtherSidesENQ(t *testing.T) {
	h := start(t, link.Instrument, nil)
	done := h.send(context.Background(), frame.Split(domainRecords[4:], frame.RecordPerMessage, 0))
	h.expect("<ENQ>")
	h.write("<NAK>") // busy
	h.step(link.Establishing, link.EvNAK)
	h.write("<ENQ>") // the host uses the pause to send
	h.expect("<ACK>")
	h.step(link.BusyWait, link.EvENQ)
	h.write(domainFrames[0])
	h.expect("<ACK>")
	h.write("<EOT>")
	h.end()
	h.expect("<ENQ>") // then our message goes
	h.write("<ACK>")
	h.expect("<STX>1L|1|N<CR><ETX>04<CR><LF>")
	h.write("<ACK>")
	h.expect("<EOT>")
	if err := h.result(done); err != nil {
		t.Fatal(err)
	}
}

func TestBusyWaitRefusesENQWhenBusyAndCanBeCancelled(t *testing.T) {
	h := start(t, link.Instrument, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := h.send(ctx, frame.Split(domainRecords[4:], frame.RecordPerMessage, 0))
	h.expect("<ENQ>")
	h.write("<NAK>")
	h.step(link.Establishing, link.EvNAK)
	h.busy.Store(true)
	h.write("<ENQ>")
	h.expect("<NAK>")
	h.step(link.BusyWait, link.EvENQBusy)
	h.pending(10 * time.Second) // the busy timer still runs
	cancel()
	if err := h.result(done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send = %v", err)
	}
	h.step(link.BusyWait, link.EvCancel)
	h.pending()
}

func TestCancelWhileEstablishingSendsEOT(t *testing.T) {
	h := start(t, link.Host, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := h.send(ctx, frame.Split(domainRecords, frame.RecordPerMessage, 0))
	h.expect("<ENQ>")
	h.step(link.Idle, link.EvSend)
	cancel()
	h.expect("<EOT>")
	if err := h.result(done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send = %v", err)
	}
}

func TestCancelDuringContention(t *testing.T) {
	h := start(t, link.Instrument, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := h.send(ctx, frame.Split(domainRecords, frame.RecordPerMessage, 0))
	h.expect("<ENQ>")
	h.write("<ENQ>")
	h.step(link.Establishing, link.EvENQ)
	cancel()
	if err := h.result(done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send = %v", err)
	}
	h.step(link.Contention, link.EvCancel)
	h.pending()
}

// Contention is decided by roles, whether or not the upper layer is busy.
func TestContentionWhileBusy(t *testing.T) {
	for _, role := range []link.Role{link.Host, link.Instrument} {
		t.Run(role.String(), func(t *testing.T) {
			h := start(t, role, nil)
			h.busy.Store(true)
			done := h.send(context.Background(), frame.Split(domainRecords[4:], frame.RecordPerMessage, 0))
			h.expect("<ENQ>")
			h.write("<ENQ>")
			h.step(link.Establishing, link.EvENQBusy)
			if role == link.Instrument {
				h.pending(time.Second)
				h.fireAt(time.Second)
				h.expect("<ENQ>")
			} else {
				h.pending(20 * time.Second)
				h.write("<ENQ>") // the instrument's second bid, while the host is busy
				h.expect("<NAK>")
				h.step(link.Contention, link.EvENQBusy)
				h.fireAt(20 * time.Second)
				h.expect("<ENQ>")
			}
			h.write("<ACK>")
			h.expect("<STX>1L|1|N<CR><ETX>04<CR><LF>")
			h.write("<ACK>")
			h.expect("<EOT>")
			if err := h.result(done); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestHoldRefusesENQWhenBusy(t *testing.T) {
	h := start(t, link.Instrument, nil)
	done := h.send(context.Background(), frame.Split(domainRecords, frame.RecordPerMessage, 0))
	h.expect("<ENQ>")
	h.write("<ACK>")
	h.expect(domainFrames[0])
	h.write("<EOT>")
	h.expect("<EOT>")
	h.result(done)
	h.busy.Store(true)
	h.write("<ENQ>")
	h.expect("<NAK>")
	h.step(link.Hold, link.EvENQBusy)
	h.pending(15 * time.Second)
}

func TestENQDuringReceiveWhenBusy(t *testing.T) {
	h := start(t, link.Host, nil)
	h.write("<ENQ>")
	h.expect("<ACK>")
	h.write(domainFrames[0])
	h.expect("<ACK>")
	h.frame()
	h.busy.Store(true)
	h.write("<ENQ>")
	h.expect("<NAK>")
	if err := h.end(); !errors.Is(err, link.ErrRestarted) {
		t.Fatalf("End(%v)", err)
	}
	h.step(link.Receiving, link.EvENQBusy)
	h.pending()
}

// After a reply timeout the sender holds the line for the reply timer
// before its next ENQ, so that a reply the receiver sends late — to the
// frame the sender gave up on — arrives while nothing is waiting for one,
// and is ignored. Without the hold the late ACK would be read as the answer
// to the next ENQ, and every later reply would answer the frame before the
// one it seems to: the sender could take its last frame for acknowledged
// when the receiver had refused it.
func TestNoReplyHoldsTheLineSoALateReplyIsNotMisread(t *testing.T) {
	h := start(t, link.Instrument, nil)
	frames := frame.Split(domainRecords, frame.RecordPerMessage, 0)
	done := h.send(context.Background(), frames)
	h.expect("<ENQ>")
	h.write("<ACK>")
	for i := 0; i < 4; i++ {
		h.expect(domainFrames[i])
		h.write("<ACK>")
	}
	h.expect(domainFrames[4])
	for i := 0; i < 4; i++ {
		h.step(link.Sending, link.EvACK) // the last one armed the reply timer for frame 5
	}
	h.fireAt(15 * time.Second) // the receiver is slow to answer the last frame
	h.expect("<EOT>")
	if err := h.result(done); !errors.Is(err, link.ErrNoReply) {
		t.Fatalf("Send = %v, want ErrNoReply", err)
	}
	h.step(link.Sending, link.EvTimeout)
	h.pending(15 * time.Second)

	again := h.send(context.Background(), frames) // the sender tries again at once
	h.write("<ACK>")                              // the receiver's late answer to frame 5
	h.step(link.Hold, link.EvACK)                 // ignored: no ENQ has gone out
	h.fireAt(15 * time.Second)
	h.expect("<ENQ>")
	h.write("<ACK>")
	for i := 0; i < 5; i++ {
		h.expect(domainFrames[i])
		h.write("<ACK>")
	}
	h.expect("<EOT>")
	if err := h.result(again); err != nil {
		t.Fatal(err)
	}
}

// A receiver whose upper layer took longer than the sender's reply timer
// to take a frame (a disk that stalled while storing the message) does not
// answer it: the sender has given up by then, and a late answer could be
// misread by a sender that does not hold the line as the previous test's
// does. Withholding is safe — the sender sends the message again — while a
// slow answer within the timer is sent.
func TestLateReplyWithheld(t *testing.T) {
	for _, tc := range []struct {
		took     time.Duration
		withheld bool
	}{
		{14 * time.Second, false},
		{15 * time.Second, true},
		{time.Minute, true},
	} {
		t.Run(tc.took.String(), func(t *testing.T) {
			h := start(t, link.Host, nil)
			in, release := make(chan struct{}, 1), make(chan struct{})
			h.sink.refuse = func(f frame.Frame) error {
				if f.Number == 5 {
					in <- struct{}{}
					<-release
				}
				return nil
			}
			h.write("<ENQ>")
			h.expect("<ACK>")
			for i := 0; i < 4; i++ {
				h.write(domainFrames[i])
				h.expect("<ACK>")
			}
			h.write(domainFrames[4])
			<-in
			// The timer that matters is the sender's; the receiver's own
			// 30 s receive timer must not fire while the handler runs.
			if n := h.clk.Advance(tc.took); n != 0 && tc.took < 30*time.Second {
				t.Fatalf("%d timers fired", n)
			}
			close(release)
			if !tc.withheld {
				h.expect("<ACK>")
			}
			var s link.Step
			for i := 0; i < 5; i++ {
				s = h.step(link.Receiving, link.EvFrame)
			}
			if got := strings.Contains(s.Detail, "reply withheld"); got != tc.withheld {
				t.Fatalf("step %v: withheld %v, want %v", s, got, tc.withheld)
			}
			h.write("<EOT>")
			if err := h.end(); err != nil {
				t.Fatal(err)
			}
			// The sender tries again; the first byte it reads is the answer
			// to its ENQ.
			h.write("<ENQ>")
			h.expect("<ACK>")
		})
	}
}

// tickClock is a fake clock whose reading moves on a nanosecond at every
// Now, so that a token read before a send is stamped earlier than the send,
// as on a real clock.
type tickClock struct{ *clock.Fake }

func (c tickClock) Now() time.Time {
	c.Advance(time.Nanosecond)
	return c.Fake.Now()
}

// Two answers in one read, the second an extra one (line noise that looked
// like ACK, or the answer to an ENQ of noise): the first answers frame 1;
// the second was read before frame 2 went out, so it cannot answer frame 2
// and is ignored — frame 2 waits for its own answer, here a NAK. A link
// that took it would send frame 3 while the receiver was still on frame 2,
// and from then on take each answer for the frame after the one it
// answers: a last frame the receiver refused would count as delivered.
// The same holds at the next ENQ, after the last frame's answer came twice.
func TestStaleReplyIgnored(t *testing.T) {
	var clk tickClock
	h := start(t, link.Instrument, func(c *link.Config) {
		clk = tickClock{clock.NewFake(time.Date(2024, 6, 12, 10, 30, 0, 0, time.UTC))}
		c.Clock = clk
	})
	frames := frame.Split(domainRecords, frame.RecordPerMessage, 0)
	done := h.send(context.Background(), frames)
	h.expect("<ENQ>")
	h.write("<ACK>")
	h.expect(domainFrames[0])
	h.write("<ACK><ACK>")
	h.expect(domainFrames[1])
	if s := h.step(link.Sending, link.EvStale); !strings.Contains(s.Detail, "before our last send") {
		t.Fatalf("step %v", s)
	}
	h.write("<NAK>")
	h.expect(domainFrames[1]) // sent again: the stale ACK did not count
	for i := 2; i < 5; i++ {
		h.write("<ACK>")
		h.expect(domainFrames[i])
	}
	next := h.send(context.Background(), frames) // waits behind the first
	h.step(link.Sending, link.EvSend)
	h.write("<ACK><ACK>") // the last frame's answer, twice
	h.expect("<EOT>")
	if err := h.result(done); err != nil {
		t.Fatal(err)
	}
	h.expect("<ENQ>")
	h.step(link.Establishing, link.EvStale)
	h.write("<ACK>")
	for i := 0; i < 5; i++ {
		h.expect(domainFrames[i])
		h.write("<ACK>")
	}
	h.expect("<EOT>")
	if err := h.result(next); err != nil {
		t.Fatal(err)
	}
}

// An ENQ while receiving, before frame 1 and soon after the ACK to the
// last one, is not a restart: the sender has our ACK already (the first ENQ
// was line noise just before its own, or the same ENQ twice), and a second
// ACK would be taken as the answer to frame 1. It gets no answer, and frame
// 1 is received as usual. One sent after a NAK's busy wait is a restart.
func TestENQBeforeFirstFrameIsNoise(t *testing.T) {
	h := start(t, link.Host, nil)
	h.write("<ENQ>")
	h.expect("<ACK>")
	h.write("<ENQ>")
	h.step(link.Receiving, link.EvENQNoise)
	h.pending(30 * time.Second)
	h.write(domainFrames[0])
	h.expect("<ACK>") // the answer to frame 1, not to the ENQ
	if f := h.frame(); f.Number != 1 {
		t.Fatalf("frame %+v", f)
	}
	h.write("<EOT>")
	h.end()

	// A sender that read our ACK as something else waits the busy timer
	// and asks again: that is answered.
	h.write("<ENQ>")
	h.expect("<ACK>")
	h.step(link.Idle, link.EvENQ)
	if n := h.clk.Advance(10 * time.Second); n != 0 {
		t.Fatalf("%d timers fired", n)
	}
	h.write("<ENQ>")
	h.expect("<ACK>")
	h.step(link.Receiving, link.EvENQ)
}
