package link

import "time"

// A Clock makes timers. The link never sleeps: every wait is a Timer from
// its Clock, so tests drive time with a fake (lab/astm/astmtest.Clock).
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// A Timer delivers one value on C after its duration unless stopped.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// SystemClock is the real clock.
var SystemClock Clock = systemClock{}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
func (systemClock) NewTimer(d time.Duration) Timer {
	return sysTimer{time.NewTimer(d)}
}

type sysTimer struct{ t *time.Timer }

func (t sysTimer) C() <-chan time.Time { return t.t.C }
func (t sysTimer) Stop() bool          { return t.t.Stop() }
