package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/serialport"
	"github.com/exhibit-forensics/exhibit/internal/clock"
)

// Serial runs sessions over a serial line, reopening it by path whenever it
// fails (an adapter unplugged, the far end of a pseudo-terminal gone) or
// cannot be opened yet.
type Serial struct {
	Path    string          // a stable path: /dev/serial/by-id/…, or a symlink
	Mode    serialport.Mode // zero Baud: 9600 (8N1)
	Backoff Backoff
	Logger  *slog.Logger
	// Open opens the port; nil means serialport.Open. A test seam.
	Open  func(ctx context.Context, path string, m serialport.Mode) (serialport.Conn, error)
	Clock clock.Clock // backoff waits and connection times; nil: clock.System
}

var _ Runner = (*Serial)(nil)

// Run runs sessions until ctx ends.
func (s *Serial) Run(ctx context.Context, serve Session) error {
	if s.Path == "" {
		return errors.New("transport: serial line needs a path")
	}
	c := newCommon(s.Logger, s.Clock)
	open := s.Open
	if open == nil {
		open = serialport.Open
	}
	mode := s.Mode
	if mode.Baud == 0 {
		mode.Baud = 9600
	}
	var delay time.Duration
	failing := false
	for ctx.Err() == nil {
		p, err := open(ctx, s.Path, mode)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			delay = s.Backoff.Next(delay)
			// Log the first failure and then only when the wait grows, so
			// that an adapter left unplugged overnight does not flood the log.
			if !failing || delay < s.Backoff.withDefaults().Max {
				c.log.Warn("transport: cannot open serial line; retrying", "path", s.Path, "error", err, "retry", delay)
			}
			failing = true
			if c.wait(ctx, delay) != nil {
				break
			}
			continue
		}
		failing = false
		// Bytes that arrived while nobody had the line open cannot be
		// acknowledged any more; the instrument will send again. Dropping
		// them keeps stale ENQs from confusing the first exchange.
		if err := p.ResetInputBuffer(); err != nil {
			c.log.Warn("transport: cannot flush serial input", "path", s.Path, "error", err)
		}
		sc := &serialConn{p: p, path: s.Path}
		c.log.Info("transport: serial line open", "path", s.Path, "mode", mode.String())
		start := c.now()
		stop := closeOnDone(ctx, sc)
		err = serve(ctx, sc)
		stop()
		sc.Close()
		if ctx.Err() != nil {
			break
		}
		if c.now().Sub(start) >= s.Backoff.withDefaults().Stable {
			delay = 0
		}
		delay = s.Backoff.Next(delay)
		c.log.Warn("transport: serial line ended; reopening", "path", s.Path, "error", err, "retry", delay)
		if c.wait(ctx, delay) != nil {
			break
		}
	}
	return nil
}

// serialConn turns a serialport.Conn, whose reads time out, into a plain
// stream whose Read blocks until data arrives, the line fails or the Conn
// is closed.
type serialConn struct {
	p      serialport.Conn
	path   string
	closed atomic.Bool
}

var _ Conn = (*serialConn)(nil)

func (c *serialConn) Read(b []byte) (int, error) {
	for {
		n, err := c.p.Read(b)
		if errors.Is(err, serialport.ErrTimeout) && n == 0 {
			if c.closed.Load() {
				return 0, serialport.ErrClosed
			}
			continue
		}
		return n, err
	}
}

func (c *serialConn) Write(b []byte) (int, error) { return c.p.Write(b) }

func (c *serialConn) Close() error {
	c.closed.Store(true)
	return c.p.Close()
}

func (c *serialConn) String() string { return fmt.Sprintf("serial %s", c.path) }
