package scanner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/serialport"
	"github.com/exhibit-forensics/exhibit/internal/clock"
)

// Defaults for Config.
const (
	DefaultBaud             = 115200
	DefaultDupWindow        = time.Second
	DefaultLineGap          = 500 * time.Millisecond
	DefaultReconnectTimeout = 5 * time.Second
)

// Errors returned by Dev.
var (
	// ErrDisconnected: the port went away and did not come back within
	// Config.ReconnectTimeout. Calling Next again tries again.
	ErrDisconnected = errors.New("scanner: disconnected")
	// ErrClosed: the Dev has been closed.
	ErrClosed = errors.New("scanner: closed")
)

// Opener opens the serial line; serialport.Open is the real one.
type Opener func(ctx context.Context, path string, m serialport.Mode) (serialport.Conn, error)

// Config configures a Dev. Only Path is required.
type Config struct {
	// Path of the serial device; use a stable /dev/serial/by-id/ name,
	// which the driver re-opens after the scanner is unplugged.
	Path string
	// Baud rate (8N1); DefaultBaud if zero. A USB-CDC scanner ignores it.
	Baud int
	// Prefix the scanner is programmed to send before each barcode, or
	// empty. With a prefix, lines are resynchronised at it and lines
	// without it are dropped as damaged.
	Prefix []byte
	// AckNak: the scanner waits for ACK or NAK after each line (Honeywell
	// "ACK/NAK On"). The driver ACKs every whole line, duplicates and
	// unreadable barcodes included, and NAKs damaged ones. The answer is
	// sent when Next takes the line, so a caller in this mode keeps a Next
	// waiting (the scanner gives up after its response time-out).
	AckNak bool
	// DupWindow: the same data read again less than DupWindow after its
	// previous reading is suppressed. Zero: DefaultDupWindow; negative:
	// every reading is delivered.
	DupWindow time.Duration
	// LineGap: an incomplete line whose bytes stop for longer than this is
	// dropped. Zero: DefaultLineGap; negative: no gap detection.
	LineGap time.Duration
	// ReconnectTimeout bounds Open's and Next's wait for the port to
	// (re)appear.
	ReconnectTimeout time.Duration
	// Open opens the port; serialport.Open if nil.
	Open Opener
	// Clock stamps arrivals (duplicate window, line gap) and times the
	// reconnect backoff; clock.System if nil. Read slices are real time:
	// they bound reads of a real port.
	Clock clock.Clock
	// Logger receives dropped lines and reconnects; nil discards.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Baud == 0 {
		c.Baud = DefaultBaud
	}
	if c.DupWindow == 0 {
		c.DupWindow = DefaultDupWindow
	}
	if c.LineGap == 0 {
		c.LineGap = DefaultLineGap
	}
	if c.ReconnectTimeout <= 0 {
		c.ReconnectTimeout = DefaultReconnectTimeout
	}
	if c.Open == nil {
		c.Open = serialport.Open
	}
	if c.Clock == nil {
		c.Clock = clock.System
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// A Parser reads a barcode's data, as the scanner formatted it (AIM
// identifier, GS separators; prefix and line end removed). For kit intake
// it is lab/sample.ParseScan; the driver itself knows nothing of kits (the
// device drivers never depend on the lab).
type Parser[T any] func(data string) (T, error)

// A Scan is one barcode read.
type Scan[T any] struct {
	// Raw is the line as received, without its line end or anything
	// dropped before it (see Line.Raw).
	Raw []byte
	// Value is the Parser's reading of the line's data; when Err is set it
	// holds what the Parser returned with the error.
	Value T
	// Err is the Parser's error: the scanner read a barcode the Parser
	// does not accept (for sample.ParseScan, one wrapping
	// sample.ErrBadScan: not a kit's).
	Err error
	// At is when the line was complete, on Config.Clock.
	At time.Time
}

// Stats counts what the driver saw and did.
type Stats struct {
	FrameStats
	Scans      int // scans delivered by Next
	Duplicates int // readings suppressed as duplicates
	Acks, Naks int // ACK and NAK bytes sent
	Reconnects int // re-opens after the port went away
}

// pollSlice bounds one blocking read so that a cancelled context, Close,
// Trigger and Untrigger are served promptly.
const pollSlice = 20 * time.Millisecond

// Dev is a serial barcode scanner whose barcodes are read by a Parser
// into T.
type Dev[T any] struct {
	cfg   Config
	parse Parser[T]
	mode  serialport.Mode

	io     sync.Mutex // holds the port for one read slice or one write
	done   context.Context
	stop   context.CancelFunc // Close: ends a reconnect in progress
	conn   serialport.Conn
	opened bool // the port has been open once: later opens are reconnects
	closed bool

	mu      sync.Mutex // Next's state, and the counters
	framer  Framer
	pending []arrival
	seen    map[string]time.Time // data → last reading, for DupWindow
	stats   Stats
	next    sync.Mutex // one Next at a time
}

// Open opens the port, waiting up to cfg.ReconnectTimeout (or ctx) for it
// to appear. Each line's data is read with parse, for kit intake
// sample.ParseScan:
//
//	dev, err := scanner.Open(ctx, cfg, sample.ParseScan)
func Open[T any](ctx context.Context, cfg Config, parse Parser[T]) (*Dev[T], error) {
	if cfg.Path == "" {
		return nil, errors.New("scanner: Config.Path is empty")
	}
	if parse == nil {
		return nil, errors.New("scanner: no Parser")
	}
	cfg.setDefaults()
	d := &Dev[T]{cfg: cfg, parse: parse, mode: serialport.Mode{Baud: cfg.Baud}, seen: map[string]time.Time{}}
	d.done, d.stop = context.WithCancel(context.Background())
	d.framer = Framer{Prefix: cfg.Prefix}
	if cfg.LineGap > 0 {
		d.framer.Gap = cfg.LineGap
	}
	d.io.Lock()
	defer d.io.Unlock()
	if err := d.reconnect(ctx); err != nil {
		d.stop()
		return nil, err
	}
	return d, nil
}

func (d *Dev[T]) String() string { return "barcode scanner at " + d.cfg.Path }

// Stats returns a snapshot of the counters.
func (d *Dev[T]) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.stats
	s.FrameStats = d.framer.Stats()
	return s
}

// Next waits for the next scan. It returns ErrDisconnected if the port went
// away and did not come back within Config.ReconnectTimeout, ErrClosed
// after Close, or the context's error.
func (d *Dev[T]) Next(ctx context.Context) (Scan[T], error) {
	d.next.Lock()
	defer d.next.Unlock()
	var chunk [256]byte
	for {
		if s, ok, err := d.take(); err != nil || ok {
			return s, err
		}
		if err := ctx.Err(); err != nil {
			return Scan[T]{}, fmt.Errorf("scanner: waiting for a scan: %w", err)
		}
		n, err := d.read(ctx, chunk[:])
		if err != nil {
			return Scan[T]{}, err
		}
		if n > 0 {
			now := d.cfg.Clock.Now()
			d.mu.Lock()
			for _, l := range d.framer.Feed(now, chunk[:n]) {
				d.pending = append(d.pending, arrival{l, now})
			}
			d.mu.Unlock()
		}
	}
}

// An arrival is a line and when its last byte was read.
type arrival struct {
	Line
	at time.Time
}

// take answers the oldest pending line (ACK or NAK) and returns it as a scan
// unless it is damaged or a duplicate.
func (d *Dev[T]) take() (Scan[T], bool, error) {
	for {
		d.mu.Lock()
		if len(d.pending) == 0 {
			d.mu.Unlock()
			return Scan[T]{}, false, nil
		}
		l := d.pending[0]
		d.pending[0] = arrival{}
		d.pending = d.pending[1:]
		d.mu.Unlock()
		if l.Bad != nil {
			d.cfg.Logger.Warn("scanner: damaged line dropped", "path", d.cfg.Path, "raw", fmt.Sprintf("%q", l.Raw), "err", l.Bad)
			if err := d.answer(NAK); err != nil {
				return Scan[T]{}, false, err
			}
			continue
		}
		if err := d.answer(ACK); err != nil {
			return Scan[T]{}, false, err
		}
		if d.duplicate(string(l.Data), l.at) {
			d.cfg.Logger.Debug("scanner: duplicate reading suppressed", "data", fmt.Sprintf("%q", l.Data))
			continue
		}
		s := Scan[T]{Raw: l.Raw, At: l.at}
		s.Value, s.Err = d.parse(string(l.Data))
		d.mu.Lock()
		d.stats.Scans++
		d.mu.Unlock()
		return s, true, nil
	}
}

// duplicate records a reading of data at now and reports whether the same
// data was read less than DupWindow before. The window slides: a label held
// in front of a presentation scanner stays suppressed for as long as it is
// re-read.
func (d *Dev[T]) duplicate(data string, now time.Time) bool {
	if d.cfg.DupWindow < 0 {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	prev, ok := d.seen[data]
	d.seen[data] = now
	if len(d.seen) > 64 {
		for k, t := range d.seen {
			if now.Sub(t) >= d.cfg.DupWindow {
				delete(d.seen, k)
			}
		}
	}
	if ok && now.Sub(prev) < d.cfg.DupWindow {
		d.stats.Duplicates++
		return true
	}
	return false
}

// answer sends ACK or NAK in ACK/NAK mode. A link failure here is left for
// the next read to find: the scanner that did not get its answer sends the
// line again or gives up.
func (d *Dev[T]) answer(b byte) error {
	if !d.cfg.AckNak {
		return nil
	}
	err := d.write([]byte{b})
	switch {
	case errors.Is(err, ErrClosed):
		return err
	case err != nil:
		d.cfg.Logger.Warn("scanner: answer not sent", "path", d.cfg.Path, "err", err)
		return nil
	}
	d.mu.Lock()
	if b == ACK {
		d.stats.Acks++
	} else {
		d.stats.Naks++
	}
	d.mu.Unlock()
	return nil
}

// Trigger sends the activate command (SYN T CR): a scanner in manual
// trigger mode reads until it has decoded a barcode, until Untrigger, or
// until its own read time-out.
func (d *Dev[T]) Trigger(ctx context.Context) error { return d.command(ctx, TriggerOn) }

// Untrigger sends the deactivate command (SYN U CR).
func (d *Dev[T]) Untrigger(ctx context.Context) error { return d.command(ctx, TriggerOff) }

func (d *Dev[T]) command(ctx context.Context, cmd []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("scanner: trigger command: %w", err)
	}
	if err := d.write(cmd); err != nil {
		return fmt.Errorf("scanner: trigger command %q: %w", cmd, err)
	}
	return nil
}

// write sends b on the open port. If the port is gone the error wraps
// ErrDisconnected and the port is closed, for Next to re-open.
func (d *Dev[T]) write(b []byte) error {
	d.io.Lock()
	defer d.io.Unlock()
	if d.closed {
		return ErrClosed
	}
	if d.conn == nil {
		return fmt.Errorf("%w: %s is being re-opened", ErrDisconnected, d.cfg.Path)
	}
	if _, err := d.conn.Write(b); err != nil {
		if linkFailed(err) {
			d.conn.Close()
			d.conn = nil
			return fmt.Errorf("%w: %w", ErrDisconnected, err)
		}
		return err
	}
	return nil
}

// read reads one slice from the port, re-opening it first if it went away.
func (d *Dev[T]) read(ctx context.Context, p []byte) (int, error) {
	d.io.Lock()
	defer d.io.Unlock()
	if d.closed {
		return 0, ErrClosed
	}
	if d.conn == nil {
		if err := d.reconnect(ctx); err != nil {
			return 0, err
		}
	}
	if err := d.conn.SetReadTimeout(pollSlice); err != nil {
		return 0, err
	}
	n, err := d.conn.Read(p)
	switch {
	case err == nil, errors.Is(err, serialport.ErrTimeout):
		return n, nil
	case linkFailed(err):
		d.cfg.Logger.Warn("scanner: port lost; re-opening", "path", d.cfg.Path, "err", err)
		d.conn.Close()
		d.conn = nil
		d.mu.Lock()
		d.framer.Reset() // the rest of a line cut by the unplug is not coming
		d.mu.Unlock()
		return n, nil
	}
	return n, err
}

func linkFailed(err error) bool {
	return errors.Is(err, serialport.ErrDisconnected) || errors.Is(err, serialport.ErrClosed) || errors.Is(err, io.EOF)
}

// reconnect opens the port, retrying with a doubling backoff (10 ms to
// 250 ms, on the clock) until it appears, cfg.ReconnectTimeout passes or
// ctx ends. d.io is held.
func (d *Dev[T]) reconnect(ctx context.Context) error {
	wait, cancel := clock.WithTimeout(ctx, d.cfg.Clock, d.cfg.ReconnectTimeout)
	defer cancel()
	defer context.AfterFunc(d.done, cancel)()
	backoff := 10 * time.Millisecond
	for {
		conn, err := d.cfg.Open(wait, d.cfg.Path, d.mode)
		if err == nil {
			d.conn = conn
			if d.opened {
				d.mu.Lock()
				d.stats.Reconnects++
				d.mu.Unlock()
				d.cfg.Logger.Info("scanner: port re-opened", "path", d.cfg.Path)
			}
			d.opened = true
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("scanner: opening %s: %w", d.cfg.Path, ctx.Err())
		}
		if clock.Sleep(wait, d.cfg.Clock, backoff) != nil {
			if d.done.Err() != nil {
				return ErrClosed
			}
			if ctx.Err() != nil {
				return fmt.Errorf("scanner: opening %s: %w", d.cfg.Path, ctx.Err())
			}
			return fmt.Errorf("%w: %s did not come back within %v: %w", ErrDisconnected, d.cfg.Path, d.cfg.ReconnectTimeout, err)
		}
		backoff = min(2*backoff, 250*time.Millisecond)
	}
}

// Close releases the port. A Next waiting for a scan, or for the port to
// come back, returns ErrClosed. Close after Close returns nil.
func (d *Dev[T]) Close() error {
	d.stop()
	d.io.Lock()
	defer d.io.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	if d.conn == nil {
		return nil
	}
	err := d.conn.Close()
	d.conn = nil
	return err
}
