package agentsync

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/clock"
)

// Backoff bounds.
const (
	BackoffBase = time.Second
	BackoffMax  = 5 * time.Minute
)

// Backoff is the wait before retry number attempt (1, 2, …) after
// failures: BackoffBase doubled for each earlier failure, at most
// BackoffMax, then "equal jitter" — a uniformly random point in its upper
// half — so that agents cut off together do not come back together.
func Backoff(attempt int, r *rand.Rand) time.Duration {
	d := BackoffMax
	if attempt < 1 {
		attempt = 1
	}
	if attempt <= 20 {
		d = min(BackoffBase<<(attempt-1), BackoffMax)
	}
	half := d / 2
	return half + time.Duration(r.Int64N(int64(half)+1))
}

func isRefusal(err error) bool {
	return errors.Is(err, ErrRefused) || errors.Is(err, ErrHubAhead) || errors.Is(err, ErrDiverged)
}

// RunConfig configures Run.
type RunConfig struct {
	// Every is the wait between syncs when all went well.
	Every time.Duration
	// Wake, if not nil, starts a sync at once (a record was sealed).
	Wake <-chan struct{}
	// Clock times the waits (clock.System if nil); Rand jitters them.
	Clock clock.Clock
	Rand  *rand.Rand
	// OnResult, if set, is told each sync's outcome.
	OnResult func(*Result, error)
}

// Run syncs until ctx ends: at once, then every cfg.Every, sooner when
// woken, and after a failure again after Backoff. A refusal is retried
// too, at the longest wait: whoever fixes its cause should not also have
// to restart the agent.
func (s *Syncer) Run(ctx context.Context, cfg RunConfig) error {
	if cfg.Clock == nil {
		cfg.Clock = clock.System
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if cfg.Every <= 0 {
		cfg.Every = time.Minute
	}
	failures := 0
	for {
		res, err := s.Once(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if cfg.OnResult != nil {
			cfg.OnResult(res, err)
		}
		wait := cfg.Every
		switch {
		case err == nil:
			failures = 0
		case isRefusal(err):
			failures++
			wait = Backoff(30, cfg.Rand)
		default:
			failures++
			wait = Backoff(failures, cfg.Rand)
		}
		t := cfg.Clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-cfg.Wake:
			t.Stop()
		case <-t.C():
		}
	}
}
