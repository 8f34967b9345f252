package scanner_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/scanner"
	"github.com/exhibit-forensics/exhibit/devices/scanner/scannersim"
	"github.com/exhibit-forensics/exhibit/devices/serialport"
	"github.com/exhibit-forensics/exhibit/devices/serialport/pty"
	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/lab/sample"
)

// guard bounds waits for things that must happen; it is not a timing
// assertion.
const guard = 20 * time.Second

// Labels used throughout: a plain Code 128 kit number, a GS1 DataMatrix
// with GTIN, expiry, lot and serial, and a barcode that is not a kit's.
var (
	plain = scannersim.Label{Symbology: "]C0", Data: "KIT-2026-000123"}
	gs1   = scannersim.Label{Symbology: "]d2", Data: "0109501101020917" + "17270131" + "10LOT42\x1d" + "21KIT000124"}
	other = scannersim.Label{Symbology: "]C0", Data: "not a kit"}
	third = scannersim.Label{Symbology: "]C0", Data: "KIT-2026-000125"}
)

// countingConn counts the bytes the driver has read and dealt with, so
// that a test can wait until the driver has taken in what the simulator
// sent before it moves the fake clock. Bytes are counted when the driver
// comes back for more: by then it has framed them, stamped them and
// answered or delivered every line they completed.
type countingConn struct {
	serialport.Conn
	c    *counter
	owed *int
}

type counter struct {
	mu   sync.Mutex
	n    int
	wake chan struct{}
}

func newCounter() *counter { return &counter{wake: make(chan struct{})} }

func (c countingConn) Read(p []byte) (int, error) {
	if *c.owed > 0 {
		c.c.mu.Lock()
		c.c.n += *c.owed
		close(c.c.wake)
		c.c.wake = make(chan struct{})
		c.c.mu.Unlock()
		*c.owed = 0
	}
	n, err := c.Conn.Read(p)
	*c.owed = n
	return n, err
}

// waitFor waits until at least n bytes have been read in all.
func (c *counter) waitFor(t testing.TB, n int) {
	t.Helper()
	timeout := time.After(guard)
	for {
		c.mu.Lock()
		got, wake := c.n, c.wake
		c.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-wake:
		case <-timeout:
			t.Fatalf("the driver read %d bytes, want %d", got, n)
		}
	}
}

type bench struct {
	sim   *scannersim.Sim
	sent  int                            // bytes the simulator has sent
	scans chan scanner.Scan[sample.Scan] // from the collector, if it runs
	errs  chan error
	dev   *scanner.Dev[sample.Scan]
	read  *counter
	plugs chan string
	// replug, if not nil, must receive before an unplugged scanner is
	// plugged in again.
	replug chan struct{}
}

type options struct {
	sim      scannersim.Config
	dev      scanner.Config
	holdPlug bool // plug back in only when the test says so
	// collect: a goroutine calls Next in a loop, as a receiving program
	// does, and b.next takes its scans.
	collect bool
}

// start serves a simulated scanner on a pseudo-terminal behind a link and
// opens the driver on the link.
func start(t testing.TB, o options) *bench {
	t.Helper()
	if o.sim.AckTimeout == 0 {
		o.sim.AckTimeout = guard // the driver's answer is not what is timed here
	}
	sim, err := scannersim.New(o.sim)
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{sim: sim, read: newCounter(), plugs: make(chan string, 8)}
	popts := scannersim.PTYOptions{OnPlug: func(p string) { b.plugs <- p }}
	if o.holdPlug {
		b.replug = make(chan struct{})
		popts.Replug = func(ctx context.Context) error {
			select {
			case <-b.replug:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	link := pty.Link(filepath.Join(t.TempDir(), "scanner"))
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- sim.ServePTY(ctx, link, popts) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("ServePTY: %v", err)
		}
	})
	select {
	case <-b.plugs:
	case err := <-served:
		if errors.Is(err, pty.ErrUnsupported) {
			t.Skip(err)
		}
		t.Fatalf("simulator stopped: %v", err)
	}
	cfg := o.dev
	cfg.Path = string(link)
	cfg.Open = func(ctx context.Context, path string, m serialport.Mode) (serialport.Conn, error) {
		c, err := serialport.Open(ctx, path, m)
		if err != nil {
			return nil, err
		}
		return countingConn{c, b.read, new(int)}, nil
	}
	b.dev, err = scanner.Open(context.Background(), cfg, sample.ParseScan)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.dev.Close() })
	if o.collect {
		b.scans, b.errs = make(chan scanner.Scan[sample.Scan], 16), make(chan error, 1)
		cctx, stop := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			for {
				s, err := b.dev.Next(cctx)
				if err != nil {
					if cctx.Err() == nil {
						b.errs <- err
					}
					return
				}
				b.scans <- s
			}
		}()
		t.Cleanup(func() { stop(); <-stopped })
	}
	return b
}

// scan has the simulator read l with fault f.
func (b *bench) scan(t testing.TB, l scannersim.Label, f scannersim.Fault) scannersim.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	res, err := b.sim.Scan(ctx, l, f)
	if err != nil {
		t.Fatalf("simulator scanning %v (%v): %v", l, f, err)
	}
	switch f {
	case scannersim.Cut, scannersim.Reset, scannersim.Unplug:
		b.sent += len(res.Line) / 2
	case scannersim.Noise:
		b.sent += len(res.Line)*res.Sends + 2
	default:
		b.sent += len(res.Line) * res.Sends
	}
	return res
}

// settle waits until the driver has dealt with everything the simulator
// sent (noise from Reset and power-up not counted).
func (b *bench) settle(t testing.TB) { t.Helper(); b.read.waitFor(t, b.sent) }

// scanAsync is scan for when the test itself calls Next, where the simulator waits for the
// driver's answer, which comes only while the test is in Next.
func (b *bench) scanAsync(t testing.TB, l scannersim.Label, f scannersim.Fault) <-chan scannersim.Result {
	t.Helper()
	out := make(chan scannersim.Result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		res, err := b.sim.Scan(ctx, l, f)
		if err != nil {
			t.Errorf("simulator scanning %v (%v): %v", l, f, err)
		}
		out <- res
	}()
	return out
}

func (b *bench) next(t testing.TB) scanner.Scan[sample.Scan] {
	t.Helper()
	if b.scans != nil {
		select {
		case s := <-b.scans:
			return s
		case err := <-b.errs:
			t.Fatalf("Next: %v", err)
		case <-time.After(guard):
			t.Fatal("no scan")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	s, err := b.dev.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return s
}

// expect checks a scan against the label it should be.
func expect(t testing.TB, s scanner.Scan[sample.Scan], l scannersim.Label) {
	t.Helper()
	want, wantErr := sample.ParseScan(l.Symbology + l.Data)
	if (s.Err == nil) != (wantErr == nil) {
		t.Fatalf("scan %q: err %v, want %v", s.Raw, s.Err, wantErr)
	}
	if s.Value.ID != want.ID || s.Value.GTIN != want.GTIN || s.Value.Lot != want.Lot || s.Value.Expiry != want.Expiry {
		t.Fatalf("scan %q read as %+v, want %+v", s.Raw, s.Value, want)
	}
}

// TestConfigurations: every way a scanner can be programmed to format a
// line arrives as the same kit, over a real pseudo-terminal.
func TestConfigurations(t *testing.T) {
	cases := []struct {
		name string
		sim  scannersim.Config
		dev  scanner.Config
	}{
		{"defaults CR with AIM", scannersim.Config{AIM: true}, scanner.Config{}},
		{"CR LF", scannersim.Config{Suffix: "\r\n", AIM: true}, scanner.Config{}},
		{"LF without AIM", scannersim.Config{Suffix: "\n"}, scanner.Config{}},
		{"STX prefix", scannersim.Config{Prefix: "\x02", AIM: true}, scanner.Config{Prefix: []byte{0x02}}},
		{"text prefix CR LF", scannersim.Config{Prefix: "#S:", Suffix: "\r\n"}, scanner.Config{Prefix: []byte("#S:")}},
		{"FNC1 as text", scannersim.Config{FNC1: "<GS>", AIM: true}, scanner.Config{}},
		{"ACK/NAK", scannersim.Config{AckNak: true, AIM: true}, scanner.Config{AckNak: true}},
		{"ACK/NAK prefix CR LF no AIM", scannersim.Config{AckNak: true, Prefix: "\x02", Suffix: "\r\n"}, scanner.Config{AckNak: true, Prefix: []byte{0x02}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := start(t, options{sim: tc.sim, dev: tc.dev, collect: true})
			for _, l := range []scannersim.Label{plain, gs1, other} {
				r := b.scan(t, l, scannersim.NoFault)
				s := b.next(t)
				expect(t, s, l)
				if want := strings.TrimRight(string(r.Line), "\r\n"); string(s.Raw) != want {
					t.Fatalf("Raw %q, want %q", s.Raw, want)
				}
				if tc.sim.AckNak && (!r.Acked || r.Sends != 1) {
					t.Fatalf("ACK/NAK: result %+v", r)
				}
			}
			st := b.dev.Stats()
			if st.Scans != 3 || st.Lines != 3 || st.Damaged != 0 || st.Duplicates != 0 {
				t.Fatalf("stats %+v", st)
			}
			if wantAcks := map[bool]int{true: 3}[tc.sim.AckNak]; st.Acks != wantAcks || st.Naks != 0 {
				t.Fatalf("acks %d naks %d, want %d, 0", st.Acks, st.Naks, wantAcks)
			}
		})
	}
}

// TestDuplicates: a label read twice is delivered once; read again within
// the window of its last reading it is still suppressed (the window
// slides); once a full window has passed it is delivered again.
func TestDuplicates(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_800_000_000, 0))
	b := start(t, options{sim: scannersim.Config{AIM: true}, dev: scanner.Config{Clock: clk, DupWindow: time.Second}, collect: true})
	b.scan(t, plain, scannersim.Duplicate)
	b.scan(t, gs1, scannersim.NoFault)
	expect(t, b.next(t), plain)
	expect(t, b.next(t), gs1) // the second reading of plain was dropped
	b.settle(t)
	clk.Advance(999 * time.Millisecond)
	b.scan(t, plain, scannersim.NoFault) // 0.999 s after its last reading: dropped
	b.scan(t, third, scannersim.NoFault)
	expect(t, b.next(t), third)
	b.settle(t)
	clk.Advance(999 * time.Millisecond)
	b.scan(t, plain, scannersim.NoFault) // 1.998 s after its first, 0.999 s after its last: dropped
	b.scan(t, third, scannersim.NoFault) // 0.999 s after its last: dropped
	b.settle(t)
	clk.Advance(time.Second)
	b.scan(t, plain, scannersim.NoFault) // a full window after its last reading
	expect(t, b.next(t), plain)
	if st := b.dev.Stats(); st.Duplicates != 4 || st.Scans != 4 || st.Lines != 8 {
		t.Fatalf("stats %+v", st)
	}
}

// TestDuplicatesAckNak: in ACK/NAK mode a suppressed duplicate is still
// ACKed, or the scanner would wait and re-send it.
func TestDuplicatesAckNak(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_800_000_000, 0))
	b := start(t, options{sim: scannersim.Config{AIM: true, AckNak: true}, dev: scanner.Config{Clock: clk, AckNak: true}, collect: true})
	if r := b.scan(t, plain, scannersim.Duplicate); !r.Acked || r.Sends != 2 {
		t.Fatalf("duplicate: %+v", r)
	}
	b.scan(t, third, scannersim.NoFault)
	expect(t, b.next(t), plain)
	expect(t, b.next(t), third)
	if st := b.dev.Stats(); st.Acks != 3 || st.Duplicates != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestNoise: a line with noise inside is never delivered; in ACK/NAK mode
// it is NAKed and the clean re-send is delivered. Power-up noise before
// the first line is dropped.
func TestNoise(t *testing.T) {
	t.Run("plain", func(t *testing.T) {
		clk := clock.NewFake(time.Unix(1_800_000_000, 0))
		b := start(t, options{sim: scannersim.Config{AIM: true, PowerUpNoise: scannersim.DefaultNoise}, dev: scanner.Config{Clock: clk}, collect: true})
		b.scan(t, plain, scannersim.Noise)
		b.scan(t, gs1, scannersim.NoFault)
		expect(t, b.next(t), gs1)
		if st := b.dev.Stats(); st.Damaged != 1 || st.Noise != len(scannersim.DefaultNoise) || st.Scans != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("ACK/NAK", func(t *testing.T) {
		b := start(t, options{sim: scannersim.Config{AIM: true, AckNak: true}, dev: scanner.Config{AckNak: true}, collect: true})
		if r := b.scan(t, gs1, scannersim.Noise); !r.Acked || r.Sends != 2 || r.Naks != 1 {
			t.Fatalf("result %+v", r)
		}
		expect(t, b.next(t), gs1)
		if st := b.dev.Stats(); st.Damaged != 1 || st.Naks != 1 || st.Acks != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// TestCutLine: the first half of a line, then nothing for longer than the
// line gap: the half is dropped, not glued to the next line.
func TestCutLine(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_800_000_000, 0))
	b := start(t, options{sim: scannersim.Config{AIM: true}, dev: scanner.Config{Clock: clk, LineGap: 200 * time.Millisecond}, collect: true})
	b.scan(t, plain, scannersim.Cut)
	b.settle(t)
	clk.Advance(201 * time.Millisecond)
	b.scan(t, third, scannersim.NoFault)
	s := b.next(t)
	expect(t, s, third)
	if string(s.Raw) != "]C0"+third.Data {
		t.Fatalf("Raw %q", s.Raw)
	}
	if st := b.dev.Stats(); st.Partial != 1 || st.Scans != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestReset: the scanner resets mid-line (half a line, then power-up
// noise). Without a gap to tell, and without a prefix, the glued line is
// damaged and dropped — never delivered as a wrong kit number; with a
// prefix the next line is recovered.
func TestReset(t *testing.T) {
	// A fake clock that never moves: no gap, however slowly the bytes
	// arrive.
	clk := clock.NewFake(time.Unix(1_800_000_000, 0))
	t.Run("no prefix", func(t *testing.T) {
		b := start(t, options{sim: scannersim.Config{AIM: true}, dev: scanner.Config{Clock: clk}, collect: true})
		b.scan(t, plain, scannersim.Reset)
		b.scan(t, gs1, scannersim.NoFault) // glued to the cut line: lost
		b.scan(t, third, scannersim.NoFault)
		expect(t, b.next(t), third)
		if st := b.dev.Stats(); st.Damaged != 1 || st.Scans != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("prefix", func(t *testing.T) {
		b := start(t, options{sim: scannersim.Config{AIM: true, Prefix: "\x02"}, dev: scanner.Config{Prefix: []byte{0x02}, Clock: clk}, collect: true})
		b.scan(t, plain, scannersim.Reset)
		b.scan(t, gs1, scannersim.NoFault)
		expect(t, b.next(t), gs1)
		if st := b.dev.Stats(); st.Partial != 1 || st.Damaged != 0 || st.Scans != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// TestUnplug: the cable is pulled mid-line; the driver re-opens the link
// when the scanner is back, drops the half line and the power-up noise,
// and reads on.
func TestUnplug(t *testing.T) {
	b := start(t, options{sim: scannersim.Config{AIM: true, PowerUpNoise: scannersim.DefaultNoise}, collect: true})
	b.scan(t, plain, scannersim.Unplug)
	select {
	case <-b.plugs:
	case <-time.After(guard):
		t.Fatal("the scanner was not plugged back in")
	}
	b.scan(t, gs1, scannersim.NoFault)
	expect(t, b.next(t), gs1)
	st := b.dev.Stats()
	if st.Reconnects != 1 || st.Scans != 1 || st.Damaged != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestUnplugGivesUp: a scanner that stays away makes Next return
// ErrDisconnected after ReconnectTimeout (on the fake clock); once it is
// back, the next Next reads from it.
func TestUnplugGivesUp(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_800_000_000, 0))
	b := start(t, options{sim: scannersim.Config{AIM: true}, dev: scanner.Config{Clock: clk, ReconnectTimeout: 3 * time.Second}, holdPlug: true})
	b.sim.Unplug()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := b.dev.Next(ctx)
		done <- err
	}()
	// Move the clock on whenever the driver waits on it (the reconnect
	// time-out and the backoff), until Next gives up.
	pctx, stopPump := context.WithCancel(ctx)
	pumped := make(chan struct{})
	go func() {
		defer close(pumped)
		for clk.BlockUntil(pctx, 2) == nil {
			clk.Advance(250 * time.Millisecond)
		}
	}()
	err := <-done
	stopPump()
	<-pumped
	if !errors.Is(err, scanner.ErrDisconnected) {
		t.Fatalf("Next = %v, want ErrDisconnected", err)
	}
	b.replug <- struct{}{}
	<-b.plugs
	b.scan(t, third, scannersim.NoFault)
	expect(t, b.next(t), third)
	if st := b.dev.Stats(); st.Reconnects != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestManualTrigger: in manual trigger mode the scanner reads only after
// SYN T CR; each trigger reads one label.
func TestManualTrigger(t *testing.T) {
	b := start(t, options{sim: scannersim.Config{AIM: true, ManualTrigger: true}})
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	for _, l := range []scannersim.Label{plain, gs1} {
		res := b.scanAsync(t, l, scannersim.NoFault)
		if err := b.dev.Trigger(ctx); err != nil {
			t.Fatal(err)
		}
		expect(t, b.next(t), l)
		<-res
	}
	if err := b.dev.Untrigger(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestCloseUnblocksNext: Close ends a Next that is waiting.
func TestCloseUnblocksNext(t *testing.T) {
	b := start(t, options{})
	done := make(chan error, 1)
	go func() {
		_, err := b.dev.Next(context.Background())
		done <- err
	}()
	if err := b.dev.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, scanner.ErrClosed) {
			t.Fatalf("Next after Close = %v", err)
		}
	case <-time.After(guard):
		t.Fatal("Close did not end Next")
	}
	if err := b.dev.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := b.dev.Trigger(context.Background()); !errors.Is(err, scanner.ErrClosed) {
		t.Fatalf("Trigger after Close = %v", err)
	}
}

// TestCloseDuringReconnect: Close ends a Next that waits for an unplugged
// scanner to come back.
func TestCloseDuringReconnect(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_800_000_000, 0))
	b := start(t, options{dev: scanner.Config{Clock: clk}, holdPlug: true})
	b.sim.Unplug()
	done := make(chan error, 1)
	go func() {
		_, err := b.dev.Next(context.Background())
		done <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := clk.BlockUntil(ctx, 2); err != nil { // the reconnect time-out and the first backoff
		t.Fatal(err)
	}
	if err := b.dev.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, scanner.ErrClosed) {
			t.Fatalf("Next = %v, want ErrClosed", err)
		}
	case <-time.After(guard):
		t.Fatal("Close did not end the reconnect")
	}
}

// TestOpen: Open refuses a config without a path or a Parser, waits for a
// missing port with backoff on the clock, gives up with ErrDisconnected
// after ReconnectTimeout, and honours its context.
func TestOpen(t *testing.T) {
	parse := func(s string) (string, error) { return s, nil }
	if _, err := scanner.Open(context.Background(), scanner.Config{}, parse); err == nil {
		t.Fatal("Open without a path succeeded")
	}
	if _, err := scanner.Open[string](context.Background(), scanner.Config{Path: "x"}, nil); err == nil {
		t.Fatal("Open without a Parser succeeded")
	}
	clk := clock.NewFake(time.Unix(0, 0))
	attempts := 0
	missing := func(context.Context, string, serialport.Mode) (serialport.Conn, error) {
		attempts++
		return nil, fs.ErrNotExist
	}
	done := make(chan error, 1)
	go func() {
		_, err := scanner.Open(context.Background(), scanner.Config{Path: "/dev/serial/by-id/none", Open: missing, Clock: clk, ReconnectTimeout: time.Second}, parse)
		done <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	// Let each wait pass as soon as the driver is in it, recording how
	// long it was, until Open gives up.
	var waits []time.Duration
	pctx, stopPump := context.WithCancel(ctx)
	pumped := make(chan struct{})
	go func() {
		defer close(pumped)
		for clk.BlockUntil(pctx, 2) == nil {
			p := clk.Pending()
			waits = append(waits, p[0])
			clk.Advance(p[0])
		}
	}()
	err := <-done
	stopPump()
	<-pumped
	done <- err
	if err := <-done; !errors.Is(err, scanner.ErrDisconnected) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open = %v, want ErrDisconnected wrapping the last error", err)
	}
	want := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond,
		160 * time.Millisecond, 250 * time.Millisecond, 250 * time.Millisecond, 190 * time.Millisecond}
	if fmt.Sprint(waits) != fmt.Sprint(want) || attempts != len(want) {
		t.Fatalf("waits %v after %d attempts, want %v", waits, attempts, want)
	}
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	if _, err := scanner.Open(cctx, scanner.Config{Path: "x", Open: missing, Clock: clk}, parse); !errors.Is(err, context.Canceled) {
		t.Fatalf("Open with a cancelled context = %v", err)
	}
}

// TestNextContext: Next returns when its context ends.
func TestNextContext(t *testing.T) {
	b := start(t, options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := b.dev.Next(ctx)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Next = %v", err)
		}
	case <-time.After(guard):
		t.Fatal("cancelling did not end Next")
	}
}
