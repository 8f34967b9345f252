package scannersim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/clock"
)

// Protocol bytes (firmware-notes/barcode-scanner.md).
const (
	ack = 0x06
	nak = 0x15
	syn = 0x16
	cr  = 0x0d
)

// DefaultNoise is what the simulated scanner puts on the line when it
// powers up: a NUL, bytes of a framing error and a stray high byte.
var DefaultNoise = []byte{0x00, 0xff, 0xf8, 0x80, 0x00}

// Config configures the simulated scanner.
type Config struct {
	// Prefix is sent before each barcode ("" for none).
	Prefix string
	// Suffix ends each line: "\r" (CR, the default), "\r\n" or "\n".
	Suffix string
	// AIM: send each label's AIM symbology identifier before its data.
	AIM bool
	// FNC1 is what is sent for each GS1 separator; "" means GS (0x1D).
	FNC1 string
	// AckNak: wait up to AckTimeout for ACK or NAK after each line; on NAK
	// send the line again, at most Attempts times in all.
	AckNak     bool
	AckTimeout time.Duration // default 1 s
	Attempts   int           // default 3
	// ManualTrigger: read a label only after the host's SYN T CR (until
	// a barcode is read or SYN U CR arrives).
	ManualTrigger bool
	// PowerUpNoise is sent each time the scanner is plugged in, and after
	// a Reset fault; nil sends nothing.
	PowerUpNoise []byte
	// Clock times the ACK wait; clock.System if nil.
	Clock clock.Clock
	// Logger; nil discards.
	Logger *slog.Logger
}

// A Fault is something that goes wrong with one reading.
type Fault int

// The faults.
const (
	NoFault   Fault = iota
	Duplicate       // the label is read and sent twice
	Noise           // noise bytes inside the line (in ACK/NAK mode the resend is clean)
	Cut             // only the first half of the line is sent
	Reset           // the first half, then the scanner resets: power-up noise
	Unplug          // the first half, then the USB cable is pulled
)

var faultNames = []string{"none", "duplicate", "noise", "cut", "reset", "unplug"}

func (f Fault) String() string {
	if f >= 0 && int(f) < len(faultNames) {
		return faultNames[f]
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// ParseFault reads a fault's name.
func ParseFault(s string) (Fault, error) {
	for i, n := range faultNames {
		if n == s {
			return Fault(i), nil
		}
	}
	return 0, fmt.Errorf("unknown fault %q (%s)", s, strings.Join(faultNames, ", "))
}

// A Result is what became of one reading.
type Result struct {
	Line  []byte // the line as formatted (what a clean transmission sends)
	Sends int    // transmissions of it, whole or cut
	Acked bool   // ACK/NAK mode: the host ACKed the last one
	Naks  int    // NAKs received
}

// ErrUnplugged ends a session whose scanner was unplugged.
var ErrUnplugged = errors.New("scannersim: unplugged")

// ErrNoAnswer: in ACK/NAK mode the host answered neither ACK nor NAK in
// time, or NAKed every attempt.
var ErrNoAnswer = errors.New("scannersim: host did not acknowledge")

// Sim is a simulated serial scanner. Scan and Unplug may be called from any
// goroutine while Serve or ServePTY runs.
type Sim struct {
	cfg    Config
	reqs   chan request
	unplug chan struct{}
}

type request struct {
	label Label
	fault Fault
	done  chan outcome
}

type outcome struct {
	res Result
	err error
}

// New returns a simulated scanner.
func New(cfg Config) (*Sim, error) {
	switch cfg.Suffix {
	case "":
		cfg.Suffix = "\r"
	case "\r", "\r\n", "\n":
	default:
		return nil, fmt.Errorf("scannersim: suffix %q: want CR, CR LF or LF", cfg.Suffix)
	}
	if strings.ContainsAny(cfg.Prefix, "\r\n") || strings.ContainsAny(cfg.FNC1, "\r\n") {
		return nil, errors.New("scannersim: prefix and FNC1 substitute must not contain CR or LF")
	}
	if cfg.FNC1 == "" {
		cfg.FNC1 = "\x1d"
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = time.Second
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 3
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Sim{cfg: cfg, reqs: make(chan request), unplug: make(chan struct{}, 1)}, nil
}

// Format returns the line the scanner sends for l.
func (s *Sim) Format(l Label) []byte {
	var b strings.Builder
	b.WriteString(s.cfg.Prefix)
	if s.cfg.AIM {
		b.WriteString(l.Symbology)
	}
	b.WriteString(strings.ReplaceAll(l.Data, "\x1d", s.cfg.FNC1))
	b.WriteString(s.cfg.Suffix)
	return []byte(b.String())
}

// Scan reads l with fault f: it waits for a session (and, in manual
// trigger mode, for the host's trigger), transmits, and in ACK/NAK mode
// waits for the host's answer. It returns ErrNoAnswer if the host never
// ACKed, and ctx's error if ctx ends first.
func (s *Sim) Scan(ctx context.Context, l Label, f Fault) (Result, error) {
	r := request{label: l, fault: f, done: make(chan outcome, 1)}
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	select {
	case o := <-r.done:
		return o.res, o.err
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

// Unplug pulls the cable out: the running session ends with ErrUnplugged
// (if none is running, the next one ends as soon as it starts).
func (s *Sim) Unplug() {
	select {
	case s.unplug <- struct{}{}:
	default:
	}
}

// hostEvent is what the host sent: an answer (ACK, NAK) or a trigger
// command.
type hostEvent byte

const (
	evAck       hostEvent = ack
	evNak       hostEvent = nak
	evTriggerOn hostEvent = 'T'
	evTriggerOf hostEvent = 'U'
)

// readHost reads the host's bytes and reports ACK, NAK, SYN T CR and
// SYN U CR; anything else is ignored, as a scanner ignores what it does
// not understand. It returns when rw fails or done is closed.
func readHost(rw io.Reader, events chan<- hostEvent, errc chan<- error, done <-chan struct{}) {
	var buf [64]byte
	var cmd []byte // a SYN command being received
	for {
		n, err := rw.Read(buf[:])
		for _, b := range buf[:n] {
			var ev hostEvent
			switch {
			case cmd != nil:
				cmd = append(cmd, b)
				if len(cmd) < 3 {
					continue
				}
				if cmd[2] == cr && (cmd[1] == 'T' || cmd[1] == 'U') {
					ev = hostEvent(cmd[1])
				}
				cmd = nil
			case b == syn:
				cmd = []byte{b}
			case b == ack || b == nak:
				ev = hostEvent(b)
			}
			if ev == 0 {
				continue
			}
			select {
			case events <- ev:
			case <-done:
				return
			}
		}
		if err != nil {
			select {
			case errc <- err:
			case <-done:
			}
			return
		}
	}
}

// Serve plays the scanner on rw (the master end of a pseudo-terminal) until
// ctx ends (nil), the scanner is unplugged (ErrUnplugged) or rw fails.
func (s *Sim) Serve(ctx context.Context, rw io.ReadWriter) error {
	done := make(chan struct{})
	defer close(done)
	events := make(chan hostEvent)
	errc := make(chan error, 1)
	go readHost(rw, events, errc, done)
	if len(s.cfg.PowerUpNoise) > 0 {
		if _, err := rw.Write(s.cfg.PowerUpNoise); err != nil {
			return fmt.Errorf("scannersim: power-up: %w", err)
		}
	}
	sess := &session{Sim: s, rw: rw, events: events, errc: errc}
	for {
		reqs := s.reqs
		if s.cfg.ManualTrigger && !sess.armed {
			reqs = nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.unplug:
			return ErrUnplugged
		case err := <-errc:
			return fmt.Errorf("scannersim: reading from host: %w", err)
		case ev := <-events:
			sess.event(ev)
		case r := <-reqs:
			res, err := sess.read(ctx, r.label, r.fault)
			if r.fault == Unplug && errors.Is(err, ErrUnplugged) {
				r.done <- outcome{res, nil} // the unplug asked for
				return err
			}
			r.done <- outcome{res, err}
			switch {
			case ctx.Err() != nil:
				return nil
			case err == nil, errors.Is(err, ErrNoAnswer):
			case errors.Is(err, ErrUnplugged):
				return err
			default:
				return fmt.Errorf("scannersim: %w", err)
			}
		}
	}
}

type session struct {
	*Sim
	rw     io.ReadWriter
	events <-chan hostEvent
	errc   <-chan error
	armed  bool // manual trigger: SYN T CR received
}

func (s *session) event(ev hostEvent) {
	switch ev {
	case evTriggerOn:
		s.armed = true
	case evTriggerOf:
		s.armed = false
	default:
		// An ACK or NAK nobody waits for: ignored.
	}
}

// read transmits one reading.
func (s *session) read(ctx context.Context, l Label, f Fault) (Result, error) {
	s.armed = false // the trigger is spent on this reading
	line := s.Format(l)
	res := Result{Line: line}
	half := line[:len(line)/2]
	switch f {
	case Cut, Reset, Unplug:
		res.Sends++
		if _, err := s.rw.Write(half); err != nil {
			return res, err
		}
		switch f {
		case Reset:
			noise := s.cfg.PowerUpNoise
			if len(noise) == 0 {
				noise = DefaultNoise
			}
			_, err := s.rw.Write(noise)
			return res, err
		case Unplug:
			return res, ErrUnplugged
		}
		return res, nil
	}
	first := line
	if f == Noise {
		first = append(append(append([]byte{}, half...), 0x00, 0xfe), line[len(half):]...)
	}
	copies := 1
	if f == Duplicate {
		copies = 2
	}
	for c := 0; c < copies; c++ {
		acked, err := s.transmit(ctx, first, line, &res)
		if err != nil {
			return res, err
		}
		res.Acked = acked
		first = line
	}
	if s.cfg.AckNak && !res.Acked {
		return res, fmt.Errorf("%w after %d sends, %d NAKs", ErrNoAnswer, res.Sends, res.Naks)
	}
	return res, nil
}

// transmit sends first, and in ACK/NAK mode sends clean again on each NAK,
// up to cfg.Attempts sends in all. It reports whether the host ACKed.
func (s *session) transmit(ctx context.Context, first, clean []byte, res *Result) (bool, error) {
	out := first
	for attempt := 1; attempt <= s.cfg.Attempts; attempt++ {
		res.Sends++
		if _, err := s.rw.Write(out); err != nil {
			return false, err
		}
		if !s.cfg.AckNak {
			return false, nil
		}
		ans, err := s.await(ctx)
		if err != nil || ans == 0 {
			return false, err // no answer: the scanner gives up on this label
		}
		if ans == evAck {
			return true, nil
		}
		res.Naks++
		out = clean
	}
	return false, nil
}

// await waits for ACK or NAK (0 on time-out), serving trigger commands that
// arrive meanwhile.
func (s *session) await(ctx context.Context) (hostEvent, error) {
	t := s.cfg.Clock.NewTimer(s.cfg.AckTimeout)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-t.C():
			s.cfg.Logger.Warn("scannersim: no ACK or NAK from the host")
			return 0, nil
		case err := <-s.errc:
			return 0, fmt.Errorf("scannersim: reading from host: %w", err)
		case <-s.unplug:
			return 0, ErrUnplugged
		case ev := <-s.events:
			if ev == evAck || ev == evNak {
				return ev, nil
			}
			s.event(ev)
		}
	}
}
