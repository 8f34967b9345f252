package receive

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/lab/protocol"
	"github.com/exhibit-forensics/exhibit/lab/transport"
)

// armClock is the fake clock, telling the test each time a timer is made,
// so that the test advances time only once the receiver waits on it.
type armClock struct {
	*clock.Fake
	armed chan time.Duration
}

func (c *armClock) NewTimer(d time.Duration) clock.Timer {
	t := c.Fake.NewTimer(d)
	c.armed <- d
	return t
}

func (c *armClock) waitArmed(t *testing.T, want time.Duration) {
	t.Helper()
	select {
	case d := <-c.armed:
		if d != want {
			t.Fatalf("timer armed for %v, want %v", d, want)
		}
	case <-time.After(guard):
		t.Fatal("no timer armed")
	}
}

// checkpoints is a fake Checkpointer: each call is a checkpoint of one more
// entry, reported on calls with whether its context was already done.
type checkpoints struct {
	mu    sync.Mutex
	size  uint64
	fail  []error // the error of each call in turn, while any are left
	calls chan bool
}

func (c *checkpoints) Checkpoint(ctx context.Context) (store.Checkpoint, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls <- ctx.Err() != nil
	if len(c.fail) > 0 {
		err := c.fail[0]
		c.fail = c.fail[1:]
		if err != nil {
			return store.Checkpoint{}, err
		}
	}
	c.size++
	return store.Checkpoint{Size: c.size}, nil
}

func (c *checkpoints) next(t *testing.T) {
	t.Helper()
	select {
	case <-c.calls:
	case <-time.After(guard):
		t.Fatal("no checkpoint")
	}
}

// idle is a transport with no connections: it runs until ctx ends, then
// returns err.
type idle struct{ err error }

func (i idle) Run(ctx context.Context, s transport.Session) error {
	<-ctx.Done()
	return i.err
}

func newRunReceiver(t *testing.T, cp Checkpointer, every time.Duration, log *slog.Logger) (*Receiver, *armClock) {
	t.Helper()
	clk := &armClock{Fake: clock.NewFake(time.Unix(1_700_000_000, 0)), armed: make(chan time.Duration, 100)}
	r, _ := newReceiver(t, &flaky{}, protocol.ASTM, "lis2a2", func(c *Config) {
		c.Checkpoints, c.CheckpointEvery, c.Clock = cp, every, clk
		if log != nil {
			c.Logger = log
		}
	})
	return r, clk
}

type runResult struct {
	cp  *store.Checkpoint
	err error
}

func start(ctx context.Context, r *Receiver, tr transport.Runner) chan runResult {
	done := make(chan runResult, 1)
	go func() {
		cp, err := r.Run(ctx, tr)
		done <- runResult{cp, err}
	}()
	return done
}

// A checkpoint is signed each time the period has passed on the clock, not
// before, and one more when the receiver stops, on a context the stop does
// not cancel.
func TestRunCheckpointsEveryPeriodAndOnStop(t *testing.T) {
	cps := &checkpoints{calls: make(chan bool, 100)}
	r, clk := newRunReceiver(t, cps, time.Minute, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := start(ctx, r, idle{})
	for i := 0; i < 3; i++ {
		clk.waitArmed(t, time.Minute)
		if n := clk.Advance(59 * time.Second); n != 0 {
			t.Fatalf("period %d: %d timers fired after 59 s", i, n)
		}
		if len(cps.calls) != 0 {
			t.Fatalf("period %d: a checkpoint before the period passed", i)
		}
		if n := clk.Advance(time.Second); n != 1 {
			t.Fatalf("period %d: %d timers fired after 60 s", i, n)
		}
		cps.next(t)
	}
	clk.waitArmed(t, time.Minute)
	cancel()
	res := <-done
	if res.err != nil || res.cp == nil || res.cp.Size != 4 {
		t.Fatalf("Run = %+v, %v; want the fourth checkpoint", res.cp, res.err)
	}
	if cancelled := <-cps.calls; cancelled {
		t.Fatal("the checkpoint on stop was made on a cancelled context")
	}
	if len(cps.calls) != 0 || len(clk.Pending()) != 0 {
		t.Fatalf("after Run: %d more checkpoints, timers pending %v", len(cps.calls), clk.Pending())
	}
}

// Without a period there is only the checkpoint on stop; without a
// Checkpointer there is none, and the transport's error comes back.
func TestRunWithoutCadence(t *testing.T) {
	cps := &checkpoints{calls: make(chan bool, 100)}
	r, clk := newRunReceiver(t, cps, 0, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := start(ctx, r, idle{})
	cancel()
	res := <-done
	if res.err != nil || res.cp == nil || res.cp.Size != 1 || len(clk.armed) != 0 {
		t.Fatalf("Run = %+v, %v, %d timers made; want one checkpoint on stop and no timer", res.cp, res.err, len(clk.armed))
	}

	boom := errors.New("listen: address in use")
	r, _ = newRunReceiver(t, nil, time.Minute, nil)
	ctx, cancel = context.WithCancel(context.Background())
	done = start(ctx, r, idle{err: boom})
	cancel()
	if res := <-done; res.cp != nil || res.err != boom {
		t.Fatalf("Run without checkpoints = %+v, %v", res.cp, res.err)
	}
}

// A checkpoint that fails while running is logged and the cadence goes on;
// one that fails on stop is returned, with the transport's error.
func TestRunCheckpointFailures(t *testing.T) {
	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, nil))
	disk := errors.New("disk full")
	cps := &checkpoints{calls: make(chan bool, 100), fail: []error{disk, nil, disk}}
	r, clk := newRunReceiver(t, cps, time.Minute, log)
	ctx, cancel := context.WithCancel(context.Background())
	boom := errors.New("serial line gone")
	done := start(ctx, r, idle{err: boom})
	clk.waitArmed(t, time.Minute)
	clk.Advance(time.Minute)
	cps.next(t) // fails, logged
	clk.waitArmed(t, time.Minute)
	clk.Advance(time.Minute)
	cps.next(t) // succeeds
	clk.waitArmed(t, time.Minute)
	cancel()
	res := <-done
	if res.cp != nil || !errors.Is(res.err, boom) || !errors.Is(res.err, disk) || !strings.Contains(res.err.Error(), "checkpoint on stop: disk full") {
		t.Fatalf("Run = %+v, %v", res.cp, res.err)
	}
	logMu.Lock()
	defer logMu.Unlock()
	if got := strings.Count(logs.String(), "receive: checkpoint failed"); got != 1 || !strings.Contains(logs.String(), "disk full") {
		t.Fatalf("log:\n%s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
