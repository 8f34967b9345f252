package transport

import (
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/devices/serialport"
)

// parseSpec parses args as a command's transport flags.
func parseSpec(t *testing.T, side Side, args ...string) *Spec {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var s Spec
	s.Flags(fs, side)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return &s
}

func TestSpecValidate(t *testing.T) {
	for _, c := range []struct {
		side Side
		args []string
		msg  string // "" if valid
	}{
		{Host, []string{"--transport", "serial", "--link", "/dev/serial/by-id/x"}, ""},
		{Host, []string{"--transport", "serial", "--link", "x", "--baud", "115200"}, ""},
		{Host, []string{"--transport", "tcp", "--listen", ":0"}, ""},
		{Host, []string{"--transport", "tcp", "--connect", "10.0.0.5:4001"}, ""},
		{Host, []string{"--transport", "serial"}, "--transport serial needs --link PATH (and no --listen or --connect)"},
		{Host, []string{"--transport", "serial", "--link", "x", "--listen", ":0"}, "--transport serial needs --link PATH (and no --listen or --connect)"},
		{Host, []string{"--transport", "serial", "--link", "x", "--baud", "0"}, "--baud 0: want a positive rate"},
		{Host, []string{"--transport", "tcp"}, "--transport tcp needs exactly one of --listen ADDR and --connect ADDR"},
		{Host, []string{"--transport", "tcp", "--listen", ":0", "--connect", "x:1"}, "--transport tcp needs exactly one of --listen ADDR and --connect ADDR"},
		{Host, []string{"--transport", "tcp", "--listen", ":0", "--link", "x"}, "--transport tcp needs exactly one of --listen ADDR and --connect ADDR"},
		{Host, []string{"--transport", "pty", "--link", "x"}, `--transport "pty": want serial or tcp`},
		{Host, []string{"--transport", "usb", "--link", "x"}, `--transport "usb": want serial or tcp`},
		{Instrument, []string{"--transport", "pty", "--link", "/tmp/analyser"}, ""},
		{Instrument, []string{"--transport", "tcp", "--listen", "127.0.0.1:0"}, ""},
		{Instrument, []string{"--transport", "pty"}, "--transport pty needs --link PATH (and no --listen or --connect)"},
		{Instrument, []string{"--transport", "serial", "--link", "x"}, `--transport "serial": want pty or tcp`},
		{Instrument, []string{"--transport", "tcp", "--connect", "a:1", "--listen", ":0"}, "--transport tcp needs exactly one of --listen ADDR and --connect ADDR"},
	} {
		err := parseSpec(t, c.side, c.args...).Validate()
		switch {
		case c.msg == "" && err != nil:
			t.Errorf("%v: %v", c.args, err)
		case c.msg != "" && (err == nil || err.Error() != c.msg || !errors.Is(err, ErrSpec)):
			t.Errorf("%v: %v; want %q matching ErrSpec", c.args, err, c.msg)
		}
	}
}

// Only a host has a line rate and a connection limit; the simulator's
// --baud is its own (a pace, not a line setting).
func TestSpecFlags(t *testing.T) {
	fs := flag.NewFlagSet("host", flag.ContinueOnError)
	var s Spec
	s.Flags(fs, Host)
	if s.Baud != 9600 || s.MaxConns != DefaultMaxConns || fs.Lookup("baud") == nil || fs.Lookup("max-conns") == nil {
		t.Fatalf("host defaults: %+v", s)
	}
	fs = flag.NewFlagSet("instrument", flag.ContinueOnError)
	s.Flags(fs, Instrument)
	if fs.Lookup("baud") != nil || fs.Lookup("max-conns") != nil || fs.Lookup("link") == nil {
		t.Fatal("an instrument's spec registers --baud or --max-conns, or lacks --link")
	}
	if !strings.Contains(fs.Lookup("transport").Usage, "pty") {
		t.Fatalf("instrument --transport help %q", fs.Lookup("transport").Usage)
	}
}

func TestSpecRunner(t *testing.T) {
	var readyCalled net.Addr
	var ptyLink string
	ptyRunner := &Client{Addr: "the pty stand-in"}
	opts := RunnerOptions{
		Ready: func(a net.Addr) { readyCalled = a },
		PTY:   func(link string) Runner { ptyLink = link; return ptyRunner },
	}

	r, err := parseSpec(t, Host, "--transport", "serial", "--link", "/dev/ttyUSB0", "--baud", "115200").Runner(opts)
	if sr, ok := r.(*Serial); err != nil || !ok || sr.Path != "/dev/ttyUSB0" || sr.Mode != (serialport.Mode{Baud: 115200}) {
		t.Fatalf("serial: %#v %v", r, err)
	}

	s := parseSpec(t, Host, "--transport", "tcp", "--listen", "127.0.0.1:0", "--max-conns", "3")
	r, err = s.Runner(opts)
	srv, ok := r.(*Server)
	if err != nil || !ok || srv.Addr != "127.0.0.1:0" || srv.MaxConns != 3 || srv.Ready == nil {
		t.Fatalf("host server: %#v %v", r, err)
	}
	srv.Ready(&net.TCPAddr{Port: 7})
	if readyCalled == nil || readyCalled.String() != ":7" {
		t.Fatalf("Ready not passed on: %v", readyCalled)
	}

	// An instrument serves one host.
	r, err = parseSpec(t, Instrument, "--transport", "tcp", "--listen", "127.0.0.1:0").Runner(opts)
	if srv, ok := r.(*Server); err != nil || !ok || srv.MaxConns != 1 {
		t.Fatalf("instrument server: %#v %v", r, err)
	}

	r, err = parseSpec(t, Host, "--transport", "tcp", "--connect", "10.0.0.5:4001").Runner(opts)
	if c, ok := r.(*Client); err != nil || !ok || c.Addr != "10.0.0.5:4001" {
		t.Fatalf("client: %#v %v", r, err)
	}

	r, err = parseSpec(t, Instrument, "--transport", "pty", "--link", "/tmp/analyser").Runner(opts)
	if err != nil || r != ptyRunner || ptyLink != "/tmp/analyser" {
		t.Fatalf("pty: %#v %v (link %q)", r, err, ptyLink)
	}
	if _, err := parseSpec(t, Instrument, "--transport", "pty", "--link", "x").Runner(RunnerOptions{}); err == nil {
		t.Fatal("a pty spec without RunnerOptions.PTY built a runner")
	}

	// An invalid spec builds nothing.
	if r, err := parseSpec(t, Host, "--transport", "tcp").Runner(opts); !errors.Is(err, ErrSpec) || r != nil {
		t.Fatalf("invalid spec: %#v %v", r, err)
	}
}

func TestSpecString(t *testing.T) {
	for _, c := range []struct {
		side Side
		args []string
		want string
	}{
		{Host, []string{"--transport", "serial", "--link", "/dev/ttyUSB0"}, "serial /dev/ttyUSB0 at 9600 baud"},
		{Host, []string{"--transport", "tcp", "--listen", ":0"}, "tcp, listening"},
		{Host, []string{"--transport", "tcp", "--connect", "a:1"}, "tcp, connecting to a:1"},
		{Instrument, []string{"--transport", "pty", "--link", "/tmp/a"}, "pty /tmp/a"},
	} {
		if got := parseSpec(t, c.side, c.args...).String(); got != c.want {
			t.Errorf("%v: %q, want %q", c.args, got, c.want)
		}
	}
}

// The runner a spec builds runs: a host server hands a connection to the
// session.
func TestSpecRunnerRuns(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := make(chan net.Addr, 1)
	r, err := parseSpec(t, Host, "--transport", "tcp", "--listen", "127.0.0.1:0").Runner(RunnerOptions{Ready: func(a net.Addr) { addr <- a }})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- r.Run(ctx, func(ctx context.Context, c Conn) error {
			b, err := io.ReadAll(c)
			got <- string(b)
			return err
		})
	}()
	c, err := net.Dial("tcp", (<-addr).String())
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("H|\\^&"))
	c.Close()
	if s := <-got; s != "H|\\^&" {
		t.Fatalf("session read %q", s)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
