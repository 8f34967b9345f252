package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/clock"
)

// DefaultKeepAlive is the TCP keep-alive used when none is given: probe
// after 60 s of silence, every 15 s, and give up after 4 unanswered probes,
// so a peer that vanished is noticed within about two minutes while a
// healthy idle instrument is never disconnected.
var DefaultKeepAlive = net.KeepAliveConfig{Enable: true, Idle: 60 * time.Second, Interval: 15 * time.Second, Count: 4}

func keepAlive(k net.KeepAliveConfig) net.KeepAliveConfig {
	if k == (net.KeepAliveConfig{}) {
		return DefaultKeepAlive
	}
	return k
}

// DefaultMaxConns is the number of connections a Server serves at once
// when MaxConns is zero.
const DefaultMaxConns = 16

// DefaultEvictGrace is how long an evicted connection is given to finish
// when EvictGrace is zero: longer than lab/receive's default time for one
// capture (10 s) plus the write of its acknowledgement, and than the E1381
// reply timer (15 s) after which an instrument no longer waits for that
// acknowledgement.
const DefaultEvictGrace = 30 * time.Second

// Server accepts TCP connections from instruments and serves each in its
// own goroutine.
//
// At most MaxConns connections are served at once. A connection that
// arrives when all are taken is never refused: the served connection that
// has made the least recent progress is evicted to make room. Progress is
// this side writing to the peer (an ASTM ACK, an HL7 acknowledgement), or
// the connection being accepted if nothing was ever written; bytes read
// are not progress, so a peer that dribbles a byte a second, or sends
// what is never acknowledged, is the first to go. Eviction shuts the read
// side: the session's reads report io.EOF, as if the peer had closed, while
// its writes still work, so a message being stored when the eviction comes
// is still stored and still acknowledged. The connection is closed when
// the session returns, or after EvictGrace if it has not; the new
// connection is served at once, without waiting for either.
type Server struct {
	Addr      string              // host:port to listen on
	KeepAlive net.KeepAliveConfig // zero: DefaultKeepAlive
	MaxConns  int                 // connections served at once; zero: DefaultMaxConns
	// EvictGrace is how long an evicted connection's session may take to
	// return before the connection is closed under it; zero:
	// DefaultEvictGrace. At most MaxConns evicted connections are kept
	// finishing; beyond that the one evicted first is closed at once.
	EvictGrace time.Duration
	Logger     *slog.Logger
	// Ready, if set, is called with the bound address before the first
	// Accept (useful with port 0).
	Ready func(net.Addr)
	// Listen opens the listener; nil uses net.ListenConfig with the
	// keep-alive settings. A test seam.
	Listen func(ctx context.Context, addr string) (net.Listener, error)
	// Clock times the wait after an Accept error, an evicted connection's
	// grace, and progress and idle times; nil: clock.System.
	Clock clock.Clock
}

var _ Runner = (*Server)(nil)

// Run listens on Addr and serves connections until ctx ends.
func (s *Server) Run(ctx context.Context, serve Session) error {
	listen := s.Listen
	if listen == nil {
		lc := net.ListenConfig{KeepAliveConfig: keepAlive(s.KeepAlive)}
		listen = func(ctx context.Context, addr string) (net.Listener, error) { return lc.Listen(ctx, "tcp", addr) }
	}
	ln, err := listen(ctx, s.Addr)
	if err != nil {
		return fmt.Errorf("transport: listen %s: %w", s.Addr, err)
	}
	if s.Ready != nil {
		s.Ready(ln.Addr())
	}
	return s.Serve(ctx, ln, serve)
}

// Serve serves connections accepted from ln until ctx ends, then closes ln
// and every connection and waits for their sessions to return.
func (s *Server) Serve(ctx context.Context, ln net.Listener, serve Session) error {
	c := newCommon(s.Logger, s.Clock)
	max := s.MaxConns
	if max <= 0 {
		max = DefaultMaxConns
	}
	grace := s.EvictGrace
	if grace <= 0 {
		grace = DefaultEvictGrace
	}
	ka := keepAlive(s.KeepAlive)
	stop := closeOnDone(ctx, ln)
	defer stop()
	defer ln.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	base := c.now()
	since := func() time.Duration { return c.now().Sub(base) }
	p := &pool{max: max}
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("transport: listener closed: %w", err)
			}
			// EMFILE and the like: wait and try again, as net/http does.
			delay = Backoff{Min: 5 * time.Millisecond, Max: time.Second}.Next(delay)
			c.log.Error("transport: accept failed; retrying", "addr", ln.Addr().String(), "error", err, "retry", delay)
			if c.wait(ctx, delay) != nil {
				return nil
			}
			continue
		}
		delay = 0
		if tc, ok := nc.(*net.TCPConn); ok {
			if err := tc.SetKeepAliveConfig(ka); err != nil {
				c.log.Warn("transport: cannot set keep-alive", "remote", nc.RemoteAddr().String(), "error", err)
			}
		}
		tc := newTCPConn(nc)
		tc.track(since)
		tc.gone, tc.end = context.WithCancel(ctx)
		victim, stale := p.admit(tc)
		if victim != nil {
			c.log.Warn("transport: all connection slots taken; evicting the connection with the least recent progress",
				"remote", victim.remote, "idle", victim.idle(since()), "for", tc.remote, "max", max)
			victim.evict()
			wg.Add(1)
			go func() {
				defer wg.Done()
				if c.wait(victim.gone, grace) == nil {
					c.log.Warn("transport: evicted connection did not finish in time; closing it", "remote", victim.remote, "grace", grace)
					victim.Close()
				}
			}()
		}
		if stale != nil {
			c.log.Warn("transport: too many evicted connections still finishing; closing the first evicted at once",
				"remote", stale.remote, "max", max)
			stale.Close()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer p.remove(tc)
			runTCP(ctx, c, tc, serve)
		}()
	}
}

// pool is the set of connections a Server serves: the active ones, which
// count against MaxConns, and the evicted ones still finishing.
type pool struct {
	mu       sync.Mutex
	max      int
	active   []*tcpConn // in order of acceptance
	draining []*tcpConn // in order of eviction
}

// admit adds tc to the active connections. If they were all taken, it
// moves the one with the least recent progress (the earliest accepted of
// equals) to the draining ones and returns it as victim, and if that makes
// more than max draining, removes the first of them and returns it as
// stale.
func (p *pool) admit(tc *tcpConn) (victim, stale *tcpConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.active) >= p.max {
		i := 0
		for j := range p.active {
			if p.active[j].progress.Load() < p.active[i].progress.Load() {
				i = j
			}
		}
		victim = p.active[i]
		p.active = slices.Delete(p.active, i, i+1)
		p.draining = append(p.draining, victim)
		if len(p.draining) > p.max {
			stale = p.draining[0]
			p.draining = slices.Delete(p.draining, 0, 1)
		}
	}
	p.active = append(p.active, tc)
	return victim, stale
}

// remove forgets tc once its session has returned.
func (p *pool) remove(tc *tcpConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i := slices.Index(p.active, tc); i >= 0 {
		p.active = slices.Delete(p.active, i, i+1)
	}
	if i := slices.Index(p.draining, tc); i >= 0 {
		p.draining = slices.Delete(p.draining, i, i+1)
	}
}

// Client dials an instrument that listens, and redials whenever the
// connection ends or cannot be made.
type Client struct {
	Addr      string
	KeepAlive net.KeepAliveConfig // zero: DefaultKeepAlive
	Backoff   Backoff
	Logger    *slog.Logger
	// Dial connects; nil uses net.Dialer with a 10 s timeout and the
	// keep-alive settings. A test seam.
	Dial  func(ctx context.Context, addr string) (net.Conn, error)
	Clock clock.Clock // backoff waits and connection times; nil: clock.System
}

var _ Runner = (*Client)(nil)

// Run dials and serves connections, one at a time, until ctx ends.
func (cl *Client) Run(ctx context.Context, serve Session) error {
	c := newCommon(cl.Logger, cl.Clock)
	dial := cl.Dial
	if dial == nil {
		d := net.Dialer{Timeout: 10 * time.Second, KeepAliveConfig: keepAlive(cl.KeepAlive)}
		dial = func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	}
	var delay time.Duration
	for ctx.Err() == nil {
		nc, err := dial(ctx, cl.Addr)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			delay = cl.Backoff.Next(delay)
			c.log.Warn("transport: cannot connect; retrying", "addr", cl.Addr, "error", err, "retry", delay)
			if c.wait(ctx, delay) != nil {
				break
			}
			continue
		}
		start := c.now()
		runTCP(ctx, c, newTCPConn(nc), serve)
		if ctx.Err() != nil {
			break
		}
		if c.now().Sub(start) >= cl.Backoff.withDefaults().Stable {
			delay = 0
		}
		delay = cl.Backoff.Next(delay)
		c.log.Info("transport: reconnecting", "addr", cl.Addr, "retry", delay)
		if c.wait(ctx, delay) != nil {
			break
		}
	}
	return nil
}

// tcpConn counts what passes, so that connect-and-drop probes can be told
// from instruments, and, for a Server, keeps the connection's progress and
// lets it be evicted.
type tcpConn struct {
	net.Conn
	remote  string
	in, out atomic.Int64

	// Kept only for a Server's connections (track).
	since    func() time.Duration // the Server's clock: time since it started
	progress atomic.Int64         // since() of the last write, or of the accept
	evicted  atomic.Bool
	gone     context.Context // ends when the session has returned
	end      context.CancelFunc
}

func newTCPConn(nc net.Conn) *tcpConn { return &tcpConn{Conn: nc, remote: nc.RemoteAddr().String()} }

// track starts keeping progress by the clock since, from now.
func (c *tcpConn) track(since func() time.Duration) {
	c.since = since
	c.progress.Store(int64(since()))
}

var _ Conn = (*tcpConn)(nil)

func (c *tcpConn) Read(b []byte) (int, error) {
	if c.evicted.Load() {
		return 0, io.EOF
	}
	n, err := c.Conn.Read(b)
	c.in.Add(int64(n))
	if err != nil && c.evicted.Load() {
		err = io.EOF
	}
	return n, err
}

func (c *tcpConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.out.Add(int64(n))
	if n > 0 && c.since != nil {
		c.progress.Store(int64(c.since()))
	}
	return n, err
}

// idle is how long before now (a since() value) the connection last made
// progress.
func (c *tcpConn) idle(now time.Duration) time.Duration {
	return (now - time.Duration(c.progress.Load())).Round(time.Millisecond)
}

// evict makes every read, the one in progress included, report io.EOF,
// and leaves writes working. A TCP connection's read side is shut down
// (shutdown(2) SHUT_RD), which wakes a blocked read; a connection without
// CloseRead gets a read deadline in the past instead.
func (c *tcpConn) evict() {
	c.evicted.Store(true)
	if cr, ok := c.Conn.(interface{ CloseRead() error }); ok && cr.CloseRead() == nil {
		return
	}
	_ = c.Conn.SetReadDeadline(time.Unix(1, 0))
}

func (c *tcpConn) String() string { return "tcp " + c.remote }

// NetConn returns the underlying connection.
func (c *tcpConn) NetConn() net.Conn { return c.Conn }

func runTCP(ctx context.Context, c common, tc *tcpConn, serve Session) {
	remote := tc.remote
	c.log.Info("transport: connected", "remote", remote, "local", tc.LocalAddr().String())
	start := c.now()
	stop := closeOnDone(ctx, tc)
	err := serve(ctx, tc)
	stop()
	tc.Close()
	if tc.end != nil {
		tc.end()
	}
	in, out := tc.in.Load(), tc.out.Load()
	if in == 0 && out == 0 {
		c.log.Debug("transport: connection closed without data (a port scanner or health check?)", "remote", remote,
			"evicted", tc.evicted.Load())
		return
	}
	c.log.Info("transport: connection ended", "remote", remote, "after", c.now().Sub(start).Round(time.Millisecond),
		"bytes-in", in, "bytes-out", out, "evicted", tc.evicted.Load(), "reason", err)
}
