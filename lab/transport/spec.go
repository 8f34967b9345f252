package transport

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"

	"github.com/exhibit-forensics/exhibit/devices/serialport"
)

// A Side is the end of an analyser link a program plays. It decides how the
// serial kind of line is reached: the laboratory system opens the line an
// instrument is plugged into; a simulated instrument makes the line, a
// pseudo-terminal, for the laboratory system to open.
type Side uint8

// Sides.
const (
	// Host is the laboratory system (`exhibit lab receive`): --transport
	// serial (a serial line it opens by a stable path) or tcp.
	Host Side = iota + 1
	// Instrument is a simulated analyser (`exhibit sim analyser`):
	// --transport pty (a pseudo-terminal it points a stable path at) or
	// tcp. It serves one host at a time.
	Instrument
)

// line is the kind of serial line a side uses, as --transport names it.
func (s Side) line() string {
	if s == Instrument {
		return "pty"
	}
	return "serial"
}

// ErrSpec matches (errors.Is) every error Spec.Validate returns: the
// flags do not describe a transport, a usage error.
var ErrSpec = errors.New("transport: the flags do not describe a transport")

// specError is a Validate error: its text is the message for the user
// alone, naming the flags, as a command prints it after its own name.
type specError struct{ msg string }

func (e *specError) Error() string        { return e.msg }
func (e *specError) Is(target error) bool { return target == ErrSpec }

// A Spec is the transport a command runs over, as its flags give it:
//
//	--transport serial|pty|tcp   serial for a Host, pty for an Instrument
//	--link PATH                  serial, pty: the line's stable path
//	--listen ADDR                tcp: listen for the other side to connect
//	--connect ADDR               tcp: connect to the other side
//	--baud N                     Host, serial: the line's rate (8N1)
//	--max-conns N                Host, tcp --listen: connections served at once
//
// An Instrument's pace of writing (its own --baud) is the simulator's
// business, not the transport's: a pseudo-terminal has no rate.
type Spec struct {
	Side      Side
	Transport string // "serial" (Host), "pty" (Instrument) or "tcp"
	Link      string
	Listen    string
	Connect   string
	Baud      int // Host serial only; Flags makes it 9600 by default
	MaxConns  int // Host tcp --listen only; Flags makes it DefaultMaxConns by default
}

// Flags registers the spec's flags on fs, with help and defaults for side.
func (s *Spec) Flags(fs *flag.FlagSet, side Side) {
	s.Side = side
	if side == Instrument {
		fs.StringVar(&s.Transport, "transport", "", "pty or tcp")
		fs.StringVar(&s.Link, "link", "", "pty: the stable path to point at the pseudo-terminal (the receiver opens it)")
		fs.StringVar(&s.Listen, "listen", "", "tcp: listen on ADDR for the host to connect (port 0: any free port)")
		fs.StringVar(&s.Connect, "connect", "", "tcp: connect to a host listening on ADDR")
		return
	}
	fs.StringVar(&s.Transport, "transport", "", "serial or tcp")
	fs.StringVar(&s.Link, "link", "", "serial: the line's stable path (/dev/serial/by-id/…, or the simulator's link)")
	fs.StringVar(&s.Listen, "listen", "", "tcp: listen on ADDR for the instrument to connect (port 0: any free port)")
	fs.StringVar(&s.Connect, "connect", "", "tcp: connect to an instrument listening on ADDR")
	fs.IntVar(&s.Baud, "baud", 9600, "serial: baud rate (8N1)")
	fs.IntVar(&s.MaxConns, "max-conns", DefaultMaxConns, "tcp --listen: connections served at once; when all are taken, a new connection evicts the one least recently answered (firmware-notes/transport.md)")
}

// Validate reports, in an error matching ErrSpec, why the spec does not describe one
// transport: an unknown --transport, a serial line without --link or with
// an address, tcp without exactly one of --listen and --connect, a Host
// serial line without a positive --baud. An empty Transport is not checked
// here: the command says which of its flags are required.
func (s *Spec) Validate() error {
	bad := func(format string, args ...any) error {
		return &specError{fmt.Sprintf(format, args...)}
	}
	line := s.Side.line()
	switch s.Transport {
	case line:
		if s.Link == "" || s.Listen != "" || s.Connect != "" {
			return bad("--transport %s needs --link PATH (and no --listen or --connect)", line)
		}
		if s.Side == Host && s.Baud <= 0 {
			return bad("--baud %d: want a positive rate", s.Baud)
		}
	case "tcp":
		if (s.Listen == "") == (s.Connect == "") || s.Link != "" {
			return bad("--transport tcp needs exactly one of --listen ADDR and --connect ADDR")
		}
	default:
		return bad("--transport %q: want %s or tcp", s.Transport, line)
	}
	return nil
}

// String describes the transport for a command's first line of output:
// "serial PATH at N baud", "pty PATH", "tcp, listening" or "tcp,
// connecting to ADDR".
func (s *Spec) String() string {
	switch {
	case s.Transport == "serial":
		return fmt.Sprintf("serial %s at %d baud", s.Link, s.Baud)
	case s.Transport == "pty":
		return "pty " + s.Link
	case s.Listen != "":
		return "tcp, listening"
	}
	return "tcp, connecting to " + s.Connect
}

// RunnerOptions is what building a Runner needs besides the spec.
type RunnerOptions struct {
	Logger *slog.Logger
	// Ready, if set, is called with a listening Server's bound address.
	Ready func(net.Addr)
	// PTY makes the Instrument's serial line: a Runner that puts the
	// sessions on a pseudo-terminal behind the stable path link (for the
	// analyser simulator, lab/labsim.PTYLine). Required for pty.
	PTY func(link string) Runner
}

// Runner validates the spec and returns its Runner: a Serial line at Baud
// for a Host, the PTY runner for an Instrument, a Server (MaxConns at once
// for a Host, one for an Instrument) or a Client.
func (s *Spec) Runner(o RunnerOptions) (Runner, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	switch {
	case s.Transport == "serial":
		return &Serial{Path: s.Link, Mode: serialport.Mode{Baud: s.Baud}, Logger: o.Logger}, nil
	case s.Transport == "pty":
		if o.PTY == nil {
			return nil, errors.New("transport: a pty line needs RunnerOptions.PTY")
		}
		return o.PTY(s.Link), nil
	case s.Listen != "":
		maxConns := s.MaxConns
		if s.Side == Instrument {
			maxConns = 1
		}
		return &Server{Addr: s.Listen, MaxConns: maxConns, Logger: o.Logger, Ready: o.Ready}, nil
	}
	return &Client{Addr: s.Connect, Logger: o.Logger}, nil
}
