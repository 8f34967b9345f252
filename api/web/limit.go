package web

import (
	"sync"
	"time"
)

// A Limit is a login rate limit for one kind of key (an account id, or a
// client address). Failures failed sign-ins within Window lock the key for
// Lock; each further lock-out of the same key doubles the time, up to
// MaxLock. A key with no failure for Forget starts again from nothing.
type Limit struct {
	Failures int
	Window   time.Duration
	Lock     time.Duration
	MaxLock  time.Duration
	Forget   time.Duration
}

// DefaultAccountLimit is 5 failures in 15 minutes, then 1, 2, 4 … up to 60
// minutes; forgotten after a day without failures. Five is enough for a
// person who mistypes under stress, and an online guesser gets about 5 tries
// an hour after a few lock-outs; a short first lock keeps a locked-out
// photographer (or one locked out on purpose by someone else) waiting only a
// minute.
var DefaultAccountLimit = Limit{Failures: 5, Window: 15 * time.Minute, Lock: time.Minute, MaxLock: time.Hour, Forget: 24 * time.Hour}

// DefaultAddressLimit is 20 failures in 15 minutes from one address, with the
// same lock-out times. It is looser than the account limit because on a kiosk
// every person signs in from the same address (127.0.0.1): it is a backstop
// against one client guessing across many accounts, not the first line.
var DefaultAddressLimit = Limit{Failures: 20, Window: 15 * time.Minute, Lock: time.Minute, MaxLock: time.Hour, Forget: 24 * time.Hour}

func (l Limit) withDefaults(d Limit) Limit {
	if l.Failures <= 0 {
		l.Failures = d.Failures
	}
	if l.Window <= 0 {
		l.Window = d.Window
	}
	if l.Lock <= 0 {
		l.Lock = d.Lock
	}
	if l.MaxLock < l.Lock {
		l.MaxLock = max(d.MaxLock, l.Lock)
	}
	if l.Forget <= 0 {
		l.Forget = d.Forget
	}
	return l
}

// maxKeys bounds the memory a limiter uses; past it, keys that are neither
// locked nor within their window are dropped first.
const maxKeys = 10000

type limitEntry struct {
	failures    []time.Time // within the window, oldest first
	lockouts    int
	lockedUntil time.Time
	last        time.Time
}

// limiter counts failures per key on the times it is given (the server's
// clock). It is safe for concurrent use.
type limiter struct {
	lim Limit
	mu  sync.Mutex
	m   map[string]*limitEntry
}

func newLimiter(l Limit) *limiter { return &limiter{lim: l, m: map[string]*limitEntry{}} }

// locked reports how long key stays locked at now (0: not locked).
func (l *limiter) locked(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.m[key]
	if e == nil || !now.Before(e.lockedUntil) {
		return 0
	}
	return e.lockedUntil.Sub(now)
}

// fail records a failure at now and returns how long key is now locked.
func (l *limiter) fail(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.m[key]
	if e != nil && now.Sub(e.last) >= l.lim.Forget {
		e = nil
	}
	if e == nil {
		if len(l.m) >= maxKeys {
			l.prune(now)
		}
		e = &limitEntry{}
		l.m[key] = e
	}
	e.last = now
	keep := e.failures[:0]
	for _, t := range e.failures {
		if now.Sub(t) < l.lim.Window {
			keep = append(keep, t)
		}
	}
	e.failures = append(keep, now)
	if len(e.failures) < l.lim.Failures {
		return 0
	}
	e.failures = nil
	e.lockouts++
	d := l.lim.Lock
	for i := 1; i < e.lockouts && d < l.lim.MaxLock; i++ {
		d *= 2
	}
	d = min(d, l.lim.MaxLock)
	e.lockedUntil = now.Add(d)
	return d
}

// succeed forgets key's failures and lock-outs.
func (l *limiter) succeed(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, key)
}

// prune drops keys that no longer matter; if that is not enough, it drops
// keys that are not locked. Called with mu held.
func (l *limiter) prune(now time.Time) {
	for k, e := range l.m {
		if now.Sub(e.last) >= l.lim.Forget || (now.Sub(e.last) >= l.lim.Window && !now.Before(e.lockedUntil) && e.lockouts == 0) {
			delete(l.m, k)
		}
	}
	for k, e := range l.m {
		if len(l.m) < maxKeys {
			return
		}
		if !now.Before(e.lockedUntil) {
			delete(l.m, k)
		}
	}
}
