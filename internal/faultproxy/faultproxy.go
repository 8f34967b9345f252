// Package faultproxy is a TCP proxy for tests that breaks live connections
// on demand: it stalls them, cuts them (both sides closed), resets them
// (RST), and refuses new ones. Faults are placed by byte count on the
// client→server stream, not by time, so a test says "after 300,000 more
// bytes of upload, cut" and gets exactly that, with no sleeps.
//
// One fault is armed at a time (Arm). It counts the bytes forwarded
// client→server on all connections from the moment it is armed, and fires
// on the connection that carries its last byte: that connection forwards
// exactly After bytes of the count and then breaks. Fired reports when it
// has.
package faultproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// Kind is what a fault does to the connection it fires on.
type Kind int

const (
	// Cut closes both sides of the connection (FIN).
	Cut Kind = iota + 1
	// Reset aborts both sides (RST: SO_LINGER 0, then close).
	Reset
	// Stall stops forwarding client→server until the fault is released
	// or the proxy closed; the connection stays open.
	Stall
)

func (k Kind) String() string {
	switch k {
	case Cut:
		return "cut"
	case Reset:
		return "reset"
	case Stall:
		return "stall"
	}
	return "unknown"
}

// A Fault is armed on a Proxy and fires once.
type Fault struct {
	Kind  Kind
	After int64 // client→server bytes forwarded before it fires

	left     int64
	fired    chan struct{}
	released chan struct{}
	once     sync.Once
	relOnce  sync.Once
}

// Fired is closed when the fault has fired.
func (f *Fault) Fired() <-chan struct{} { return f.fired }

// Release lets a stalled connection forward again (no-op for others).
func (f *Fault) Release() { f.relOnce.Do(func() { close(f.released) }) }

// A Proxy forwards TCP connections from Addr to its upstream.
type Proxy struct {
	ln       net.Listener
	upstream string

	mu     sync.Mutex
	fault  *Fault
	conns  map[*pair]struct{}
	closed bool

	refuse    atomic.Bool
	forwarded atomic.Int64
	accepted  atomic.Int64
	done      chan struct{}
	wg        sync.WaitGroup
}

// New listens on a free loopback port and forwards to upstream.
func New(upstream string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, upstream: upstream, conns: map[*pair]struct{}{}, done: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's address ("127.0.0.1:port").
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Forwarded returns the client→server bytes forwarded so far.
func (p *Proxy) Forwarded() int64 { return p.forwarded.Load() }

// Accepted returns how many connections the proxy has accepted.
func (p *Proxy) Accepted() int64 { return p.accepted.Load() }

// Refuse makes the proxy reset new connections at once (true) or
// forward them again (false). Live connections are not affected.
func (p *Proxy) Refuse(on bool) { p.refuse.Store(on) }

// Arm arms a fault of kind k after n more client→server bytes, replacing
// any fault not yet fired (whose Fired channel then never closes).
func (p *Proxy) Arm(k Kind, n int64) *Fault {
	f := &Fault{Kind: k, After: n, left: n, fired: make(chan struct{}), released: make(chan struct{})}
	p.mu.Lock()
	p.fault = f
	p.mu.Unlock()
	return f
}

// Close stops listening, closes every connection, releases stalls and
// waits for the proxy's goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	err := p.ln.Close()
	for c := range p.conns {
		c.close(false)
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		if p.refuse.Load() {
			abort(c)
			continue
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// abort closes c with an RST.
func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// pair is one proxied connection.
type pair struct {
	client, server net.Conn
	once           sync.Once
}

func (c *pair) close(rst bool) {
	c.once.Do(func() {
		if rst {
			abort(c.client)
			abort(c.server)
			return
		}
		c.client.Close()
		c.server.Close()
	})
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	server, err := net.Dial("tcp", p.upstream)
	if err != nil {
		abort(client)
		return
	}
	c := &pair{client: client, server: server}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.close(false)
		return
	}
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// server→client: plain copy; the end of either stream ends both.
		io.Copy(client, server)
		c.close(false)
	}()
	p.upstreamCopy(c)
	c.close(false)
	wg.Wait()
}

// upstreamCopy forwards client→server, applying the armed fault.
func (p *Proxy) upstreamCopy(c *pair) {
	buf := make([]byte, 32<<10)
	for {
		n, err := c.client.Read(buf)
		b := buf[:n]
		for len(b) > 0 {
			take, f := p.take(len(b))
			if _, werr := c.server.Write(b[:take]); werr != nil {
				return
			}
			p.forwarded.Add(int64(take))
			b = b[take:]
			if f == nil {
				continue
			}
			// The fault fires here, after exactly its count.
			close(f.fired)
			switch f.Kind {
			case Cut:
				c.close(false)
				return
			case Reset:
				c.close(true)
				return
			case Stall:
				select {
				case <-f.released:
				case <-p.done:
					return
				}
			}
		}
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				// Pass the client's half-close on.
				if tc, ok := c.server.(*net.TCPConn); ok {
					tc.CloseWrite()
				}
			}
			return
		}
	}
}

// take returns how many of n bytes to forward before the armed fault
// fires, and the fault if it fires after them.
func (p *Proxy) take(n int) (int, *Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.fault
	if f == nil {
		return n, nil
	}
	if int64(n) < f.left {
		f.left -= int64(n)
		return n, nil
	}
	take := int(f.left)
	f.left = 0
	p.fault = nil
	return take, f
}
