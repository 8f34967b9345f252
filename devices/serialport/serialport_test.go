package serialport_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/serialport"
	"github.com/exhibit-forensics/exhibit/devices/serialport/pty"
)

var mode = serialport.Mode{Baud: 115200}

func openPair(t *testing.T) (*pty.Pair, serialport.Conn) {
	t.Helper()
	p, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c, err := serialport.Open(context.Background(), p.Path(), mode)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return p, c
}

// readFull reads len(want) bytes with a generous deadline per read.
func readFull(t *testing.T, r io.Reader, n int) []byte {
	t.Helper()
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatalf("read: %v", err)
	}
	return buf
}

func TestRoundTripOverPTY(t *testing.T) {
	p, c := openPair(t)
	if err := c.SetReadTimeout(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	// Host to device: what the driver writes arrives unchanged (raw mode: no
	// CR/LF translation, no echo).
	msg := []byte("01 ID*7E6D\n\r\x00\xff")
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	if got := readFull(t, p, len(msg)); string(got) != string(msg) {
		t.Fatalf("device read %q, want %q", got, msg)
	}
	// Device to host.
	reply := []byte("01 OK MODEL=LE6\n")
	if _, err := p.Write(reply); err != nil {
		t.Fatal(err)
	}
	if got := readFull(t, c, len(reply)); string(got) != string(reply) {
		t.Fatalf("host read %q, want %q", got, reply)
	}
	if err := c.Drain(); err != nil {
		t.Fatalf("Drain: %v", err)
	}
}

func TestReadTimeout(t *testing.T) {
	_, c := openPair(t)
	if err := c.SetReadTimeout(10 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	n, err := c.Read(make([]byte, 8))
	if n != 0 || !errors.Is(err, serialport.ErrTimeout) {
		t.Fatalf("Read = %d, %v; want 0, ErrTimeout", n, err)
	}
	var te interface{ Timeout() bool }
	if !errors.As(err, &te) || !te.Timeout() {
		t.Fatalf("ErrTimeout does not report Timeout() == true")
	}
}

func TestResetInputBufferDiscardsPending(t *testing.T) {
	p, c := openPair(t)
	if err := c.SetReadTimeout(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Write([]byte("stale\n")); err != nil {
		t.Fatal(err)
	}
	// Wait until the stale bytes have arrived by reading the first one,
	// then discard the rest.
	readFull(t, c, 1)
	if err := c.ResetInputBuffer(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Write([]byte("fresh\n")); err != nil {
		t.Fatal(err)
	}
	if got := readFull(t, c, 6); string(got) != "fresh\n" {
		t.Fatalf("after reset read %q, want %q", got, "fresh\n")
	}
}

func TestUnplugIsDisconnected(t *testing.T) {
	p, c := openPair(t)
	if err := c.SetReadTimeout(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := c.Read(make([]byte, 8))
	if !errors.Is(err, serialport.ErrDisconnected) {
		t.Fatalf("Read after unplug: %v, want ErrDisconnected", err)
	}
	_, err = c.Write([]byte("x\n"))
	if !errors.Is(err, serialport.ErrDisconnected) {
		t.Fatalf("Write after unplug: %v, want ErrDisconnected", err)
	}
}

func TestCloseAbortsRead(t *testing.T) {
	_, c := openPair(t)
	if err := c.SetReadTimeout(time.Minute); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 8))
		done <- err
	}()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, serialport.ErrClosed) {
			t.Fatalf("blocked Read returned %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not abort a blocked Read")
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, serialport.ErrClosed) {
		t.Fatalf("Write after Close: %v, want ErrClosed", err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	missing := filepath.Join(t.TempDir(), "no-such-tty")
	if _, err := serialport.Open(ctx, missing, mode); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want fs.ErrNotExist", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	p, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := serialport.Open(cancelled, p.Path(), mode); !errors.Is(err, context.Canceled) {
		t.Errorf("Open(cancelled ctx) = %v, want context.Canceled", err)
	}
	for _, m := range []serialport.Mode{{}, {Baud: -1}, {Baud: 9600, DataBits: 9}, {Baud: 9600, Parity: 7}, {Baud: 9600, StopBits: 3}} {
		if _, err := serialport.Open(ctx, p.Path(), m); err == nil {
			t.Errorf("Open with mode %+v succeeded, want an error", m)
		}
	}
}

func TestModeString(t *testing.T) {
	for _, tc := range []struct {
		m    serialport.Mode
		want string
	}{
		{serialport.Mode{Baud: 115200}, "115200 8N1"},
		{serialport.Mode{Baud: 9600, DataBits: 7, Parity: serialport.EvenParity, StopBits: serialport.TwoStopBits}, "9600 7E2"},
		{serialport.Mode{Baud: 19200, Parity: serialport.OddParity}, "19200 8O1"},
	} {
		if got := tc.m.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.m, got, tc.want)
		}
	}
}
