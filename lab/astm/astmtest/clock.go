// Package astmtest holds test doubles for the ASTM packages: a fake Clock
// that tests advance by hand, a scripted Peer for the far end of a byte
// stream, and a Transcript player for txtar protocol transcripts.
//
// Transcripts are txtar archives. The comment section holds key=value
// headers (device=, firmware=, dialect=, source=); the "session" file holds
// the exchange, one write per line, "I:" for the instrument and "H:" for the
// host, with control characters written as in the standard (<STX>, <ETX>,
// <ETB>, <EOT>, <ENQ>, <ACK>, <NAK>, <CR>, <LF>) and any other byte as
// <xHH>. Lines starting with # are comments.
package astmtest

import (
	"sort"
	"sync"
	"time"

	"github.com/exhibit-forensics/exhibit/lab/astm/link"
)

// A Clock is a fake link.Clock. Time moves only when Advance is called.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*timer
}

var _ link.Clock = (*Clock)(nil)

// NewClock returns a fake clock reading start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

type timer struct {
	c        *Clock
	deadline time.Time
	ch       chan time.Time
	active   bool
}

func (t *timer) C() <-chan time.Time { return t.ch }

func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.active
	t.active = false
	t.c.prune()
	return was
}

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer that fires when the clock is advanced past d.
func (c *Clock) NewTimer(d time.Duration) link.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{c: c, deadline: c.now.Add(d), ch: make(chan time.Time, 1), active: true}
	c.timers = append(c.timers, t)
	return t
}

func (c *Clock) prune() {
	keep := c.timers[:0]
	for _, t := range c.timers {
		if t.active {
			keep = append(keep, t)
		}
	}
	c.timers = keep
}

// Advance moves the clock on by d and fires, in deadline order, every timer
// that is due. It returns how many fired.
func (c *Clock) Advance(d time.Duration) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].deadline.Before(c.timers[j].deadline) })
	n := 0
	for _, t := range c.timers {
		if t.active && !t.deadline.After(c.now) {
			t.active = false
			t.ch <- c.now
			n++
		}
	}
	c.prune()
	return n
}

// Pending returns how long each active timer has left, shortest first.
func (c *Clock) Pending() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []time.Duration
	for _, t := range c.timers {
		if t.active {
			out = append(out, t.deadline.Sub(c.now))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
