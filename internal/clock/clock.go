// Package clock is the one clock seam of the tree: code that waits or reads
// the time takes a Clock, so that tests drive time by hand with a Fake
// instead of sleeping. The ASTM link, the HL7 server, the light-engine
// driver, the network-camera driver and the device and analyser simulators
// all take one; System is the real clock.
//
// A Clock makes Timers rather than returning channels (as time.After
// does), so that code waiting on one of several events can stop the timer it
// no longer needs.
//
// The Fake fires timers only when Advance moves it past their deadlines, in
// deadline order; BlockUntil lets a test wait until the code under test is
// waiting on the clock, so that tests hold no timed assertions. Rejected
// alternatives: a library fake (github.com/jonboulle/clockwork) brings an
// interface of a dozen methods for the two used here, and testing/synctest
// changes how every test is run where an injected clock already serves.
package clock

import (
	"context"
	"sync"
	"time"
)

// A Clock tells the time and makes timers.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// A Timer delivers one value on C after its duration unless stopped.
type Timer interface {
	C() <-chan time.Time
	// Stop prevents the timer from firing. It reports whether it did so:
	// false if the timer had already fired or been stopped.
	Stop() bool
}

// System is the real clock.
var System Clock = system{}

type system struct{}

func (system) Now() time.Time { return time.Now() }

func (system) NewTimer(d time.Duration) Timer { return sysTimer{time.NewTimer(d)} }

type sysTimer struct{ t *time.Timer }

func (t sysTimer) C() <-chan time.Time { return t.t.C }
func (t sysTimer) Stop() bool          { return t.t.Stop() }

// Sleep waits d on c, or until ctx ends, in which case it returns
// ctx.Err(). A d <= 0 does not wait.
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WithTimeout is context.WithTimeout on c: the context it returns is
// cancelled once d has passed on c, and then context.Cause reports
// context.DeadlineExceeded (its Err reports context.Canceled, as the
// context package does for every cancellation it did not time itself).
// Calling cancel releases the timer.
func WithTimeout(ctx context.Context, c Clock, d time.Duration) (context.Context, context.CancelFunc) {
	tctx, cancel := context.WithCancelCause(ctx)
	t := c.NewTimer(d)
	stop := make(chan struct{})
	go func() {
		select {
		case <-t.C():
			cancel(context.DeadlineExceeded)
		case <-stop:
		case <-tctx.Done():
		}
	}()
	var once sync.Once
	return tctx, func() {
		once.Do(func() {
			t.Stop()
			close(stop)
			cancel(context.Canceled)
		})
	}
}
