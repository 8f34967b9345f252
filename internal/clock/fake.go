package clock

import (
	"context"
	"slices"
	"sync"
	"time"
)

// A Fake is a Clock whose time moves only when Advance is called. It is safe
// for use by several goroutines; simulators that must agree on the time (the
// light engine and the camera of a rig) share one.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer  // active timers
	wake   chan struct{} // closed and replaced whenever timers changes
}

var _ Clock = (*Fake)(nil)

// NewFake returns a fake clock reading start.
func NewFake(start time.Time) *Fake { return &Fake{now: start, wake: make(chan struct{})} }

type fakeTimer struct {
	c        *Fake
	deadline time.Time
	ch       chan time.Time
	active   bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.active
	if was {
		t.active = false
		t.c.prune()
	}
	return was
}

// Now returns the fake time.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer that fires once the clock has been advanced by d.
// A d <= 0 fires at once, as time.NewTimer's does.
func (c *Fake) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, deadline: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- c.now
		return t
	}
	t.active = true
	c.timers = append(c.timers, t)
	c.notify()
	return t
}

// notify wakes BlockUntil; c.mu is held.
func (c *Fake) notify() {
	close(c.wake)
	c.wake = make(chan struct{})
}

// prune drops inactive timers; c.mu is held.
func (c *Fake) prune() {
	c.timers = slices.DeleteFunc(c.timers, func(t *fakeTimer) bool { return !t.active })
	c.notify()
}

// Advance moves the clock on by d and fires, in deadline order, every timer
// that is due. It returns how many fired.
func (c *Fake) Advance(d time.Duration) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	slices.SortStableFunc(c.timers, func(a, b *fakeTimer) int { return a.deadline.Compare(b.deadline) })
	n := 0
	for _, t := range c.timers {
		if !t.deadline.After(c.now) {
			t.active = false
			t.ch <- c.now
			n++
		}
	}
	c.prune()
	return n
}

// Pending returns how long each active timer has left, shortest first.
func (c *Fake) Pending() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]time.Duration, 0, len(c.timers))
	for _, t := range c.timers {
		out = append(out, t.deadline.Sub(c.now))
	}
	slices.Sort(out)
	return out
}

// BlockUntil waits until at least n timers are active — until the code
// under test is waiting on the clock, for example a simulator holding a
// reply back for its latency — or ctx ends.
func (c *Fake) BlockUntil(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		active, wake := len(c.timers), c.wake
		c.mu.Unlock()
		if active >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		}
	}
}
