package labsim

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/lab/transport"
)

// Faults are the misbehaviours the simulator injects. Probabilities are
// between 0 and 1; zero disables a fault.
type Faults struct {
	// Corrupt is the chance that one write on the line — in either
	// direction: the simulator corrupts what it sends and what it reads —
	// has one of its bytes changed (XOR with a random non-zero byte).
	Corrupt float64
	// NAKStorm is the chance, per message, of a burst of 3–20 NAK bytes on
	// the line before it; in host-query mode the simulator also refuses
	// the host's next reply on every attempt, so the host gives up and the
	// query is asked again.
	NAKStorm float64
	// Busy is the chance that the simulator answers the host's ENQ with
	// NAK (busy).
	Busy float64
	// Contention is the chance, per query in host-query mode, that the
	// previous tube's results are sent at the same moment as the next
	// query, so that both sides bid for the line together.
	Contention float64
	// Timeout is the chance, per message, that the line goes dead part-way
	// through it for Stall: nothing the simulator writes arrives and
	// nothing it is sent is read, so both sides' timers run out.
	Timeout float64
	// Disconnect is the chance, per message, that the connection is
	// dropped part-way through it, mid-frame, or (one time in four) just
	// after its last byte, before the acknowledgement (TCP: closed; pty:
	// the pseudo-terminal goes away and a new one takes its path).
	Disconnect float64
	// Garbage is the chance, per message, of 1–64 random bytes on the line
	// before it.
	Garbage float64
	// Stall is how long a Timeout fault lasts; zero means 35 s, longer
	// than the 30 s ASTM receive timer.
	Stall time.Duration
	// Seed seeds the fault dice, so that a run can be repeated.
	Seed uint64
}

// Any reports whether any fault is enabled.
func (f Faults) Any() bool {
	return f.Corrupt > 0 || f.NAKStorm > 0 || f.Busy > 0 || f.Contention > 0 || f.Timeout > 0 || f.Disconnect > 0 || f.Garbage > 0
}

func (f Faults) validate() error {
	for _, p := range []float64{f.Corrupt, f.NAKStorm, f.Busy, f.Contention, f.Timeout, f.Disconnect, f.Garbage} {
		if p < 0 || p > 1 || p != p {
			return errors.New("labsim: fault probabilities must be between 0 and 1")
		}
	}
	if f.Stall < 0 {
		return errors.New("labsim: negative stall")
	}
	return nil
}

// dice is a mutex-guarded random source (the link's reader and writer use
// it from different goroutines).
type dice struct {
	mu  sync.Mutex
	rng *rand.Rand
}

func newDice(seed, stream uint64) *dice {
	return &dice{rng: rand.New(rand.NewPCG(seed, 0xa57a1+stream))}
}

// allDice holds one random stream per fault, so that the rolls of one
// fault do not depend on how often another was rolled (or in which
// goroutine): with a fixed seed, the nth message meets the same
// per-message faults in every run.
type allDice struct {
	corrupt, nak, busy, contention, timeout, disconnect, garbage *dice
}

func newAllDice(seed uint64) *allDice {
	return &allDice{corrupt: newDice(seed, 1), nak: newDice(seed, 2), busy: newDice(seed, 3), contention: newDice(seed, 4),
		timeout: newDice(seed, 5), disconnect: newDice(seed, 6), garbage: newDice(seed, 7)}
}

func (d *dice) roll(p float64) bool {
	if p <= 0 {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rng.Float64() < p
}

func (d *dice) intN(n int) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rng.IntN(n)
}

// Counts of injected faults and of what they caused. A fault is counted
// when it reaches the line, not when its dice come up: a garbage burst or
// NAK storm that a dead line swallows, or a stall or disconnect planned for
// bytes that are never written, is not counted. Every fault of Faults has
// its count here, so that a fault run can check that each fault it
// configures was injected.
type Counts struct {
	Corrupted     int   // Corrupt: writes or reads with a byte changed
	NAKStorms     int   // NAKStorm: NAK bursts written
	BusyAnswers   int   // Busy: host ENQs answered busy
	Contentions   int   // Contention: results sent together with a query
	Stalls        int   // Timeout: times the line went dead
	Disconnects   int   // Disconnect: connections dropped
	GarbageBursts int   // Garbage: bursts written
	Written       int64 // bytes this side wrote on the line
	// Forged: reads whose corruption made a byte that affirms (ASTM: ACK
	// or EOT; HL7: the A of AA). E1381 and MLLP protect no reply, so a
	// corrupted refusal can read as an acknowledgement: the simulator then
	// believes delivered a message the host never acknowledged.
	Forged int
}

// errCut is returned by a write that a Disconnect fault cut short.
var errCut = errors.New("labsim: connection dropped (fault)")

// line is the simulator's end of a connection with faults and pacing
// applied.
type line struct {
	c      transport.Conn
	faults *Faults
	d      *allDice
	counts *counted
	clk    clock.Clock
	// bit is the time one bit takes at the configured baud rate; zero: no
	// pacing.
	bit time.Duration
	// affirms reports whether a byte read could make an acknowledgement
	// out of a refusal; nil: none can.
	affirms func(byte) bool

	mu         sync.Mutex
	forged     int // reads corrupted into an affirming byte
	cutAfter   int // >0: drop the connection after this many more bytes
	stallAfter int // >0: go dead after this many more bytes
	deadUntil  time.Time
	free       time.Time // when the paced transmitter is free
}

type counted struct {
	mu sync.Mutex
	Counts
}

func (c *counted) add(f func(*Counts)) {
	c.mu.Lock()
	f(&c.Counts)
	c.mu.Unlock()
}

func (c *counted) get() Counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Counts
}

func (l *line) String() string { return l.c.String() }

func (l *line) Close() error { return l.c.Close() }

// arm plans the faults of the next message, for which this side writes n
// bytes when nothing goes wrong. A disconnect strikes part-way through it —
// or, one time in four, just after its last byte, before the
// acknowledgement can arrive, so that the host has the message but the
// analyser never hears so and sends it again.
func (l *line) arm(n int, disconnect, stall bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cutAfter, l.stallAfter = 0, 0
	if n < 2 {
		n = 2
	}
	if disconnect {
		if l.d.disconnect.intN(4) == 0 {
			l.cutAfter = n
		} else {
			l.cutAfter = 1 + l.d.disconnect.intN(n-1)
		}
	}
	if stall {
		l.stallAfter = 1 + l.d.timeout.intN(n-1)
	}
}

func (l *line) dead() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.clk.Now().Before(l.deadUntil)
}

// corrupt returns p with one byte changed if the Corrupt fault strikes, and
// the index of that byte (-1 if it did not strike).
func (l *line) corrupt(p []byte) ([]byte, int) {
	if len(p) == 0 || !l.d.corrupt.roll(l.faults.Corrupt) {
		return p, -1
	}
	q := append([]byte(nil), p...)
	i := l.d.corrupt.intN(len(q))
	q[i] ^= byte(1 + l.d.corrupt.intN(255))
	l.counts.add(func(c *Counts) { c.Corrupted++ })
	return q, i
}

// forgedReads returns how many reads so far were corrupted into an
// affirming byte.
func (l *line) forgedReads() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.forged
}

func (l *line) Write(p []byte) (int, error) {
	l.mu.Lock()
	cut, stall := -1, -1
	if l.cutAfter > 0 {
		if len(p) >= l.cutAfter {
			cut, l.cutAfter = l.cutAfter, 0
		} else {
			l.cutAfter -= len(p)
		}
	}
	if l.stallAfter > 0 {
		if len(p) >= l.stallAfter {
			stall, l.stallAfter = l.stallAfter, 0
		} else {
			l.stallAfter -= len(p)
		}
	}
	stallFor := l.faults.Stall
	if stallFor <= 0 {
		stallFor = 35 * time.Second
	}
	l.mu.Unlock()
	if l.dead() {
		return len(p), nil // swallowed by the dead line
	}
	out := p
	switch {
	case cut >= 0:
		out = p[:cut]
	case stall >= 0:
		out = p[:stall]
	}
	out, _ = l.corrupt(out)
	if err := l.pace(len(out)); err != nil {
		return 0, err
	}
	n, err := l.c.Write(out)
	l.counts.add(func(c *Counts) { c.Written += int64(n) })
	if err != nil {
		return 0, err
	}
	switch {
	case cut >= 0:
		l.counts.add(func(c *Counts) { c.Disconnects++ })
		l.c.Close()
		return cut, errCut
	case stall >= 0:
		l.counts.add(func(c *Counts) { c.Stalls++ })
		l.mu.Lock()
		l.deadUntil = l.clk.Now().Add(stallFor)
		l.mu.Unlock()
	}
	return len(p), nil
}

// pace makes a write take as long as its bytes take on a serial line at
// the configured baud rate (ten bits a byte: start, eight data, stop).
func (l *line) pace(n int) error {
	if l.bit == 0 || n == 0 {
		return nil
	}
	l.mu.Lock()
	now := l.clk.Now()
	if l.free.Before(now) {
		l.free = now
	}
	l.free = l.free.Add(time.Duration(n*10) * l.bit)
	until := l.free
	l.mu.Unlock()
	if d := until.Sub(now); d > 0 {
		<-l.clk.NewTimer(d).C()
	}
	return nil
}

func (l *line) Read(p []byte) (int, error) {
	for {
		n, err := l.c.Read(p)
		if n > 0 && l.dead() {
			continue // lost on the dead line
		}
		if n > 0 {
			q, i := l.corrupt(p[:n])
			copy(p[:n], q)
			if i >= 0 && l.affirms != nil && l.affirms(q[i]) {
				l.mu.Lock()
				l.forged++
				l.mu.Unlock()
				l.counts.add(func(c *Counts) { c.Forged++ })
			}
		}
		return n, err
	}
}

// raw writes bytes that bypass corruption and the message's fault plan
// (garbage and NAK storms), paced like everything else. It reports whether
// they went on the line: a dead line swallows them, and then the fault they
// carry was not injected and is not counted.
func (l *line) raw(p []byte) (sent bool, err error) {
	if l.dead() {
		return false, nil
	}
	if err := l.pace(len(p)); err != nil {
		return false, err
	}
	n, err := l.c.Write(p)
	l.counts.add(func(c *Counts) { c.Written += int64(n) })
	return err == nil, err
}

var _ io.ReadWriteCloser = (*line)(nil)

// AddFlags registers the faults as command-line flags on fs.
func (f *Faults) AddFlags(fs *flag.FlagSet) {
	fs.Float64Var(&f.Corrupt, "corrupt", 0, "chance that a write on the line (either direction) has one byte corrupted, 0–1")
	fs.Float64Var(&f.NAKStorm, "nak-storm", 0, "chance per message of a burst of NAKs before it (host-query mode: and the host's next reply refused), 0–1")
	fs.Float64Var(&f.Busy, "busy", 0, "chance of answering the host's ENQ with NAK (busy), 0–1")
	fs.Float64Var(&f.Contention, "contention", 0, "host-query mode: chance per query of sending results at the same moment (line contention), 0–1")
	fs.Float64Var(&f.Timeout, "timeout", 0, "chance per message that the line goes dead part-way through it for --stall, 0–1")
	fs.Float64Var(&f.Disconnect, "disconnect", 0, "chance per message of dropping the connection part-way through it, 0–1")
	fs.Float64Var(&f.Garbage, "garbage", 0, "chance per message of random bytes on the line before it, 0–1")
	fs.DurationVar(&f.Stall, "stall", 35*time.Second, "how long a --timeout fault keeps the line dead")
	fs.Uint64Var(&f.Seed, "seed", 1, "seed of the fault dice (and nothing else), so a run can be repeated")
}

// String describes the enabled faults, for logs.
func (f Faults) String() string {
	var parts []string
	for _, p := range []struct {
		name string
		v    float64
	}{{"corrupt", f.Corrupt}, {"nak-storm", f.NAKStorm}, {"busy", f.Busy}, {"contention", f.Contention},
		{"timeout", f.Timeout}, {"disconnect", f.Disconnect}, {"garbage", f.Garbage}} {
		if p.v > 0 {
			parts = append(parts, fmt.Sprintf("%s=%g", p.name, p.v))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	if f.Timeout > 0 {
		parts = append(parts, "stall="+f.Stall.String())
	}
	return strings.Join(parts, " ") + fmt.Sprintf(" seed=%d", f.Seed)
}
