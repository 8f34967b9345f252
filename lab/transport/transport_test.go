package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/exhibit-forensics/exhibit/devices/serialport"
	"github.com/exhibit-forensics/exhibit/devices/serialport/pty"
	"github.com/exhibit-forensics/exhibit/internal/clock"
)

const guard = 10 * time.Second

// waits is a clock.Clock whose timers are scripted: it records the
// duration of each timer the transport makes (a backoff wait, an eviction
// grace) and tells the time from a clock.Fake that the test advances. By
// default each timer fires at once, so that tests see backoff without
// sleeping. A stepped one (newStepWaits) instead hands each wait to the
// test over step and fires only once the test has taken it (or the timer
// is stopped): a runner whose waits return at once retries as fast as the
// machine allows, so a test that lets it run free cannot tell how many
// attempts it will have made by the time it looks. A held one
// (newHeldWaits) announces each wait on held and never fires: a time-out
// that never expires.
type waits struct {
	mu   sync.Mutex
	got  []time.Duration
	fake *clock.Fake
	step chan time.Duration // nil: do not wait for the test
	held chan time.Duration // nil: do not hold
}

var _ clock.Clock = (*waits)(nil)

func newWaits() *waits { return &waits{fake: clock.NewFake(t0)} }

func newStepWaits() *waits { return &waits{fake: clock.NewFake(t0), step: make(chan time.Duration)} }

func newHeldWaits() *waits {
	return &waits{fake: clock.NewFake(t0), held: make(chan time.Duration, 100)}
}

// on makes w tell the time from c.
func (w *waits) on(c *clock.Fake) *waits {
	w.fake = c
	return w
}

func (w *waits) Now() time.Time { return w.fake.Now() }

func (w *waits) NewTimer(d time.Duration) clock.Timer {
	w.mu.Lock()
	w.got = append(w.got, d)
	w.mu.Unlock()
	t := &scriptedTimer{c: make(chan time.Time, 1), stop: make(chan struct{})}
	switch {
	case w.step != nil:
		go func() {
			select {
			case w.step <- d:
				t.c <- w.Now()
			case <-t.stop:
			}
		}()
	case w.held != nil:
		select {
		case w.held <- d:
		default:
		}
	default:
		t.c <- w.Now()
	}
	return t
}

// A scriptedTimer fires when its waits says so.
type scriptedTimer struct {
	c    chan time.Time
	once sync.Once
	stop chan struct{}
}

func (t *scriptedTimer) C() <-chan time.Time { return t.c }

func (t *scriptedTimer) Stop() bool {
	stopped := false
	t.once.Do(func() { close(t.stop); stopped = len(t.c) == 0 })
	return stopped
}

// seen returns the next wait a held waits began.
func (w *waits) seen(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-w.held:
		return d
	case <-time.After(guard):
		t.Fatalf("no wait within %v; waits so far %v", guard, w.list())
		return 0
	}
}

// next takes the next wait of a stepped waits.
func (w *waits) next(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-w.step:
		return d
	case <-time.After(guard):
		t.Fatalf("no wait within %v; waits so far %v", guard, w.list())
		return 0
	}
}

func (w *waits) list() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.got...)
}

// logs captures log records.
type logs struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{}
}

func newLogs() *logs { return &logs{written: make(chan struct{}, 1)} }

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case l.written <- struct{}{}:
	default:
	}
	return l.buf.Write(p)
}

// waitFor waits until the log holds s.
func (l *logs) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(guard)
	for !strings.Contains(l.String(), s) {
		select {
		case <-l.written:
		case <-deadline:
			t.Fatalf("log never said %q:\n%s", s, l.String())
		}
	}
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logs) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestBackoff(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	var got []time.Duration
	d := time.Duration(0)
	for i := 0; i < 7; i++ {
		d = b.Next(d)
		got = append(got, d)
	}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000, 1000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("backoff %v", got)
		}
	}
	if d := (Backoff{}).Next(0); d != 250*time.Millisecond {
		t.Fatalf("default first wait %v", d)
	}
	if d := (Backoff{}).Next(time.Hour); d != 30*time.Second {
		t.Fatalf("default max %v", d)
	}
}

// The serial transport reads through devices/serialport from the slave of
// a real pseudo-terminal, reopens the stable path after the device goes
// away, and backs off while the path cannot be opened.
func TestSerialReopensAfterUnplug(t *testing.T) {
	dir := t.TempDir()
	ln := pty.Link(filepath.Join(dir, "analyser"))
	first, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	defer first.Close()
	if err := ln.Point(first.Path()); err != nil {
		t.Fatal(err)
	}
	w := newStepWaits()
	lg := newLogs()
	s := &Serial{Path: string(ln), Mode: serialport.Mode{Baud: 115200}, Backoff: Backoff{Min: time.Millisecond, Max: 8 * time.Millisecond},
		Clock: w, Logger: lg.logger()}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	type got struct {
		n    int
		line string
		err  error
	}
	// Bytes sent while nobody had the line open are flushed on open.
	if _, err := first.Write([]byte("stale")); err != nil {
		t.Fatal(err)
	}
	sessions := make(chan got, 10)
	opened := make(chan struct{}, 10)
	n := 0
	done := make(chan error, 1)
	go func() {
		done <- s.Run(ctx, func(ctx context.Context, c Conn) error {
			n++
			opened <- struct{}{}
			buf := make([]byte, 64)
			k, err := c.Read(buf)
			if err != nil {
				sessions <- got{n, "", err}
				return err
			}
			if _, err := c.Write([]byte("ack:" + string(buf[:k]))); err != nil {
				return err
			}
			// Block until the line fails or ctx ends.
			_, err = io.Copy(io.Discard, c)
			sessions <- got{n, string(buf[:k]), err}
			return err
		})
	}()
	waitOpen(t, opened)
	if _, err := first.Write([]byte("one")); err != nil {
		t.Fatal(err)
	}
	if r := readN(t, first, 7); r != "ack:one" {
		t.Fatalf("reply %q", r)
	}
	// Unplug: the pty goes away and the link is removed, as udev removes a
	// by-id link.
	first.Close()
	ln.Remove()
	g := <-sessions
	if g.n != 1 || g.line != "one" || !errors.Is(g.err, serialport.ErrDisconnected) {
		t.Fatalf("first session %+v", g)
	}
	// While the path is missing the transport backs off, doubling. Each
	// wait is taken here, so the transport makes exactly one attempt per
	// wait taken.
	for i := 0; i < 5; i++ {
		w.next(t)
	}
	// Plug in again: a new pty, the same stable path.
	second, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if err := ln.Point(second.Path()); err != nil {
		t.Fatal(err)
	}
	// An attempt already under way when the link came back still fails
	// and waits once more; the next one opens the line.
	for reopened := false; !reopened; {
		select {
		case <-opened:
			reopened = true
		case <-w.step:
		case <-time.After(guard):
			t.Fatal("the serial line was not opened again")
		}
	}
	if _, err := second.Write([]byte("two")); err != nil {
		t.Fatal(err)
	}
	if r := readN(t, second, 7); r != "ack:two" {
		t.Fatalf("reply %q", r)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if g := <-sessions; g.n != 2 || g.line != "two" {
		t.Fatalf("second session %+v", g)
	}
	ws := w.list()
	if len(ws) < 5 || ws[0] != time.Millisecond || ws[1] != 2*time.Millisecond || ws[3] != 8*time.Millisecond || ws[4] != 8*time.Millisecond {
		t.Fatalf("waits %v", ws)
	}
	if !strings.Contains(lg.String(), "cannot open serial line") {
		t.Fatalf("log:\n%s", lg.String())
	}
}

func waitOpen(t *testing.T, opened <-chan struct{}) {
	t.Helper()
	select {
	case <-opened:
	case <-time.After(guard):
		t.Fatal("the serial line was not opened")
	}
}

// readN reads n bytes from a pty master, giving up (and closing it) after
// the guard time.
func readN(t *testing.T, p *pty.Pair, n int) string {
	t.Helper()
	ch := make(chan string, 1)
	go func() {
		b := make([]byte, n)
		k, _ := io.ReadFull(p, b)
		ch <- string(b[:k])
	}()
	select {
	case s := <-ch:
		return s
	case <-time.After(guard):
		p.Close()
		t.Fatal("no reply on the pty")
		return ""
	}
}

// The serial transport hides serialport's read timeouts: a Read waits
// across several of them until data comes.
func TestSerialReadWaitsAcrossTimeouts(t *testing.T) {
	f := &fakePort{data: make(chan []byte, 1), timedOut: make(chan struct{}, 100)}
	s := &Serial{Path: "/dev/fake", Open: func(ctx context.Context, path string, m serialport.Mode) (serialport.Conn, error) {
		if m.Baud != 9600 {
			t.Errorf("default baud %d", m.Baud)
		}
		return f, nil
	}, Clock: newWaits(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	got := make(chan string, 1)
	go s.Run(ctx, func(ctx context.Context, c Conn) error {
		b := make([]byte, 8)
		n, err := c.Read(b)
		got <- fmt.Sprint(string(b[:n]), err)
		<-ctx.Done()
		return nil
	})
	// Let the reader see a few timeouts first.
	for f.timeouts.Load() < 3 {
		select {
		case <-ctx.Done():
			t.Fatal("no timeouts")
		case <-f.timedOut:
		}
	}
	f.data <- []byte("x")
	if g := <-got; g != "x<nil>" {
		t.Fatalf("read %q", g)
	}
}

type fakePort struct {
	data     chan []byte
	timeouts atomicInt
	timedOut chan struct{}
}

type atomicInt struct {
	mu sync.Mutex
	n  int
}

func (a *atomicInt) Load() int { a.mu.Lock(); defer a.mu.Unlock(); return a.n }
func (a *atomicInt) inc()      { a.mu.Lock(); a.n++; a.mu.Unlock() }

func (f *fakePort) Read(p []byte) (int, error) {
	select {
	case b := <-f.data:
		return copy(p, b), nil
	case <-time.After(time.Millisecond): // the port's read timeout
		f.timeouts.inc()
		select {
		case f.timedOut <- struct{}{}:
		default:
		}
		return 0, serialport.ErrTimeout
	}
}
func (f *fakePort) Write(p []byte) (int, error)          { return len(p), nil }
func (f *fakePort) SetReadTimeout(d time.Duration) error { return nil }
func (f *fakePort) ResetInputBuffer() error              { return nil }
func (f *fakePort) Drain() error                         { return nil }
func (f *fakePort) Close() error                         { return nil }

// The server serves instruments with keep-alive on and shrugs off
// connect-and-drop probes.
func TestServerProbesAndKeepAlive(t *testing.T) {
	lg := newLogs()
	ready := make(chan net.Addr, 1)
	s := &Server{Addr: "127.0.0.1:0", Logger: lg.logger(), Ready: func(a net.Addr) { ready <- a }}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	type seen struct {
		data      string
		keepalive [4]int
	}
	sessions := make(chan seen, 10)
	done := make(chan error, 1)
	go func() {
		done <- s.Run(ctx, func(ctx context.Context, c Conn) error {
			ka := keepAliveOf(c)
			b, err := io.ReadAll(c)
			sessions <- seen{string(b), ka}
			return err
		})
	}()
	addr := (<-ready).String()
	for i := 0; i < 3; i++ {
		probe, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		probe.Close()
		if s := <-sessions; s.data != "" {
			t.Fatalf("probe session %+v", s)
		}
	}
	lg.waitFor(t, "connection closed without data")
	a, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	a.Write([]byte("from a"))
	a.Close()
	if s := <-sessions; s.data != "from a" || s.keepalive != wantKeepAlive {
		t.Fatalf("session %+v (want keep-alive %v)", s, wantKeepAlive)
	}
	lg.waitFor(t, "connection ended")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// wantKeepAlive is DefaultKeepAlive as the socket options SO_KEEPALIVE,
// TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT.
var wantKeepAlive = [4]int{1, 60, 15, 4}

// keepAliveOf reads the keep-alive socket options of a TCP Conn.
func keepAliveOf(c Conn) [4]int {
	ka := [4]int{-1, -1, -1, -1}
	nc, ok := c.(interface{ NetConn() net.Conn })
	if !ok {
		return ka
	}
	sc, ok := nc.NetConn().(syscall.Conn)
	if !ok {
		return ka
	}
	rc, _ := sc.SyscallConn()
	rc.Control(func(fd uintptr) {
		ka[0], _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_KEEPALIVE)
		ka[1], _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_KEEPIDLE)
		ka[2], _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_KEEPINTVL)
		ka[3], _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_KEEPCNT)
	})
	return ka
}

// The client's own dialler turns keep-alive on with the same settings.
func TestClientKeepAlive(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cl := &Client{Addr: ln.Addr().String(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	got := make(chan [4]int, 1)
	done := make(chan error, 1)
	go func() {
		done <- cl.Run(ctx, func(ctx context.Context, c Conn) error {
			got <- keepAliveOf(c)
			<-ctx.Done()
			return nil
		})
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ka := <-got; ka != wantKeepAlive {
		t.Fatalf("keep-alive %v, want %v", ka, wantKeepAlive)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A session still running when ctx ends has its connection closed, so its
// blocked read returns, and Run waits for it.
func TestServerStopsSessions(t *testing.T) {
	ready := make(chan net.Addr, 1)
	s := &Server{Addr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Ready: func(a net.Addr) { ready <- a }}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	ended := make(chan error, 1)
	done := make(chan error, 1)
	go func() {
		done <- s.Run(ctx, func(ctx context.Context, c Conn) error {
			close(started)
			_, err := c.Read(make([]byte, 1))
			ended <- err
			return err
		})
	}()
	conn, err := net.Dial("tcp", (<-ready).String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	<-started
	cancel()
	select {
	case err := <-ended:
		if err == nil {
			t.Fatal("read returned no error")
		}
	case <-time.After(guard):
		t.Fatal("session not unblocked")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestServerListenError(t *testing.T) {
	s := &Server{Addr: "127.0.0.1:-1"}
	if err := s.Run(context.Background(), nil); err == nil {
		t.Fatal("bad address accepted")
	}
}

// The client redials with backoff while the instrument is unreachable, and
// again whenever the connection ends.
func TestClientRedials(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fails := 3
	w := newWaits()
	cl := &Client{Addr: ln.Addr().String(), Backoff: Backoff{Min: time.Millisecond, Max: 4 * time.Millisecond, Stable: time.Hour},
		Clock: w, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Dial: func(ctx context.Context, addr string) (net.Conn, error) {
			if fails > 0 {
				fails--
				return nil, syscall.ECONNREFUSED
			}
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		}}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	lines := make(chan string, 10)
	done := make(chan error, 1)
	go func() {
		done <- cl.Run(ctx, func(ctx context.Context, c Conn) error {
			b, err := io.ReadAll(c)
			lines <- string(b)
			return err
		})
	}()
	for i, msg := range []string{"first", "second"} {
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(msg))
		c.Close()
		if got := <-lines; got != msg {
			t.Fatalf("connection %d read %q", i, got)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ws := w.list()
	want := []time.Duration{1, 2, 4, 4} // three refused dials, then the wait after the first connection ended
	if len(ws) < len(want) {
		t.Fatalf("waits %v", ws)
	}
	for i := range want {
		if ws[i] != want[i]*time.Millisecond {
			t.Fatalf("waits %v, want %v ms first", ws, want)
		}
	}
}
