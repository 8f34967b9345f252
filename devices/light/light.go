package light

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/exhibit-forensics/exhibit/devices"
	"github.com/exhibit-forensics/exhibit/devices/serialport"
	"github.com/exhibit-forensics/exhibit/internal/clock"
)

// Defaults for Config.
const (
	DefaultBaud             = 115200
	DefaultTimeout          = 200 * time.Millisecond
	DefaultAttempts         = 4
	DefaultReconnectTimeout = 5 * time.Second
	DefaultHaltTimeout      = 2 * time.Second
)

// Opener opens the serial line; serialport.Open is the real one.
type Opener func(ctx context.Context, path string, m serialport.Mode) (serialport.Conn, error)

// Config configures a Dev. Only Path is required.
type Config struct {
	// Path of the serial device. Use a stable name such as
	// /dev/serial/by-id/usb-…, which survives the adapter being unplugged
	// and re-plugged; the driver re-opens this path after a link failure.
	Path string
	// Baud rate; DefaultBaud if zero. The line is 8N1.
	Baud int
	// Timeout is how long one attempt waits for its reply.
	Timeout time.Duration
	// Attempts is how many times a command is sent before giving up with
	// ErrNoReply (timeouts, checksum errors, bad echoes). Link failures
	// are handled by re-opening and do not use up attempts.
	Attempts int
	// ReconnectTimeout bounds the wait for the port to come back.
	ReconnectTimeout time.Duration
	// HaltTimeout bounds Halt, which does not take a context so that it
	// works after the caller's context has been cancelled.
	HaltTimeout time.Duration
	// Open opens the port; serialport.Open if nil. Tests pass a function
	// returning serialtest.Record or serialtest.Playback.
	Open Opener
	// Clock times the waits between attempts — the reconnect backoff and
	// WaitSettled's polling; clock.System if nil. Reply time-outs are real
	// time: they bound reads of a real port.
	Clock clock.Clock
	// Logger receives retries, reconnects and Halt failures; nil discards.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Baud == 0 {
		c.Baud = DefaultBaud
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Attempts <= 0 {
		c.Attempts = DefaultAttempts
	}
	if c.ReconnectTimeout <= 0 {
		c.ReconnectTimeout = DefaultReconnectTimeout
	}
	if c.HaltTimeout <= 0 {
		c.HaltTimeout = DefaultHaltTimeout
	}
	if c.Open == nil {
		c.Open = serialport.Open
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = clock.System
	}
}

// pollSlice bounds each blocking read so that a cancelled context is noticed
// promptly even though the serial library's Read takes no context.
const pollSlice = 20 * time.Millisecond

// maxLineBuffer: bytes without a newline beyond this are line noise and are
// dropped.
const maxLineBuffer = 2 * MaxLine

// Stats counts what the driver had to do to keep the link working.
type Stats struct {
	Commands   int // commands completed (successfully or with a device error)
	Sent       int // frames written, including retries
	Retries    int // re-sends after a timeout, checksum error, E01/E04 or bad reply
	Timeouts   int // attempts that got no valid reply in time
	BadFrames  int // received lines that failed the frame check
	Stale      int // valid replies with another sequence number, dropped
	Reconnects int // successful re-opens after a link failure
}

// Dev is a light engine. Its methods are safe for concurrent use; commands
// are serialised.
type Dev struct {
	cfg  Config
	mode serialport.Mode

	mu     sync.Mutex // serialises commands and guards everything below
	conn   serialport.Conn
	seq    uint8
	buf    []byte
	id     devices.Identity
	closed bool

	statsMu sync.Mutex
	stats   Stats

	inflightMu sync.Mutex
	inflight   context.CancelCauseFunc // cancels the running command; Halt uses it
}

var (
	_ devices.Resource  = (*Dev)(nil)
	_ devices.Describer = (*Dev)(nil)
)

// Open opens the port, waits up to cfg.ReconnectTimeout (or ctx) for it to
// appear, and reads the device's identity and firmware version.
func Open(ctx context.Context, cfg Config) (*Dev, error) {
	if cfg.Path == "" {
		return nil, errors.New("light: Config.Path is empty")
	}
	cfg.setDefaults()
	d := &Dev{cfg: cfg, mode: serialport.Mode{Baud: cfg.Baud}}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.reconnect(ctx); err != nil {
		return nil, err
	}
	f, err := d.roundTrip(ctx, "VER")
	if err != nil {
		if d.conn != nil {
			d.conn.Close()
		}
		return nil, err
	}
	d.id.Firmware = f["FW"]
	return d, nil
}

// String names the device: model, serial number and path.
func (d *Dev) String() string {
	return fmt.Sprintf("light engine %s SN %s at %s", d.id.Model, d.id.Serial, d.cfg.Path)
}

// Identity returns the model and serial number read at Open and the
// firmware version.
func (d *Dev) Identity() devices.Identity { return d.id }

// Stats returns a snapshot of the link counters.
func (d *Dev) Stats() Stats {
	d.statsMu.Lock()
	defer d.statsMu.Unlock()
	return d.stats
}

func (d *Dev) count(f func(*Stats)) {
	d.statsMu.Lock()
	defer d.statsMu.Unlock()
	f(&d.stats)
}

// Status reads the device status.
func (d *Dev) Status(ctx context.Context) (Status, error) {
	f, err := d.do(ctx, "ST")
	if err != nil {
		return Status{}, err
	}
	return parseStatus(f)
}

// Describe reads the status and returns it as one line (Status.String).
func (d *Dev) Describe(ctx context.Context) (string, error) { return devices.StatusLine(d.Status(ctx)) }

// SetBand selects the light source. Selecting a UV/violet band while the
// light is on and the interlock is open returns *InterlockError.
func (d *Dev) SetBand(ctx context.Context, b Band) error {
	if !b.valid() {
		return fmt.Errorf("light: invalid band %d", b)
	}
	_, err := d.do(ctx, "B", b.Token())
	return err
}

// SetFilter moves the barrier filter wheel.
func (d *Dev) SetFilter(ctx context.Context, f Filter) error {
	if !f.valid() {
		return fmt.Errorf("light: invalid filter %d", f)
	}
	_, err := d.do(ctx, "F", f.Token())
	return err
}

// SetLevel sets the output level, 0–100 %.
func (d *Dev) SetLevel(ctx context.Context, level int) error {
	if level < 0 || level > 100 {
		return fmt.Errorf("light: level %d outside 0–100", level)
	}
	_, err := d.do(ctx, "L", strconv.Itoa(level))
	return err
}

// On switches the light on. With a UV/violet band selected and the
// interlock open it returns *InterlockError; above the thermal cut-off an
// error matching ErrOverTemperature.
func (d *Dev) On(ctx context.Context) error {
	_, err := d.do(ctx, "ON")
	return err
}

// Off switches the light off.
func (d *Dev) Off(ctx context.Context) error {
	_, err := d.do(ctx, "OFF")
	return err
}

// WaitSettled polls the status every poll interval until the output has
// settled, and returns that status.
func (d *Dev) WaitSettled(ctx context.Context, poll time.Duration) (Status, error) {
	for {
		st, err := d.Status(ctx)
		if err != nil || st.Settled {
			return st, err
		}
		if clock.Sleep(ctx, d.cfg.Clock, poll) != nil {
			return st, d.cancelled(ctx)
		}
	}
}

// Halt switches the light off: the inert state. It abandons a command in
// progress (which then returns ErrHalted), re-opens the port if needed and
// retries within cfg.HaltTimeout. It takes no context so that it can run
// after the caller's context is gone.
func (d *Dev) Halt() error {
	d.inflightMu.Lock()
	if d.inflight != nil {
		d.inflight(ErrHalted)
	}
	d.inflightMu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	return d.haltLocked()
}

func (d *Dev) haltLocked() error {
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.HaltTimeout)
	defer cancel()
	_, err := d.roundTrip(ctx, "OFF")
	if err != nil {
		err = fmt.Errorf("light: halt (light off) failed: %w", err)
		d.cfg.Logger.Error("light engine halt failed", "path", d.cfg.Path, "err", err)
	}
	return err
}

// HaltOnCancel arranges for Halt to run when ctx is done, for example a
// capture session's context or one from signal.NotifyContext. The returned
// stop function cancels the arrangement (see context.AfterFunc).
func (d *Dev) HaltOnCancel(ctx context.Context) (stop func() bool) {
	return context.AfterFunc(ctx, func() { _ = d.Halt() })
}

// Close halts the device and releases the port. Close after Close returns
// nil.
func (d *Dev) Close() error {
	d.inflightMu.Lock()
	if d.inflight != nil {
		d.inflight(ErrHalted)
	}
	d.inflightMu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	err := d.haltLocked()
	d.closed = true
	if d.conn != nil {
		err = errors.Join(err, d.conn.Close())
		d.conn = nil
	}
	return err
}

// do runs one command under the lock. If the caller's context ends before
// the command completes, the light is switched off before returning.
func (d *Dev) do(ctx context.Context, words ...string) (map[string]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	d.inflightMu.Lock()
	d.inflight = cancel
	d.inflightMu.Unlock()
	defer func() {
		d.inflightMu.Lock()
		d.inflight = nil
		d.inflightMu.Unlock()
	}()

	f, err := d.roundTrip(cctx, words...)
	if err == nil {
		d.count(func(s *Stats) { s.Commands++ })
		return f, nil
	}
	var de *DeviceError
	if errors.As(err, &de) {
		d.count(func(s *Stats) { s.Commands++ })
	}
	if cctx.Err() != nil {
		if context.Cause(cctx) == ErrHalted {
			return nil, ErrHalted
		}
		return nil, errors.Join(d.cancelledLocked(ctx, words[0]), d.haltLocked())
	}
	return nil, err
}

func (d *Dev) cancelled(ctx context.Context) error {
	return errors.Join(fmt.Errorf("light: cancelled: %w", ctx.Err()), d.Halt())
}

func (d *Dev) cancelledLocked(ctx context.Context, cmd string) error {
	return fmt.Errorf("light: %s cancelled, light switched off: %w", cmd, context.Cause(ctx))
}

// errLink marks a failure of the serial link itself (as opposed to a
// timeout): the port must be closed and re-opened.
type errLink struct{ err error }

func (e errLink) Error() string { return e.err.Error() }
func (e errLink) Unwrap() error { return e.err }

// classify marks the errors after which the port must be re-opened: the
// link went away (serialport.ErrDisconnected) or the Conn was closed under
// us. Anything else — a playback mismatch, for one — is returned as it is.
func classify(err error) error {
	if errors.Is(err, serialport.ErrDisconnected) || errors.Is(err, serialport.ErrClosed) {
		return errLink{err}
	}
	return err
}

// roundTrip sends a command and returns the fields of its OK reply,
// re-opening the port after link failures.
func (d *Dev) roundTrip(ctx context.Context, words ...string) (map[string]string, error) {
	const maxLinkFailures = 3
	var last error
	for failures := 0; failures < maxLinkFailures; failures++ {
		if d.conn == nil {
			if err := d.reconnect(ctx); err != nil {
				return nil, err
			}
		}
		f, err := d.exchange(ctx, words)
		var le errLink
		if !errors.As(err, &le) {
			return f, err
		}
		last = err
		d.cfg.Logger.Warn("light engine link failed; re-opening", "path", d.cfg.Path, "err", err)
		d.conn.Close()
		d.conn = nil
	}
	return nil, fmt.Errorf("%w: %s: link failed %d times: %w", ErrDisconnected, d.cfg.Path, maxLinkFailures, last)
}

// reconnect opens the port, retrying with backoff until it appears, and
// checks the identity of whatever answers.
func (d *Dev) reconnect(ctx context.Context) error {
	// The deadline bounds waiting for the port to appear; the identity
	// exchange on an opened port has its own timeouts.
	wait, cancel := context.WithTimeout(ctx, d.cfg.ReconnectTimeout)
	defer cancel()
	first := d.id.Serial == ""
	backoff := 10 * time.Millisecond
	var last error
	for {
		conn, err := d.cfg.Open(wait, d.cfg.Path, d.mode)
		if err == nil {
			d.conn = conn
			d.buf = d.buf[:0]
			var f map[string]string
			f, err = d.exchange(ctx, []string{"ID"})
			if err == nil {
				id := devices.Identity{Model: f["MODEL"], Serial: f["SN"], Firmware: d.id.Firmware}
				switch {
				case !first && (id.Model != d.id.Model || id.Serial != d.id.Serial):
					conn.Close()
					d.conn = nil
					return fmt.Errorf("%w at %s: expected %s SN %s, got %s SN %s",
						ErrWrongDevice, d.cfg.Path, d.id.Model, d.id.Serial, id.Model, id.Serial)
				case first:
					// Written only before Open returns the Dev, so String
					// and Identity need no lock.
					d.id = id
					return nil
				default:
					d.count(func(s *Stats) { s.Reconnects++ })
					d.cfg.Logger.Info("light engine re-opened", "path", d.cfg.Path)
					return nil
				}
			}
			conn.Close()
			d.conn = nil
			var le errLink
			if !errors.As(err, &le) {
				// Something is there but does not answer properly:
				// waiting longer will not help.
				return err
			}
		}
		last = err
		if clock.Sleep(wait, d.cfg.Clock, backoff) != nil {
			return fmt.Errorf("%w: %s: %w (last error: %w)", ErrDisconnected, d.cfg.Path, wait.Err(), last)
		}
		backoff = min(2*backoff, 250*time.Millisecond)
	}
}

// exchange sends one command on the current connection and waits for its
// reply, retrying up to cfg.Attempts times. I/O failures come back as
// errLink.
func (d *Dev) exchange(ctx context.Context, words []string) (map[string]string, error) {
	var last error
	for attempt := 1; attempt <= d.cfg.Attempts; attempt++ {
		if attempt > 1 {
			d.count(func(s *Stats) { s.Retries++ })
			d.cfg.Logger.Debug("light engine retry", "cmd", words[0], "attempt", attempt, "err", last)
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("light: %s: %w", words[0], err)
		}
		d.seq++
		seq := int(d.seq)
		frame := Frame{Seq: seq, Words: words}.Append(nil)
		// Whatever is still buffered belongs to earlier attempts.
		if err := d.conn.ResetInputBuffer(); err != nil {
			return nil, classify(err)
		}
		d.buf = d.buf[:0]
		if _, err := d.conn.Write(frame); err != nil {
			return nil, classify(err)
		}
		d.count(func(s *Stats) { s.Sent++ })
		f, err := d.awaitReply(ctx, seq, words)
		switch {
		case err == nil:
			return f, nil
		case errors.As(err, new(retryable)):
			last = err
			continue
		default:
			return nil, err
		}
	}
	return nil, fmt.Errorf("%w to %s after %d attempts: %w", ErrNoReply, words[0], d.cfg.Attempts, last)
}

// retryable marks the reasons for sending a command again.
type retryable struct{ error }

func (r retryable) Unwrap() error { return r.error }

func retry(err error) error { return retryable{err} }

// awaitReply reads lines until the reply with the given sequence number
// arrives or the attempt times out.
func (d *Dev) awaitReply(ctx context.Context, seq int, words []string) (map[string]string, error) {
	deadline := time.Now().Add(d.cfg.Timeout)
	for {
		line, err := d.readLine(ctx, deadline)
		if errors.Is(err, serialport.ErrTimeout) {
			d.count(func(s *Stats) { s.Timeouts++ })
			return nil, retry(fmt.Errorf("timeout after %v", d.cfg.Timeout))
		}
		if err != nil {
			return nil, err
		}
		f, err := ParseFrame(line)
		if err != nil {
			// Cannot tell whose reply this was: assume it was ours.
			d.count(func(s *Stats) { s.BadFrames++ })
			return nil, retry(fmt.Errorf("reply %q: %w", line, err))
		}
		switch {
		case f.Seq == seq:
		case f.Seq == NoSeq && (f.Words[0] == "E01" || f.Words[0] == "E04"):
			// The device could not read our sequence number; the only
			// command it can be complaining about is the one in flight.
		default:
			d.count(func(s *Stats) { s.Stale++ })
			continue
		}
		return d.interpret(f, words)
	}
}

// interpret turns a reply to words into fields or an error.
func (d *Dev) interpret(f Frame, words []string) (map[string]string, error) {
	w := f.Words
	if w[0] == "OK" {
		fields := make(map[string]string, len(w)-1)
		for _, kv := range w[1:] {
			k, v, ok := bytes.Cut([]byte(kv), []byte("="))
			if !ok || len(k) == 0 {
				return nil, retry(fmt.Errorf("%w: field %q in reply to %s is not KEY=VALUE", ErrProtocol, kv, words[0]))
			}
			fields[string(k)] = string(v)
		}
		if err := checkReply(words, fields); err != nil {
			return nil, retry(err)
		}
		return fields, nil
	}
	if len(w[0]) == 3 && w[0][0] == 'E' {
		code, err := strconv.Atoi(w[0][1:])
		if err == nil {
			de := &DeviceError{Code: code, Command: words[0]}
			if len(w) > 1 {
				de.Mnemonic = w[1]
			}
			if len(w) > 2 {
				de.Detail = w[2]
			}
			switch code {
			case CodeChecksum, CodeLineTooLong:
				// Our frame arrived damaged; the device did nothing.
				return nil, retry(de)
			case CodeInterlock:
				// The device names the refused band; an older or broken
				// firmware that does not is still reported as a refusal.
				b, err := ParseBand(de.Detail)
				if err != nil {
					b = numBands
				}
				return nil, &InterlockError{Band: b, Command: words[0], reply: de}
			}
			return nil, de
		}
	}
	return nil, retry(fmt.Errorf("%w: reply %q to %s", ErrProtocol, f.String(), words[0]))
}

// checkReply verifies an OK reply: a set command's reply must echo the value
// sent, and ID, VER and ST replies must carry well-formed fields. A failure
// is treated like a damaged reply and retried.
func checkReply(words []string, f map[string]string) error {
	var key, want string
	switch words[0] {
	case "B", "F", "L":
		key, want = words[0], words[1]
	case "ON":
		key, want = "ON", "1"
	case "OFF":
		key, want = "ON", "0"
	case "ID":
		if f["MODEL"] == "" || f["SN"] == "" {
			return fmt.Errorf("%w: ID reply lacks MODEL= or SN=", ErrProtocol)
		}
		return nil
	case "VER":
		if f["FW"] == "" {
			return fmt.Errorf("%w: VER reply has no FW=", ErrProtocol)
		}
		return nil
	case "ST":
		_, err := parseStatus(f)
		return err
	default:
		return nil
	}
	if got, ok := f[key]; !ok || got != want {
		return fmt.Errorf("%w: sent %s, device echoed %s=%q", ErrProtocol, words, key, got)
	}
	return nil
}

// readLine returns the next complete line (without its '\n'), reading in
// short slices so that ctx is honoured.
func (d *Dev) readLine(ctx context.Context, deadline time.Time) ([]byte, error) {
	var chunk [64]byte
	for {
		if i := bytes.IndexByte(d.buf, '\n'); i >= 0 {
			line := bytes.Clone(d.buf[:i])
			d.buf = append(d.buf[:0], d.buf[i+1:]...)
			return line, nil
		}
		if len(d.buf) > maxLineBuffer {
			d.count(func(s *Stats) { s.BadFrames++ })
			d.buf = d.buf[:0]
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("light: waiting for a reply: %w", err)
		}
		left := deadline.Sub(time.Now())
		if left <= 0 {
			return nil, serialport.ErrTimeout
		}
		if err := d.conn.SetReadTimeout(min(left, pollSlice)); err != nil {
			return nil, classify(err)
		}
		n, err := d.conn.Read(chunk[:])
		d.buf = append(d.buf, chunk[:n]...)
		switch {
		case err == nil, errors.Is(err, serialport.ErrTimeout):
		case errors.Is(err, io.EOF):
			return nil, errLink{fmt.Errorf("%w: %w", serialport.ErrDisconnected, err)}
		default:
			return nil, classify(err)
		}
	}
}

func parseStatus(f map[string]string) (Status, error) {
	st := Status{At: time.Now()}
	bad := func(key string) (Status, error) {
		return Status{}, fmt.Errorf("%w: status field %s=%q", ErrProtocol, key, f[key])
	}
	var err error
	if st.Band, err = ParseBand(f["B"]); err != nil {
		return bad("B")
	}
	if st.Filter, err = ParseFilter(f["F"]); err != nil {
		return bad("F")
	}
	if st.Level, err = strconv.Atoi(f["L"]); err != nil || st.Level < 0 || st.Level > 100 {
		return bad("L")
	}
	if st.On, err = parseFlag(f["ON"]); err != nil {
		return bad("ON")
	}
	if st.Temperature, err = strconv.ParseFloat(f["T"], 64); err != nil {
		return bad("T")
	}
	switch f["IL"] {
	case "OPEN":
		st.InterlockOpen = true
	case "CLOSED":
	default:
		return bad("IL")
	}
	if st.Derating, err = strconv.Atoi(f["D"]); err != nil || st.Derating < 0 || st.Derating > 100 {
		return bad("D")
	}
	if st.Settled, err = parseFlag(f["S"]); err != nil {
		return bad("S")
	}
	return st, nil
}

func parseFlag(s string) (bool, error) {
	switch s {
	case "1":
		return true, nil
	case "0":
		return false, nil
	}
	return false, errors.New("want 0 or 1")
}
