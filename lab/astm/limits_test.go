package astm

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"

	"github.com/exhibit-forensics/exhibit/lab/astm/frame"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
)

// skipFrameSteps keeps a long transfer's accepted frames out of the trace,
// so that the harness's step channel does not fill up.
func skipFrameSteps(c *Config) {
	next := c.Trace
	c.Trace = func(s link.Step) {
		if s.Event != link.EvFrame {
			next(s)
		}
	}
}

// frameBytes encodes one frame under the standard options, numbered n mod 8.
func frameBytes(t testing.TB, n int, text string, last bool) []byte {
	t.Helper()
	b, err := frame.Append(nil, frame.Frame{Number: n % 8, Text: []byte(text), Last: last}, frame.Options{MaxText: frame.MaxTextLIS1A})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// One record spread over many ETB frames costs memory in proportion to its
// size: it used to be copied whole at every frame (quadratic: about 1.4 GB
// allocated for this 720 kB record).
func TestLongRecordOverManyFramesIsLinear(t *testing.T) {
	h := startHost(t, skipFrameSteps)
	h.w("<ENQ>")
	h.x("<ACK>")
	const chunks = 3000
	chunk := strings.Repeat("x", 240)
	frames := [][]byte{frameBytes(t, 1, "H|\\^&\r", true), frameBytes(t, 2, "C|1|I|", false)}
	for i := 0; i < chunks; i++ {
		frames = append(frames, frameBytes(t, 3+i, chunk, false))
	}
	frames = append(frames, frameBytes(t, 3+chunks, "|G\r", true), frameBytes(t, 4+chunks, "L|1|N\r", true))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i, f := range frames {
		h.raw(f)
		if i == len(frames)-1 {
			h.event("accept")
		}
		h.x("<ACK>")
	}
	runtime.ReadMemStats(&after)
	h.w("<EOT>")
	size := chunks * len(chunk)
	if got := after.TotalAlloc - before.TotalAlloc; got > uint64(40*size) {
		t.Fatalf("a %d-byte record over %d frames allocated %d bytes (%.0f× its size)", size, chunks, got, float64(got)/float64(size))
	}
	acc, _ := h.rec.snapshot()
	if len(acc) != 1 || len(acc[0].Parsed.Comments) != 1 || len(acc[0].Parsed.Comments[0].Text.Text()) != size {
		t.Fatalf("accepted %d", len(acc))
	}
}

// A transfer of ETX frames that never sends its L record is refused once
// it passes the dialect's max-message (4 MiB by default): the frame that
// crosses it is answered NAK, and so are its retransmissions.
func TestNeverEndingMessageRefusedAtLimit(t *testing.T) {
	h := startHost(t, skipFrameSteps)
	h.w("<ENQ>")
	h.x("<ACK>")
	h.raw(frameBytes(t, 1, "H|\\^&\r", true))
	h.x("<ACK>")
	rec := "R|1|^^^GHB|" + strings.Repeat("4", 200) + "|mg/L\r" // 217 bytes
	const limit = 4 << 20
	total := len("H|\\^&\r")
	n := 2
	for ; total+len(rec) <= limit; n++ {
		h.raw(frameBytes(t, n, rec, true))
		h.x("<ACK>")
		total += len(rec)
	}
	crossing := frameBytes(t, n, rec, true)
	for i := 0; i < 6; i++ {
		h.raw(crossing)
		if i == 0 {
			h.event("reject")
		}
		h.x("<NAK>")
	}
	h.w("<EOT>")
	h.waitStep(link.Receiving, link.EvEOT)
	_, rej := h.rec.snapshot()
	if len(rej) != 1 || !errors.Is(rej[0].Reason, ErrTooLarge) || rej[0].Size <= limit {
		t.Fatalf("%d rejections, want 1 over the limit", len(rej))
	}
}

// bodyReader is a Handler whose Reject reads the body while it may (during
// the call) and notes the spool files present then.
type bodyReader struct {
	*recorder
	dir    string
	mu     sync.Mutex
	bodies [][]byte
	spools []int
	errs   []error
}

func (b *bodyReader) Reject(ctx context.Context, rj *Rejected) error {
	body, err := io.ReadAll(rj.Body())
	ents, _ := os.ReadDir(b.dir)
	b.mu.Lock()
	b.bodies, b.spools, b.errs = append(b.bodies, body), append(b.spools, len(ents)), append(b.errs, err)
	b.mu.Unlock()
	return b.recorder.Reject(ctx, rj)
}

func (b *bodyReader) files(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir(b.dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// overLimitHost is a host whose dialect takes messages of at most 4 kB,
// spooling to a directory of its own.
func overLimitHost(t *testing.T) (*host, *bodyReader) {
	br := &bodyReader{recorder: newRecorder(), dir: t.TempDir()}
	h := startHost(t, func(c *Config) {
		d := Standard()
		d.MaxMessage = 4096
		c.Dialect, c.Spool, c.Handler = d, br.dir, br
		skipFrameSteps(c)
	})
	h.rec = br.recorder
	return h, br
}

// fillTo sends H and then ETX frames of one R record each for as long as
// the message stays within limit, and returns the records sent and the
// number of the next frame.
func fillTo(h *host, limit int, rec string) (string, int) {
	h.t.Helper()
	sent := "H|\\^&\r"
	h.raw(frameBytes(h.t, 1, sent, true))
	h.x("<ACK>")
	n := 2
	for ; len(sent)+len(rec) <= limit; n++ {
		h.raw(frameBytes(h.t, n, rec, true))
		h.x("<ACK>")
		sent += rec
	}
	return sent, n
}

// Input over max-message goes to a spool file, is handed to Reject from
// there (Raw nil, Size and Body set), and the file is removed after; the
// frame that crossed the limit and its retransmissions are refused, and
// the next transfer starts clean.
func TestOverLimitQuarantinedFromSpool(t *testing.T) {
	h, br := overLimitHost(t)
	h.w("<ENQ>")
	h.x("<ACK>")
	rec := "R|1|^^^GHB|42.0|mg/L|0-10|H||F\r"
	sent, n := fillTo(h, 4096, rec)
	crossing := frameBytes(t, n, rec+"R|2|^^^BENZ|<0.5\r", true)
	h.raw(crossing)
	h.event("reject")
	h.x("<NAK>")
	for i := 0; i < 5; i++ { // the instrument tries again: refused without another quarantine
		h.raw(crossing)
		h.x("<NAK>")
	}
	h.w("<EOT>")
	h.waitStep(link.Receiving, link.EvEOT)

	_, rej := h.rec.snapshot()
	if len(rej) != 1 {
		t.Fatalf("%d rejections, want 1", len(rej))
	}
	want := sent + rec + "R|2|^^^BENZ|<0.5\r"
	rj := rej[0]
	if !errors.Is(rj.Reason, ErrTooLarge) || errors.Is(rj.Reason, ErrNoHeader) {
		t.Fatalf("reason %v", rj.Reason)
	}
	if rj.Raw != nil || rj.Size != int64(len(want)) || rj.ID != chain.Sum([]byte(want)) {
		t.Fatalf("raw %d bytes, size %d (want %d), id %v", len(rj.Raw), rj.Size, len(want), rj.ID)
	}
	if br.errs[0] != nil || string(br.bodies[0]) != want {
		t.Fatalf("body read during Reject: %v, %d bytes, want %d", br.errs[0], len(br.bodies[0]), len(want))
	}
	if br.spools[0] != 1 || br.files(t) != 0 {
		t.Fatalf("spool files: %d during Reject, %d after (want 1, 0)", br.spools[0], br.files(t))
	}
	if _, err := io.ReadAll(rj.Body()); err == nil {
		t.Fatal("the body of a spooled rejection is still readable after Reject returned")
	}
	if got := h.c.asm.held(); got != 0 {
		t.Fatalf("the connection still holds %d bytes of the refused input", got)
	}

	// The next transfer is not refused.
	h.w("<ENQ>")
	h.x("<ACK>")
	for i, f := range domainSession {
		h.w(f)
		if i == len(domainSession)-1 {
			h.event("accept")
		}
		h.x("<ACK>")
	}
	h.w("<EOT>")
}

// When the quarantine of spooled input fails, the frame is refused, the
// spool is kept, and the quarantine is tried again with the retransmission;
// if it still fails at the end of the transfer the spool file stays on disk.
func TestOverLimitQuarantineRetried(t *testing.T) {
	h, br := overLimitHost(t)
	br.failReject = 1
	h.w("<ENQ>")
	h.x("<ACK>")
	rec := "R|1|^^^GHB|42.0|mg/L|0-10|H||F\r"
	_, n := fillTo(h, 4096, rec)
	crossing := frameBytes(t, n, rec, true)
	h.raw(crossing)
	h.event("reject-failed")
	h.x("<NAK>")
	if br.files(t) != 1 {
		t.Fatalf("%d spool files after a failed quarantine, want 1", br.files(t))
	}
	h.raw(crossing)
	h.event("reject")
	h.x("<NAK>")
	if br.files(t) != 0 {
		t.Fatalf("%d spool files after the quarantine, want 0", br.files(t))
	}
	h.w("<EOT>")
	h.waitStep(link.Receiving, link.EvEOT)

	// A quarantine that never succeeds leaves the spool file on disk.
	br.failReject = 2
	h.w("<ENQ>")
	h.x("<ACK>")
	_, n = fillTo(h, 4096, rec)
	h.raw(frameBytes(t, n, rec, true))
	h.event("reject-failed")
	h.x("<NAK>")
	h.w("<EOT>")
	h.event("reject-failed")
	h.waitStep(link.Receiving, link.EvEOT)
	if br.files(t) != 1 {
		t.Fatalf("%d spool files after the quarantine failed for good, want 1 (kept)", br.files(t))
	}
	if _, rej := h.rec.snapshot(); len(rej) != 1 {
		t.Fatalf("%d rejections", len(rej))
	}
}

// Records outside any message count against the limit too, and one frame
// longer than the limit is refused at once.
func TestOverLimitJunkAndSingleFrame(t *testing.T) {
	h, br := overLimitHost(t)
	h.w("<ENQ>")
	h.x("<ACK>")
	junk := strings.Repeat("P|1|"+strings.Repeat("j", 90)+"\r", 40) // 3,800 bytes
	h.raw(frameBytes(t, 1, junk, true))
	h.x("<ACK>")
	h.raw(frameBytes(t, 2, junk, true))
	h.event("reject")
	h.x("<NAK>")
	h.w("<EOT>")
	h.waitStep(link.Receiving, link.EvEOT)
	_, rej := h.rec.snapshot()
	if len(rej) != 1 || !errors.Is(rej[0].Reason, ErrTooLarge) || !errors.Is(rej[0].Reason, ErrNoHeader) || string(br.bodies[0]) != junk+junk {
		t.Fatalf("rejections %d: %v", len(rej), rej[0].Reason)
	}

	h.w("<ENQ>")
	h.x("<ACK>")
	one := "H|\\^&\r" + strings.Repeat("C|1|I|"+strings.Repeat("c", 100)+"|G\r", 60) + "L|1|N\r"
	h.raw(frameBytes(t, 1, one, true))
	h.event("reject")
	h.x("<NAK>")
	h.w("<EOT>")
	h.waitStep(link.Receiving, link.EvEOT)
	acc, rej := h.rec.snapshot()
	if len(acc) != 0 || len(rej) != 2 || !errors.Is(rej[1].Reason, ErrTooLarge) || errors.Is(rej[1].Reason, ErrNoHeader) || string(br.bodies[1]) != one {
		t.Fatalf("accepted %d, rejected %d: %v", len(acc), len(rej), rej[1].Reason)
	}
}

// A message of exactly max-message bytes is accepted.
func TestMessageAtLimitAccepted(t *testing.T) {
	h, _ := overLimitHost(t)
	h.w("<ENQ>")
	h.x("<ACK>")
	head := "H|\\^&\r"
	tail := "L|1|N\r"
	fill := 4096 - len(head) - len(tail) - len("C|1|I||G\r")
	msg := head + "C|1|I|" + strings.Repeat("c", fill) + "|G\r" + tail
	if len(msg) != 4096 {
		t.Fatalf("message of %d bytes", len(msg))
	}
	h.raw(frameBytes(t, 1, msg, true))
	h.event("accept")
	h.x("<ACK>")
}

// Stray records already acknowledged are not lost when the frame that goes
// over the limit begins a message: they are spooled with it.
func TestOverLimitKeepsStrayRecordsBeforeH(t *testing.T) {
	h, br := overLimitHost(t)
	h.w("<ENQ>")
	h.x("<ACK>")
	h.raw(frameBytes(t, 1, "P|1||stray\r", true))
	h.x("<ACK>")
	big := "H|\\^&|" + strings.Repeat("c", 5000) + "\r" // an H record longer than the limit
	h.raw(frameBytes(t, 2, big, true))
	h.event("reject")
	h.x("<NAK>")
	h.w("<EOT>")
	h.waitStep(link.Receiving, link.EvEOT)
	_, rej := h.rec.snapshot()
	if len(rej) != 1 || string(br.bodies[0]) != "P|1||stray\r"+big || !errors.Is(rej[0].Reason, ErrTooLarge) || !errors.Is(rej[0].Reason, ErrNoHeader) {
		t.Fatalf("%d rejections; body %q…", len(rej), br.bodies[0][:min(40, len(br.bodies[0]))])
	}
}

// A spool directory that does not exist is refused when the Conn is made,
// not found out when the first message goes over the limit.
func TestSpoolDirChecked(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	missing := t.TempDir() + "/missing"
	if _, err := NewConn(a, Config{Role: link.Host, Dialect: Standard(), Handler: newRecorder(), Spool: missing}); err == nil {
		t.Fatal("NewConn accepted a spool directory that does not exist")
	}
	if _, err := NewConn(a, Config{Role: link.Host, Dialect: Standard(), Handler: newRecorder(), Spool: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
}
