package hl7

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
	"github.com/exhibit-forensics/exhibit/lab/hl7/mllp"
)

// bodyRec keeps what Reject could read of each body, and what the spool
// directory held meanwhile.
type bodyRec struct {
	rec
	spool  string
	mu     sync.Mutex
	bodies [][]byte
	files  []int
}

func (b *bodyRec) Reject(ctx context.Context, rj *Rejected) error {
	body, err := io.ReadAll(rj.Body())
	if err != nil {
		return err
	}
	n := -1
	if b.spool != "" {
		ents, _ := os.ReadDir(b.spool)
		n = len(ents)
	}
	b.mu.Lock()
	b.bodies = append(b.bodies, body)
	b.files = append(b.files, n)
	b.mu.Unlock()
	return b.rec.Reject(ctx, rj)
}

// harness runs a Server on a fake clock and lets a test wait until the
// server has dealt with what it was sent.
type harness struct {
	t       *testing.T
	clk     *clock.Fake
	s       *Server
	c       net.Conn
	steps   chan int64
	done    chan error
	written int64
}

func startHarness(t *testing.T, h Handler, tune func(*Server)) *harness {
	t.Helper()
	clk := clock.NewFake(time.Date(2024, 6, 12, 10, 0, 0, 0, time.UTC))
	s := &Server{Handler: h, App: "EXHIBIT", Facility: "LAB", Logger: quiet, Clock: clk}
	if tune != nil {
		tune(s)
	}
	hs := &harness{t: t, clk: clk, s: s, steps: make(chan int64, 1<<16), done: make(chan error, 1)}
	s.step = func(fed int64) {
		select {
		case hs.steps <- fed:
		default:
		}
	}
	a, b := net.Pipe()
	hs.c = b
	ctx, cancel := context.WithCancel(context.Background())
	go func() { hs.done <- s.ServeConn(ctx, a) }()
	t.Cleanup(func() { cancel(); b.Close(); <-hs.done })
	return hs
}

// write sends bytes and waits until the server has taken them in and
// set its timers.
func (h *harness) write(b []byte) {
	h.t.Helper()
	werr := make(chan error, 1)
	go func() { _, err := h.c.Write(b); werr <- err }()
	h.written += int64(len(b))
	deadline := time.After(guard)
	for wrote := false; ; {
		select {
		case err := <-werr:
			if err != nil {
				h.t.Fatal(err)
			}
			wrote = true
		case fed := <-h.steps:
			if wrote && fed >= h.written {
				return
			}
			if fed >= h.written {
				<-werr
				return
			}
		case <-deadline:
			h.t.Fatal("the server does not read")
		}
	}
}

// until waits, step by step, for cond.
func (h *harness) until(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.After(guard)
	for !cond() {
		select {
		case <-h.steps:
		case <-deadline:
			h.t.Fatalf("waiting for %s", what)
		}
	}
}

// acks reads n acknowledgements.
func (h *harness) acks(n int) []*Ack {
	h.t.Helper()
	h.c.SetReadDeadline(time.Now().Add(guard))
	defer h.c.SetReadDeadline(time.Time{})
	r := mllp.NewReader(h.c, mllp.Standard, 0)
	var out []*Ack
	for len(out) < n {
		raw, err := r.ReadMessage()
		if err != nil {
			h.t.Fatalf("reading ack %d: %v", len(out)+1, err)
		}
		m, err := Parse(raw, Options{})
		if err != nil {
			h.t.Fatal(err)
		}
		a, err := ParseAck(m)
		if err != nil {
			h.t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

// sendMsg frames a message and sends it from another goroutine, since
// the server writes the acknowledgement before reading on.
func (h *harness) sendMsg(m []byte) {
	h.t.Helper()
	framed, err := mllp.Append(nil, m, mllp.Standard)
	if err != nil {
		h.t.Fatal(err)
	}
	h.written += int64(len(framed))
	go h.c.Write(framed)
}

func (h *harness) pending(want ...time.Duration) {
	h.t.Helper()
	h.until("timers "+fmtDurations(want), func() bool { return fmtDurations(h.clk.Pending()) == fmtDurations(want) })
}

func fmtDurations(d []time.Duration) string {
	var b bytes.Buffer
	for _, x := range d {
		b.WriteString(x.String() + " ")
	}
	return b.String()
}

var goodMsg = msg("MSH|^~\\&|ANALYSER|LAB|||20240612||ORU^R01|OK1|P|2.5.1", "OBR|1|S||GHB", "OBX|1|NM|GHB||1")

// TestJunkFloodIsOneBurst: 5 MB of random bytes on the port are one
// quarantined blob, not thousands (issue 8, item 6): the burst runs to the
// end of the connection, keeps its first JunkMax bytes, and accounts for
// every byte with its size and digest.
func TestJunkFloodIsOneBurst(t *testing.T) {
	r := &bodyRec{}
	h := startHarness(t, r, nil)
	flood := make([]byte, 5<<20)
	rng := rand.NewChaCha8([32]byte{1, 2, 3})
	rng.Read(flood)
	for i := 0; i < len(flood); i += 64 << 10 {
		h.write(flood[i:min(i+64<<10, len(flood))])
	}
	h.c.Close()
	if err := <-h.done; err != nil {
		t.Fatalf("ServeConn = %v", err)
	}
	h.done <- nil // for the cleanup
	_, rej := r.snapshot()
	var size int64
	for _, rj := range rej {
		size += rj.Reason.(interface{ total() int64 }).total()
	}
	if len(rej) > 2 || size != int64(len(flood)) {
		t.Fatalf("%d quarantined, accounting for %d of %d bytes", len(rej), size, len(flood))
	}
	var je *JunkError
	if !errors.As(rej[len(rej)-1].Reason, &je) || je.Kept != DefaultJunkMax || len(rej[len(rej)-1].Raw) != DefaultJunkMax {
		t.Fatalf("last reason %v", rej[len(rej)-1].Reason)
	}
	if len(rej) == 1 && (je.Sum != chain.Hash(sha256.Sum256(flood)) || !bytes.Equal(rej[0].Raw, flood[:DefaultJunkMax])) {
		t.Errorf("the burst is not the flood's first bytes and digest")
	}
	t.Logf("%d quarantined: %v", len(rej), rej[0].Reason)
}

func (e *JunkError) total() int64  { return e.Size }
func (e *FrameError) total() int64 { return e.Size }

// TestBurstEnds: a burst ends where a message frame begins, and after a
// quiet period on the clock; each is one blob of the bytes as received.
func TestBurstEnds(t *testing.T) {
	r := &bodyRec{}
	h := startHarness(t, r, nil)
	h.write([]byte("GET / HTTP/1.1\r\n\r\n"))
	h.pending(DefaultJunkQuiet)
	h.write([]byte("\x0bnot a message\x1c\r"))
	h.sendMsg(goodMsg)
	if a := h.acks(1); a[0].Code != AA {
		t.Fatalf("ack %+v", a[0])
	}
	h.write([]byte("\x16\x16\x16"))
	h.pending(DefaultJunkQuiet)
	h.clk.Advance(DefaultJunkQuiet - time.Nanosecond)
	h.until("no early quarantine", func() bool { _, rej := r.snapshot(); return len(rej) == 1 })
	h.clk.Advance(time.Nanosecond)
	h.until("the quiet period to end the burst", func() bool { _, rej := r.snapshot(); return len(rej) == 2 })
	h.pending()
	_, rej := r.snapshot()
	if string(rej[0].Raw) != "GET / HTTP/1.1\r\n\r\n\x0bnot a message\x1c\r" || string(rej[1].Raw) != "\x16\x16\x16" {
		t.Fatalf("bursts %q %q", rej[0].Raw, rej[1].Raw)
	}
	for i, ended := range []string{"a message frame", "2s without a byte"} {
		var je *JunkError
		if !errors.As(rej[i].Reason, &je) || je.Ended != ended || je.Sum != chain.Sum(rej[i].Raw) {
			t.Errorf("burst %d: %v", i, rej[i].Reason)
		}
	}
}

// TestOverSizeIsSpooled: a message over MaxSize is read to the end of its
// frame into a spool file, handed to Reject as a streamed body, answered
// AR with the size limit, and the spool is removed after.
func TestOverSizeIsSpooled(t *testing.T) {
	dir := t.TempDir()
	r := &bodyRec{spool: dir}
	h := startHarness(t, r, func(s *Server) { s.MaxSize, s.Spool = 1024, dir })
	big := msg("MSH|^~\\&|ANALYSER|LAB|||20240612||ORU^R01|BIG1|P|2.5.1", "OBR|1|S||GHB", "NTE|1||"+string(bytes.Repeat([]byte("0123456789"), 1000)))
	h.sendMsg(big)
	a := h.acks(1)[0]
	e := a.Message.Find("ERR")
	if a.Code != AR || a.ControlID != "BIG1" || len(e) != 1 || e[0].Field(3).Component(1) != "207" || !bytes.Contains([]byte(e[0].Text(8)), []byte("over the size limit of 1024 bytes")) {
		t.Fatalf("ack %s %q %+v", a.Code, a.Text, e)
	}
	h.sendMsg(goodMsg)
	if a := h.acks(1)[0]; a.Code != AA {
		t.Fatalf("ack after: %+v", a)
	}
	_, rej := r.snapshot()
	if len(rej) != 1 || rej[0].Raw != nil || rej[0].Size != int64(len(big)) || rej[0].ID != chain.Sum(big) ||
		!errors.Is(rej[0].Reason, mllp.ErrTooLarge) || !bytes.Equal(r.bodies[0], big) || r.files[0] != 1 {
		t.Fatalf("rejected %+v (spool files during Reject: %v)", rej, r.files)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("spool left behind: %v", ents)
	}
}

// TestSpoolMax: past SpoolMax the bytes of a frame are counted and
// hashed, not kept.
func TestSpoolMax(t *testing.T) {
	dir := t.TempDir()
	r := &bodyRec{spool: dir}
	h := startHarness(t, r, func(s *Server) { s.MaxSize, s.Spool, s.SpoolMax = 100, dir, 1000 })
	big := msg("MSH|^~\\&|ANALYSER|LAB|||20240612||ORU^R01|BIG2|P|2.5.1", "NTE|1||"+string(bytes.Repeat([]byte("x"), 5000)))
	h.sendMsg(big)
	if a := h.acks(1)[0]; a.Code != AR {
		t.Fatalf("ack %+v", a)
	}
	_, rej := r.snapshot()
	var fe *FrameError
	if !errors.As(rej[0].Reason, &fe) || fe.Size != int64(len(big)) || fe.Kept != 1000 || fe.Sum != chain.Sum(big) ||
		!bytes.Equal(r.bodies[0], big[:1000]) || rej[0].ID != chain.Sum(big[:1000]) {
		t.Fatalf("rejected %v", rej[0].Reason)
	}
}

// TestSlowSender: a message frame must be complete within MessageTimeout
// of its start byte; a sender dribbling it is cut off there, the partial
// quarantined with the reason, and the rest read as junk.
func TestSlowSender(t *testing.T) {
	r := &bodyRec{}
	h := startHarness(t, r, nil)
	h.write([]byte("\x0bMSH|^~\\&|ANALYSER|LAB"))
	h.pending(DefaultMessageTimeout)
	for i := 0; i < 30; i++ {
		h.clk.Advance(time.Second)
		h.write([]byte("|"))
	}
	h.pending(DefaultMessageTimeout - 30*time.Second)
	h.clk.Advance(DefaultMessageTimeout - 30*time.Second - time.Nanosecond)
	if _, rej := r.snapshot(); len(rej) != 0 {
		t.Fatal("quarantined early")
	}
	h.clk.Advance(time.Nanosecond)
	h.until("the partial message to be quarantined", func() bool { _, rej := r.snapshot(); return len(rej) == 1 })
	h.write([]byte("20240612||ORU^R01|SLOW|P|2.5.1\r\x1c\r"))
	h.sendMsg(goodMsg)
	if a := h.acks(1)[0]; a.Code != AA || a.ControlID != "OK1" {
		t.Fatalf("ack %+v", a)
	}
	_, rej := r.snapshot()
	if len(rej) != 2 || !errors.Is(rej[0].Reason, ErrSlow) || string(rej[0].Raw) != "MSH|^~\\&|ANALYSER|LAB"+string(bytes.Repeat([]byte("|"), 30)) {
		t.Fatalf("rejected %v %q", rej[0].Reason, rej[0].Raw)
	}
	if !errors.Is(rej[1].Reason, mllp.ErrJunk) || string(rej[1].Raw) != "20240612||ORU^R01|SLOW|P|2.5.1\r\x1c\r" {
		t.Fatalf("rest %v %q", rej[1].Reason, rej[1].Raw)
	}
}

// intakeCases are streams for FuzzIntake's seed corpus.
var intakeCases = []string{
	"\x0bMSH|^~\\&|A\r\x1c\r",
	"GET / HTTP/1.1\r\n\r\n\x0bMSH|^~\\&|A\r\x1c\r",
	"\x0bnot a message\x1c\r\x0bMSH|x\x1c\rjunk",
	"\x0bMSH|cut\x0bMSH|again\x1c\r",
	"\x0bMSH|bad end\x1cX\x0bBHS|^~\\&\x1c\r",
	"\x0b\r\n\r\nMSH|lead\x1c\r\x0b\r\r\r\r\r\r\r\r\r\rMSH|too much lead\x1c\r",
	"\x0bMSH|" + strings.Repeat("x", 200) + "\x1c\r",
	"\x0bFHS|^~\\&\rBHS|^~\\&\rBTS|0\rFTS|1\x1c\r\x0bMS",
}

func TestWriteCorpusIntake(t *testing.T) {
	var entries [][]any
	for i, c := range intakeCases {
		entries = append(entries, []any{[]byte(c), i + 1})
	}
	fuzzseed.Write(t, "FuzzIntake", entries)
}

// FuzzIntake: the intake never panics, finds the same messages and
// quarantines the same bytes however the stream is chunked, and accounts
// for every byte outside message frames in a burst or a frame error.
func FuzzIntake(f *testing.F) {
	for i, c := range intakeCases {
		f.Add([]byte(c), i+1)
	}
	f.Fuzz(func(t *testing.T, in []byte, chunk int) {
		at := time.Date(2024, 6, 12, 0, 0, 0, 0, time.UTC)
		run := func(step int) string {
			dir := t.TempDir()
			it := newIntake(mllp.Standard, 64, 32, 128, dir, time.Minute)
			var units []unit
			for i := 0; i < len(in); i += step {
				units = append(units, it.feed(in[i:min(i+step, len(in))], at)...)
			}
			units = append(units, it.end("end", at)...)
			var b strings.Builder
			for _, u := range units {
				if u.msg != nil {
					fmt.Fprintf(&b, "msg %q\n", u.msg)
					continue
				}
				body, _ := io.ReadAll(u.rej.Body())
				if int64(len(body)) != u.rej.Size || chain.Sum(body) != u.rej.ID {
					t.Fatalf("body of %d bytes, Size %d, or ID does not match", len(body), u.rej.Size)
				}
				fmt.Fprintf(&b, "rej %T %q\n", u.rej.Reason, body)
				u.release()
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Fatalf("spool files left: %d", len(ents))
			}
			return b.String()
		}
		step := int(uint(chunk)%7) + 1
		if whole, parts := run(len(in)+1), run(step); whole != parts {
			t.Fatalf("chunks of %d change the result:\n%s\nvs\n%s", step, whole, parts)
		}
	})
}

// TestOverSizeCutIsNotAnswered: an over-size frame cut short by a new
// start byte is quarantined from its spool and not answered (its sender
// never finished it).
func TestOverSizeCutIsNotAnswered(t *testing.T) {
	dir := t.TempDir()
	r := &bodyRec{spool: dir}
	h := startHarness(t, r, func(s *Server) { s.MaxSize, s.Spool = 100, dir })
	part := "MSH|^~\\&|ANALYSER|LAB|||20240612||ORU^R01|CUT1|P|2.5.1\rNTE|1||" + strings.Repeat("y", 500)
	h.write([]byte("\x0b" + part))
	h.sendMsg(goodMsg)
	if a := h.acks(1)[0]; a.Code != AA || a.ControlID != "OK1" {
		t.Fatalf("first reply %s %s", a.Code, a.ControlID)
	}
	_, rej := r.snapshot()
	if len(rej) != 1 || !errors.Is(rej[0].Reason, mllp.ErrTruncated) || string(r.bodies[0]) != part || r.files[0] != 1 {
		t.Fatalf("rejected %+v", rej)
	}
}
