package faultproxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// sink is an upstream that reads each connection to its end and reports
// what it read.
func sink(t *testing.T) (string, <-chan []byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan []byte, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, _ := io.ReadAll(c)
				got <- b
			}()
		}
	}()
	return ln.Addr().String(), got
}

func start(t *testing.T) (*Proxy, <-chan []byte) {
	t.Helper()
	up, got := sink(t)
	p, err := New(up)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, got
}

const wait = 10 * time.Second

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(wait):
		t.Fatalf("no %s within %v", what, wait)
		panic("unreachable")
	}
}

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func TestPassThrough(t *testing.T) {
	p, got := start(t)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	data := payload(200_000)
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	if b := recv(t, got, "upstream data"); !bytes.Equal(b, data) {
		t.Fatalf("upstream read %d bytes, want the %d sent", len(b), len(data))
	}
	c.Close()
	if p.Forwarded() != int64(len(data)) {
		t.Fatalf("Forwarded = %d, want %d", p.Forwarded(), len(data))
	}
}

func TestFaultsFireAtByteCount(t *testing.T) {
	for _, tc := range []struct {
		kind Kind
		at   int64
	}{
		{Cut, 0}, {Cut, 1}, {Cut, 32 << 10}, {Cut, 100_001},
		{Reset, 5}, {Reset, 77_777},
		{Stall, 0}, {Stall, 50_000},
	} {
		t.Run(tc.kind.String(), func(t *testing.T) {
			p, got := start(t)
			c, err := net.Dial("tcp", p.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			f := p.Arm(tc.kind, tc.at)
			data := payload(300_000)
			writeErr := make(chan error, 1)
			go func() {
				_, err := c.Write(data)
				if err == nil {
					c.(*net.TCPConn).CloseWrite()
				}
				writeErr <- err
			}()
			recv(t, f.Fired(), "fault")
			if tc.kind == Stall {
				if p.Forwarded() != tc.at {
					t.Fatalf("stalled after %d bytes, want %d", p.Forwarded(), tc.at)
				}
				select {
				case b := <-got:
					t.Fatalf("stalled connection ended upstream with %d bytes", len(b))
				default:
				}
				f.Release()
				if err := recv(t, writeErr, "end of write"); err != nil {
					t.Fatal(err)
				}
				if b := recv(t, got, "upstream data"); !bytes.Equal(b, data) {
					t.Fatalf("after release upstream read %d bytes, want %d", len(b), len(data))
				}
				return
			}
			b := recv(t, got, "upstream data")
			if int64(len(b)) != tc.at || !bytes.Equal(b, data[:tc.at]) {
				t.Fatalf("upstream read %d bytes, want the first %d", len(b), tc.at)
			}
			// The client sees its side broken: a reset as ECONNRESET.
			c.SetReadDeadline(time.Now().Add(wait))
			_, rerr := c.Read(make([]byte, 1))
			if rerr == nil {
				t.Fatal("client read succeeded on a broken connection")
			}
			if tc.kind == Reset && !errors.Is(rerr, syscall.ECONNRESET) {
				t.Fatalf("client read after reset: %v, want ECONNRESET", rerr)
			}
			if tc.kind == Cut && rerr != io.EOF && !errors.Is(rerr, syscall.ECONNRESET) {
				t.Fatalf("client read after cut: %v", rerr)
			}
		})
	}
}

func TestRefuse(t *testing.T) {
	p, got := start(t)
	p.Refuse(true)
	c, err := net.Dial("tcp", p.Addr())
	if err == nil {
		c.SetReadDeadline(time.Now().Add(wait))
		_, err = c.Read(make([]byte, 1))
		c.Close()
	}
	if err == nil {
		t.Fatal("a refused connection was served")
	}
	p.Refuse(false)
	c, err = net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("after"))
	c.(*net.TCPConn).CloseWrite()
	if b := recv(t, got, "upstream data"); string(b) != "after" {
		t.Fatalf("upstream read %q", b)
	}
	c.Close()
	if p.Accepted() != 2 {
		t.Fatalf("Accepted = %d, want 2", p.Accepted())
	}
}

func TestCloseReleasesStall(t *testing.T) {
	p, _ := start(t)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f := p.Arm(Stall, 10)
	c.Write(payload(100))
	recv(t, f.Fired(), "stall")
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	recv(t, closed, "Close to return")
}
