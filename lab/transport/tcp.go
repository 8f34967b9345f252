package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
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

// Server accepts TCP connections from instruments and serves each in its
// own goroutine.
type Server struct {
	Addr      string              // host:port to listen on
	KeepAlive net.KeepAliveConfig // zero: DefaultKeepAlive
	MaxConns  int                 // connections served at once; zero: 16
	Logger    *slog.Logger
	// Ready, if set, is called with the bound address before the first
	// Accept (useful with port 0).
	Ready func(net.Addr)
	// Listen opens the listener; nil uses net.ListenConfig with the
	// keep-alive settings. A test seam.
	Listen func(ctx context.Context, addr string) (net.Listener, error)
	Wait   WaitFunc         // waits after an Accept error; nil: Sleep
	Now    func() time.Time // nil: time.Now
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
	c := newCommon(s.Logger, s.Wait, s.Now)
	max := s.MaxConns
	if max <= 0 {
		max = 16
	}
	ka := keepAlive(s.KeepAlive)
	stop := closeOnDone(ctx, ln)
	defer stop()
	defer ln.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, max)
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
		select {
		case slots <- struct{}{}:
		default:
			c.log.Warn("transport: too many connections; refusing one", "remote", nc.RemoteAddr().String(), "max", max)
			nc.Close()
			continue
		}
		if tc, ok := nc.(*net.TCPConn); ok {
			if err := tc.SetKeepAliveConfig(ka); err != nil {
				c.log.Warn("transport: cannot set keep-alive", "remote", nc.RemoteAddr().String(), "error", err)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			runTCP(ctx, c, newTCPConn(nc), serve)
		}()
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
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	Wait WaitFunc         // nil: Sleep
	Now  func() time.Time // nil: time.Now
}

var _ Runner = (*Client)(nil)

// Run dials and serves connections, one at a time, until ctx ends.
func (cl *Client) Run(ctx context.Context, serve Session) error {
	c := newCommon(cl.Logger, cl.Wait, cl.Now)
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
// from instruments.
type tcpConn struct {
	net.Conn
	in, out atomic.Int64
}

func newTCPConn(nc net.Conn) *tcpConn { return &tcpConn{Conn: nc} }

var _ Conn = (*tcpConn)(nil)

func (c *tcpConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.in.Add(int64(n))
	return n, err
}

func (c *tcpConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.out.Add(int64(n))
	return n, err
}

func (c *tcpConn) String() string { return "tcp " + c.Conn.RemoteAddr().String() }

// NetConn returns the underlying connection.
func (c *tcpConn) NetConn() net.Conn { return c.Conn }

func runTCP(ctx context.Context, c common, tc *tcpConn, serve Session) {
	remote := tc.RemoteAddr().String()
	c.log.Info("transport: connected", "remote", remote, "local", tc.LocalAddr().String())
	start := c.now()
	stop := closeOnDone(ctx, tc)
	err := serve(ctx, tc)
	stop()
	tc.Close()
	in, out := tc.in.Load(), tc.out.Load()
	if in == 0 && out == 0 {
		c.log.Debug("transport: connection closed without data (a port scanner or health check?)", "remote", remote)
		return
	}
	c.log.Info("transport: connection ended", "remote", remote, "after", c.now().Sub(start).Round(time.Millisecond),
		"bytes-in", in, "bytes-out", out, "reason", err)
}
