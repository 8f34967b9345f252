package serialport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"go.bug.st/serial"
	"golang.org/x/sys/unix"
)

// Conn is an open serial line. Implementations: the go.bug.st/serial port
// returned by Open, serialtest.Record (wraps another Conn) and
// serialtest.Playback (replays a transcript).
//
// A Conn is used by one goroutine at a time, except that Close may be called
// concurrently to abort a blocked Read.
type Conn interface {
	// Read reads up to len(p) bytes. It blocks until at least one byte has
	// arrived or the read timeout has expired; in the latter case it returns
	// 0, ErrTimeout. A link that has gone away returns an error wrapping
	// ErrDisconnected; a Conn that has been closed returns ErrClosed.
	Read(p []byte) (int, error)
	// Write writes p. Errors are wrapped like Read's.
	Write(p []byte) (int, error)
	// SetReadTimeout sets how long one Read may wait; d <= 0 means Read
	// returns at once with whatever is already buffered (or ErrTimeout).
	SetReadTimeout(d time.Duration) error
	// ResetInputBuffer discards bytes received but not yet read.
	ResetInputBuffer() error
	// Drain waits until everything written has been transmitted.
	Drain() error
	// Close releases the port. It is idempotent.
	Close() error
}

// Errors reported by Conn implementations.
var (
	// ErrTimeout is returned by Read when the read timeout expired before any
	// byte arrived. It is not a link failure.
	ErrTimeout error = timeoutError{}
	// ErrDisconnected means the device went away underneath the Conn (USB
	// adapter removed, pseudo-terminal master closed). The Conn is useless
	// from then on; close it and open the path again.
	ErrDisconnected = errors.New("serialport: device disconnected")
	// ErrClosed is returned by operations on a Conn after Close.
	ErrClosed = errors.New("serialport: port closed")
)

type timeoutError struct{}

func (timeoutError) Error() string { return "serialport: read timeout" }

// Timeout reports true, so that ErrTimeout also satisfies the
// interface{ Timeout() bool } convention of package net.
func (timeoutError) Timeout() bool { return true }

// Parity is the parity bit setting.
type Parity int

// Parity settings.
const (
	NoParity Parity = iota
	OddParity
	EvenParity
)

// StopBits is the number of stop bits.
type StopBits int

// Stop bit settings.
const (
	OneStopBit StopBits = iota
	TwoStopBits
)

// Mode is the line configuration. The zero value of each field except Baud
// means the common default: 8 data bits, no parity, one stop bit (8N1).
type Mode struct {
	Baud     int
	DataBits int // 5–8; 0 means 8
	Parity   Parity
	StopBits StopBits
}

func (m Mode) String() string {
	db := m.DataBits
	if db == 0 {
		db = 8
	}
	p := "N"
	switch m.Parity {
	case OddParity:
		p = "O"
	case EvenParity:
		p = "E"
	}
	sb := 1
	if m.StopBits == TwoStopBits {
		sb = 2
	}
	return fmt.Sprintf("%d %d%s%d", m.Baud, db, p, sb)
}

func (m Mode) toSerial() (*serial.Mode, error) {
	if m.Baud <= 0 {
		return nil, fmt.Errorf("serialport: mode %v: baud rate must be positive", m)
	}
	sm := &serial.Mode{BaudRate: m.Baud, DataBits: m.DataBits}
	if sm.DataBits == 0 {
		sm.DataBits = 8
	}
	if sm.DataBits < 5 || sm.DataBits > 8 {
		return nil, fmt.Errorf("serialport: mode %v: data bits must be 5–8", m)
	}
	switch m.Parity {
	case NoParity:
		sm.Parity = serial.NoParity
	case OddParity:
		sm.Parity = serial.OddParity
	case EvenParity:
		sm.Parity = serial.EvenParity
	default:
		return nil, fmt.Errorf("serialport: mode %v: unknown parity %d", m, m.Parity)
	}
	switch m.StopBits {
	case OneStopBit:
		sm.StopBits = serial.OneStopBit
	case TwoStopBits:
		sm.StopBits = serial.TwoStopBits
	default:
		return nil, fmt.Errorf("serialport: mode %v: unknown stop bits %d", m, m.StopBits)
	}
	return sm, nil
}

// openPort is the seam to the serial library; tests replace it to simulate
// open failures.
var openPort = func(path string, m *serial.Mode) (serial.Port, error) { return serial.Open(path, m) }

// Open opens the serial device at path (a /dev node or a symlink to one) in
// raw mode with the given line settings. The returned Conn starts with a read
// timeout of one second.
//
// go.bug.st/serial opens and configures the line (raw mode, speed, framing,
// exclusive access) and serves the control operations. Reads and writes go
// through a second, non-blocking descriptor of the same device, opened just
// before (exclusive access refuses later opens), on Go's network poller:
// the library's Read makes a blocking select(2) and read(2) per call, and a
// blocking system call makes the Go runtime hand its processor to another
// thread, which for an instrument that sends a frame and waits for an ACK
// costs more CPU than everything else the receiver does. Line settings
// belong to the device, so both descriptors see the same configuration.
func Open(ctx context.Context, path string, m Mode) (Conn, error) {
	sm, err := m.toSerial()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("serialport: open %s: %w", path, err)
	}
	f, err := openIO(path)
	if err != nil {
		return nil, fmt.Errorf("serialport: open %s: %w", path, err)
	}
	p, err := openPort(path, sm)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("serialport: open %s: %w", path, err)
	}
	c := &port{p: p, f: f, path: path}
	if err := c.SetReadTimeout(time.Second); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// port adapts a go.bug.st/serial Port to Conn.
type port struct {
	p       serial.Port
	f       *os.File // the same device, non-blocking, for reads and writes
	path    string
	timeout atomic.Int64 // read timeout in nanoseconds; <= 0: return at once
	closed  atomic.Bool
}

var _ Conn = (*port)(nil)

func (c *port) String() string { return c.path }

func (c *port) Read(b []byte) (int, error) {
	if c.closed.Load() {
		return 0, ErrClosed
	}
	if len(b) == 0 {
		return 0, nil
	}
	var n int
	var err error
	if d := time.Duration(c.timeout.Load()); d > 0 {
		if err := c.f.SetReadDeadline(time.Now().Add(d)); err != nil {
			return 0, c.wrap("read", err)
		}
		n, err = c.f.Read(b)
	} else {
		n, err = c.readNow(b)
	}
	switch {
	case n > 0:
		return n, nil
	case errors.Is(err, os.ErrDeadlineExceeded), err == nil:
		return 0, ErrTimeout
	case errors.Is(err, io.EOF):
		// A hang-up: the far end (USB adapter, pseudo-terminal master)
		// went away.
		return 0, c.wrap("read", err)
	}
	return 0, c.wrap("read", err)
}

// readNow reads what is buffered without waiting (a deadline already
// passed would stop the poller before it tried).
func (c *port) readNow(b []byte) (n int, err error) {
	rc, err := c.f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var rerr error
	if err := rc.Read(func(fd uintptr) bool {
		n, rerr = unix.Read(int(fd), b)
		return true
	}); err != nil {
		return 0, err
	}
	switch {
	case errors.Is(rerr, unix.EAGAIN):
		return 0, nil
	case rerr != nil:
		return 0, rerr
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (c *port) Write(b []byte) (int, error) {
	if c.closed.Load() {
		return 0, ErrClosed
	}
	n, err := c.f.Write(b)
	if err != nil {
		return n, c.wrap("write", err)
	}
	if n < len(b) {
		return n, fmt.Errorf("serialport: write %s: %w", c.path, io.ErrShortWrite)
	}
	return n, nil
}

// wrap classifies an error from the serial library. Any failure that is not
// caused by our own Close means the link is unusable: a vanished USB adapter
// shows up as EIO, ENXIO or a hang-up (reported by go.bug.st/serial as
// PortClosed) depending on timing, so all of them map to ErrDisconnected.
func (c *port) wrap(op string, err error) error {
	if c.closed.Load() {
		return fmt.Errorf("serialport: %s %s: %w", op, c.path, ErrClosed)
	}
	return fmt.Errorf("serialport: %s %s: %w (%w)", op, c.path, ErrDisconnected, err)
}

func (c *port) SetReadTimeout(d time.Duration) error {
	if d < 0 {
		d = 0
	}
	c.timeout.Store(int64(d))
	return nil
}

func (c *port) ResetInputBuffer() error {
	if c.closed.Load() {
		return ErrClosed
	}
	if err := c.p.ResetInputBuffer(); err != nil {
		return c.wrap("reset input", err)
	}
	return nil
}

func (c *port) Drain() error {
	if c.closed.Load() {
		return ErrClosed
	}
	if err := c.p.Drain(); err != nil {
		return c.wrap("drain", err)
	}
	return nil
}

func (c *port) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	// Closing the poller's descriptor wakes a blocked Read.
	err := errors.Join(c.f.Close(), c.p.Close())
	if err != nil {
		return fmt.Errorf("serialport: close %s: %w", c.path, err)
	}
	return nil
}

// openIO opens the device again for I/O, non-blocking so that os.File puts
// it on the poller. It is a seam, like openPort.
var openIO = func(path string) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}
