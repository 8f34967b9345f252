// Package transport carries analyser protocols over the links instruments
// use: serial lines (through devices/serialport, the one place that opens
// serial ports) and TCP, with this side as the server (instruments that
// connect to the laboratory system) or as the client (instruments that
// listen).
//
// Each transport is a Runner: Run obtains connections one after another
// (or, for a server, side by side) and hands each to a Session — for
// example lab/receive's Receiver.Serve — until the context ends. What
// analyser links need from it (firmware-notes/transport.md gives the
// reasons and the alternatives rejected):
//
//   - Connections are held open for as long as the instrument keeps them,
//     which is days: there are no idle deadlines, since an analyser may
//     send nothing for hours. A message in progress is bounded by the
//     protocol (the ASTM frame timer, the HL7 per-message deadline), not
//     here. A TCP peer that vanished without closing (power cut, cable
//     pulled) is found by TCP keep-alive probes (by default after 60 s
//     idle, every 15 s, 4 probes), and the connection is then closed.
//   - A serial adapter that goes away (serialport.ErrDisconnected) is
//     reopened by path — use a stable path such as /dev/serial/by-id/… —
//     and a TCP client redials, both with exponential backoff (Backoff)
//     that resets once a connection has lasted Backoff.Stable.
//   - A server tolerates port scanners and health checks that connect and
//     drop: such a connection is logged at debug level and costs nothing
//     else.
//   - A server serves at most MaxConns connections at once, but never
//     refuses a new connection in favour of one that is doing nothing:
//     when all slots are taken, the connection that has made the least
//     recent progress is evicted and the new one served at once. Progress
//     is this side writing to the peer — every protocol here answers what
//     it receives (ASTM ACKs each ENQ and frame, HL7 acknowledges each
//     message) — or, if nothing was ever written, the accept; bytes read
//     are not progress, so an idle peer, a peer that sends a byte a second
//     and one whose messages are never acknowledged all lose to an
//     instrument that is answered. Eviction shuts only the read side: the
//     session reads io.EOF, as if the peer had closed, while a message
//     being stored is still stored and its acknowledgement still written;
//     the session's context is not cancelled. The connection is closed
//     when the session returns, or after Server.EvictGrace (default 30 s)
//     if it has not. Each eviction is logged with the peer's address and
//     its idle time.
//
// A Spec is the transport as a command's flags give it (--transport, --link,
// --listen, --connect, --baud, --max-conns), checked and turned into a
// Runner the same way for `exhibit lab receive` and `exhibit sim analyser`.
//
// The clock is injected (Clock, an internal/clock.Clock: backoff waits,
// eviction grace, idle and connection times), and so are the ways of opening
// serial ports and dialling (Open, Dial, Listen), so that tests drive
// reconnection, time-outs and eviction without sleeping.
package transport

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/clock"
)

// A Conn is one connection to an instrument.
type Conn interface {
	io.ReadWriteCloser
	// String describes the connection for logs: a serial path or
	// "tcp 10.0.0.5:4001".
	String() string
}

// A Session serves one connection until it ends or ctx ends. The transport
// closes the connection when the session returns, and also when ctx ends,
// which unblocks the session's reads. A Server may also evict the
// connection to make room for a new one: its reads then report io.EOF, as
// if the peer had closed, while its writes still work and ctx goes on, so
// that what the session is storing can still be acknowledged; a session
// should return once its reads have ended.
type Session func(ctx context.Context, c Conn) error

// A Runner runs sessions over one transport until ctx ends. It returns nil
// when ctx ends, and an error only when it cannot work at all (for
// example, a server whose address cannot be bound).
type Runner interface {
	Run(ctx context.Context, s Session) error
}

// Backoff is how long to wait between attempts: Min after the first
// failure, doubling up to Max. A connection that lasted at least Stable
// counts as a success and resets the wait to Min.
type Backoff struct {
	Min, Max time.Duration // zero: 250 ms and 30 s
	Stable   time.Duration // zero: 10 s
}

func (b Backoff) withDefaults() Backoff {
	if b.Min <= 0 {
		b.Min = 250 * time.Millisecond
	}
	if b.Max < b.Min {
		b.Max = 30 * time.Second
		if b.Max < b.Min {
			b.Max = b.Min
		}
	}
	if b.Stable <= 0 {
		b.Stable = 10 * time.Second
	}
	return b
}

// Next returns the wait after cur (0 before any failure).
func (b Backoff) Next(cur time.Duration) time.Duration {
	b = b.withDefaults()
	if cur < b.Min {
		return b.Min
	}
	if cur >= b.Max/2 {
		return b.Max
	}
	return cur * 2
}

// common holds what every transport is given.
type common struct {
	log *slog.Logger
	clk clock.Clock
}

func newCommon(l *slog.Logger, clk clock.Clock) common {
	if l == nil {
		l = slog.Default()
	}
	if clk == nil {
		clk = clock.System
	}
	return common{l, clk}
}

// wait waits d on the clock, or until ctx ends (then ctx.Err()).
func (c common) wait(ctx context.Context, d time.Duration) error { return clock.Sleep(ctx, c.clk, d) }

func (c common) now() time.Time { return c.clk.Now() }

// closeOnDone closes c when ctx ends and returns a function that stops
// watching.
func closeOnDone(ctx context.Context, c io.Closer) func() bool {
	return context.AfterFunc(ctx, func() { c.Close() })
}
