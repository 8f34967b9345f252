package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/clock"
)

// t0 is where the tests' fake clocks (internal/clock) start.
var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// event is something a lineSessions session did.
type event struct {
	kind string // start, read, storing, acked, write-failed, end
	data string
	err  error
}

// lineSessions serve a toy protocol in which, as in ASTM and HL7, the
// instrument sends messages and this side acknowledges each: a message is a
// line, stored (the store hook, which may block like a slow capture) and
// then answered "ack <line>". Every session reports what it does, per
// remote address, so that a test can wait for a step instead of sleeping.
type lineSessions struct {
	mu     sync.Mutex
	events map[string]chan event
	// store, if set, is called for each line before it is acknowledged.
	store func(remote, line string)
}

func newLineSessions() *lineSessions { return &lineSessions{events: map[string]chan event{}} }

func (ls *lineSessions) of(remote string) chan event {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ch, ok := ls.events[remote]
	if !ok {
		ch = make(chan event, 1000)
		ls.events[remote] = ch
	}
	return ch
}

func (ls *lineSessions) serve(ctx context.Context, c Conn) error {
	remote := strings.TrimPrefix(c.String(), "tcp ")
	ev := ls.of(remote)
	ev <- event{kind: "start"}
	var line []byte
	buf := make([]byte, 64)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			ev <- event{kind: "read", data: string(buf[:n])}
		}
		for _, b := range buf[:n] {
			if b != '\n' {
				line = append(line, b)
				continue
			}
			if ls.store != nil {
				ev <- event{kind: "storing", data: string(line)}
				ls.store(remote, string(line))
			}
			if _, werr := c.Write([]byte("ack " + string(line) + "\n")); werr != nil {
				ev <- event{kind: "write-failed", data: string(line), err: werr}
				return werr
			}
			ev <- event{kind: "acked", data: string(line)}
			line = line[:0]
		}
		if err != nil {
			ev <- event{kind: "end", err: err}
			return err
		}
	}
}

// expect waits for the session of remote to report kind, passing over the
// reads in between (unless kind is "read"); any other event first fails the
// test.
func (ls *lineSessions) expect(t *testing.T, remote, kind string) event {
	t.Helper()
	ch := ls.of(remote)
	for {
		select {
		case e := <-ch:
			if e.kind == kind {
				return e
			}
			if e.kind != "read" {
				t.Fatalf("%s: session reported %s %q %v, want %s", remote, e.kind, e.data, e.err, kind)
			}
		case <-time.After(guard):
			t.Fatalf("%s: session did not report %s", remote, kind)
			return event{}
		}
	}
}

// evictServer starts a Server on a loopback port with a fake clock and
// lineSessions, and returns its address. The server stops at the end of
// the test.
func evictServer(t *testing.T, s *Server, ls *lineSessions) string {
	t.Helper()
	ready := make(chan net.Addr, 1)
	s.Addr = "127.0.0.1:0"
	s.Ready = func(a net.Addr) { ready <- a }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ls.serve) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(guard):
			t.Errorf("Run did not return after its context ended")
		}
	})
	select {
	case a := <-ready:
		return a.String()
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(guard):
		t.Fatal("server not ready")
	}
	return ""
}

// peer is the instrument's (or the intruder's) end of a connection.
type peer struct {
	net.Conn
	r    *bufio.Reader
	name string // the server's view of it: its local address
}

// connect dials addr and waits until the server runs a session for it.
func connect(t *testing.T, addr string, ls *lineSessions) *peer {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// A guard against a hang, not a timed assertion: nothing here waits
	// for it to expire.
	c.SetDeadline(time.Now().Add(guard))
	p := &peer{Conn: c, r: bufio.NewReader(c), name: c.LocalAddr().String()}
	ls.expect(t, p.name, "start")
	return p
}

// send sends a message and returns the reply line ("" if the connection
// ended instead).
func (p *peer) send(t *testing.T, msg string) string {
	t.Helper()
	if _, err := p.Write([]byte(msg + "\n")); err != nil {
		t.Fatalf("%s: write: %v", p.name, err)
	}
	return p.reply(t)
}

// reply reads one reply line; "" means the connection ended.
func (p *peer) reply(t *testing.T) string {
	t.Helper()
	line, err := p.r.ReadString('\n')
	if err != nil {
		if isEnd(err) {
			return ""
		}
		t.Fatalf("%s: read: %v", p.name, err)
	}
	return strings.TrimSuffix(line, "\n")
}

// ended reports whether this side closed the connection: the next read
// finds its end rather than data.
func (p *peer) ended(t *testing.T) bool {
	t.Helper()
	b, err := p.r.ReadByte()
	if err == nil {
		t.Fatalf("%s: read %q, want the connection's end", p.name, b)
	}
	if !isEnd(err) {
		t.Fatalf("%s: read: %v, want the connection's end", p.name, err)
	}
	return true
}

func isEnd(err error) bool { return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) }

// evictions returns, in order, the remote= of each eviction logged.
func evictions(log string) []string {
	var got []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "evicting the connection with the least recent progress") {
			got = append(got, attr(l, "remote")+" idle="+attr(l, "idle"))
		}
	}
	return got
}

// attr returns the value of key=value in a text log line.
func attr(line, key string) string {
	i := strings.Index(line, " "+key+"=")
	if i < 0 {
		return ""
	}
	v := line[i+len(key)+2:]
	if j := strings.IndexByte(v, ' '); j >= 0 {
		v = v[:j]
	}
	return v
}

// Finding 5 of issue 8: the default 16 slots, held by idle connections and
// connections that send a byte now and then without ever completing a
// message, locked the analyser out — it was refused. Now it gets in, each
// time by evicting the connection that has gone longest without this side
// writing to it; bytes read do not count, so a dribbler is evicted in turn
// although it sent a byte just before.
func TestServerNeverRefusesForIdleConnections(t *testing.T) {
	lg := newLogs()
	clk := clock.NewFake(t0)
	ls := newLineSessions()
	addr := evictServer(t, &Server{Logger: lg.logger(), Clock: newHeldWaits().on(clk)}, ls)

	// Sixteen intruders, accepted a second apart: even ones idle, odd ones
	// dribbling.
	var intruders []*peer
	for i := 0; i < DefaultMaxConns; i++ {
		intruders = append(intruders, connect(t, addr, ls))
		clk.Advance(time.Second)
	}
	// The dribblers send a byte each, and the server reads it.
	dribble := func() {
		for i := 1; i < len(intruders); i += 2 {
			if _, err := intruders[i].Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
			ls.expect(t, intruders[i].name, "read")
		}
	}
	clk.Advance(time.Minute)
	dribble()

	// The analyser connects: it is served, not refused.
	a := connect(t, addr, ls)
	if got := a.send(t, "R1"); got != "ack R1" {
		t.Fatalf("analyser got %q, want ack R1", got)
	}
	ls.expect(t, a.name, "acked")
	// The intruder accepted first (idle) made way.
	if !intruders[0].ended(t) {
		t.Fatal("unreachable")
	}
	ls.expect(t, intruders[0].name, "end")

	// More dribbling; then a second analyser: the next to go is the
	// dribbler accepted second, which has just sent a byte.
	clk.Advance(time.Minute)
	dribble()
	b := connect(t, addr, ls)
	if got := b.send(t, "R2"); got != "ack R2" {
		t.Fatalf("second analyser got %q, want ack R2", got)
	}
	intruders[1].ended(t)
	e := ls.expect(t, intruders[1].name, "end")
	if !errors.Is(e.err, io.EOF) {
		t.Fatalf("evicted session's read ended with %v, want io.EOF (as if the peer had closed)", e.err)
	}
	// The analysers are still served.
	if got := a.send(t, "R3"); got != "ack R3" {
		t.Fatalf("analyser got %q after the second eviction, want ack R3", got)
	}

	// Every eviction is logged with the peer's address and its idle time:
	// since its accept, as nothing was ever written to it.
	want := []string{intruders[0].name + " idle=1m16s", intruders[1].name + " idle=2m15s"}
	if got := evictions(lg.String()); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("evictions logged %q, want %q\n%s", got, want, lg.String())
	}
}

// The victim is the connection whose last write is oldest (or, if nothing
// was written to it, whose accept is), not the one accepted first nor the
// one that read least recently.
func TestServerEvictsLeastRecentProgress(t *testing.T) {
	lg := newLogs()
	clk := clock.NewFake(t0)
	ls := newLineSessions()
	addr := evictServer(t, &Server{MaxConns: 3, Logger: lg.logger(), Clock: newHeldWaits().on(clk)}, ls)

	a := connect(t, addr, ls) // accepted at 0 s, acknowledged at 5 s
	clk.Advance(time.Second)
	b := connect(t, addr, ls) // accepted at 1 s, idle
	clk.Advance(time.Second)
	c := connect(t, addr, ls) // accepted at 2 s, acknowledged at 3 s
	clk.Advance(time.Second)
	if got := c.send(t, "c1"); got != "ack c1" {
		t.Fatalf("c got %q", got)
	}
	ls.expect(t, c.name, "acked")
	clk.Advance(2 * time.Second)
	if got := a.send(t, "a1"); got != "ack a1" {
		t.Fatalf("a got %q", got)
	}
	ls.expect(t, a.name, "acked")
	// b sends half a message at 6 s: read, but never acknowledged.
	clk.Advance(time.Second)
	if _, err := b.Write([]byte("half")); err != nil {
		t.Fatal(err)
	}
	ls.expect(t, b.name, "read")

	clk.Advance(4 * time.Second) // 10 s
	d := connect(t, addr, ls)    // evicts b (progress at 1 s)
	b.ended(t)
	ls.expect(t, b.name, "end")
	clk.Advance(time.Second)
	e := connect(t, addr, ls) // evicts c (3 s)
	c.ended(t)
	ls.expect(t, c.name, "end")
	clk.Advance(time.Second)
	f := connect(t, addr, ls) // evicts a (5 s) before d (10 s) and e (11 s)
	a.ended(t)
	ls.expect(t, a.name, "end")
	for _, p := range []*peer{d, e, f} {
		if got := p.send(t, "m"); got != "ack m" {
			t.Fatalf("%s got %q", p.name, got)
		}
	}
	want := []string{b.name + " idle=9s", c.name + " idle=8s", a.name + " idle=7s"}
	if got := evictions(lg.String()); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("evictions logged %q, want %q\n%s", got, want, lg.String())
	}
}

// gate holds each capture of the lineSessions store hook until released.
type gate struct {
	mu      sync.Mutex
	release map[string]chan struct{}
}

func newGate() *gate { return &gate{release: map[string]chan struct{}{}} }

func (g *gate) ch(remote string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	ch, ok := g.release[remote]
	if !ok {
		ch = make(chan struct{})
		g.release[remote] = ch
	}
	return ch
}

func (g *gate) store(remote, line string) { <-g.ch(remote) }
func (g *gate) open(remote string)        { close(g.ch(remote)) }

// A connection evicted while its message is being stored is not cut: the
// new connection is served at once, the capture finishes, and its
// acknowledgement still reaches the instrument; only then does the
// connection end. The context of the evicted session is not cancelled
// (lab/hl7 closes the connection when it is).
func TestEvictionLetsAStoreFinish(t *testing.T) {
	lg := newLogs()
	clk := clock.NewFake(t0)
	ls := newLineSessions()
	g := newGate()
	ls.store = g.store
	w := newHeldWaits()
	addr := evictServer(t, &Server{MaxConns: 1, EvictGrace: 7 * time.Second, Logger: lg.logger(), Clock: w.on(clk)}, ls)

	a := connect(t, addr, ls)
	if _, err := a.Write([]byte("A1\n")); err != nil {
		t.Fatal(err)
	}
	ls.expect(t, a.name, "storing")
	clk.Advance(time.Hour)
	b := connect(t, addr, ls) // evicts a, in the middle of its capture
	// The grace timer starts (and is held: it never fires).
	if d := w.seen(t); d != 7*time.Second {
		t.Fatalf("grace wait %v, want 7s", d)
	}
	lg.waitFor(t, "evicting the connection")
	// b is served while a's capture is still running.
	if _, err := b.Write([]byte("B1\n")); err != nil {
		t.Fatal(err)
	}
	ls.expect(t, b.name, "storing")
	g.open(b.name)
	if got := b.reply(t); got != "ack B1" {
		t.Fatalf("b got %q", got)
	}
	// a's capture completes; its acknowledgement is written and arrives.
	g.open(a.name)
	ls.expect(t, a.name, "acked")
	if got := a.reply(t); got != "ack A1" {
		t.Fatalf("evicted a got %q, want its acknowledgement", got)
	}
	a.ended(t)
	if e := ls.expect(t, a.name, "end"); !errors.Is(e.err, io.EOF) {
		t.Fatalf("evicted session ended with %v, want io.EOF", e.err)
	}
	if strings.Contains(lg.String(), "did not finish in time") {
		t.Fatalf("grace expired:\n%s", lg.String())
	}
}

// An evicted session that does not return within EvictGrace has its
// connection closed under it: its acknowledgement, if it ever comes, fails
// to be written, so nothing is acknowledged late.
func TestEvictedConnectionClosedAfterGrace(t *testing.T) {
	lg := newLogs()
	clk := clock.NewFake(t0)
	ls := newLineSessions()
	g := newGate()
	ls.store = g.store
	w := newStepWaits()
	addr := evictServer(t, &Server{MaxConns: 1, Logger: lg.logger(), Clock: w.on(clk)}, ls)

	a := connect(t, addr, ls)
	if _, err := a.Write([]byte("A1\n")); err != nil {
		t.Fatal(err)
	}
	ls.expect(t, a.name, "storing")
	b := connect(t, addr, ls) // evicts a
	if d := w.next(t); d != DefaultEvictGrace {
		t.Fatalf("grace wait %v, want the default %v", d, DefaultEvictGrace)
	}
	// The wait has been taken: the grace is over, and a is closed.
	a.ended(t)
	lg.waitFor(t, "evicted connection did not finish in time; closing it")
	g.open(a.name)
	if e := ls.expect(t, a.name, "write-failed"); !errors.Is(e.err, net.ErrClosed) {
		t.Fatalf("late acknowledgement: %v, want net.ErrClosed", e.err)
	}
	g.open(b.name)
	if got := b.send(t, "B1"); got != "ack B1" {
		t.Fatalf("b got %q", got)
	}
}

// Evicted connections still finishing are at most MaxConns: one more and
// the first evicted is closed at once, so that connections arriving
// faster than evicted sessions finish cannot pile up.
func TestEvictedConnectionsAreBounded(t *testing.T) {
	lg := newLogs()
	clk := clock.NewFake(t0)
	ls := newLineSessions()
	g := newGate()
	ls.store = g.store
	w := newHeldWaits()
	addr := evictServer(t, &Server{MaxConns: 1, Logger: lg.logger(), Clock: w.on(clk)}, ls)

	stuck := func() *peer {
		p := connect(t, addr, ls)
		if _, err := p.Write([]byte("m\n")); err != nil {
			t.Fatal(err)
		}
		ls.expect(t, p.name, "storing")
		return p
	}
	a := stuck()
	b := stuck() // evicts a, which keeps finishing
	w.seen(t)
	c := connect(t, addr, ls) // evicts b; two finishing is one too many: a is closed
	w.seen(t)
	a.ended(t)
	lg.waitFor(t, "too many evicted connections still finishing")
	if l := lg.String(); attr(l[strings.Index(l, "too many evicted"):], "remote") != a.name {
		t.Fatalf("closed the wrong connection:\n%s", l)
	}
	// b, evicted later, still finishes and acknowledges.
	g.open(b.name)
	if got := b.reply(t); got != "ack m" {
		t.Fatalf("b got %q", got)
	}
	g.open(c.name)
	if got := c.send(t, "c1"); got != "ack c1" {
		t.Fatalf("c got %q", got)
	}
	g.open(a.name)
}

// An idle connection is never cut while slots are free, however long it is
// silent: real analysers hold a connection for days and may send nothing
// for hours.
func TestServerKeepsIdleConnectionsWhileSlotsAreFree(t *testing.T) {
	lg := newLogs()
	clk := clock.NewFake(t0)
	ls := newLineSessions()
	addr := evictServer(t, &Server{MaxConns: 2, Logger: lg.logger(), Clock: newHeldWaits().on(clk)}, ls)
	a := connect(t, addr, ls)
	clk.Advance(72 * time.Hour)
	b := connect(t, addr, ls)
	clk.Advance(72 * time.Hour)
	for _, p := range []*peer{a, b} {
		if got := p.send(t, "m"); got != "ack m" {
			t.Fatalf("%s got %q", p.name, got)
		}
	}
	if got := evictions(lg.String()); len(got) != 0 {
		t.Fatalf("evicted %v with a slot free", got)
	}
}
