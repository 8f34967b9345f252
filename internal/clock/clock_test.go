package clock_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/clock"
)

// guard bounds a wait that must end; it is not a timing assertion.
const guard = 10 * time.Second

func fired(tm clock.Timer) (time.Time, bool) {
	select {
	case at := <-tm.C():
		return at, true
	default:
		return time.Time{}, false
	}
}

// notYet fails the test if done already holds a result.
func notYet(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("%s: returned %v", what, err)
	default:
	}
}

func TestFake(t *testing.T) {
	c := clock.NewFake(time.Unix(100, 0))
	a := c.NewTimer(2 * time.Second)
	b := c.NewTimer(time.Second)
	stopped := c.NewTimer(time.Second)
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop should report true once")
	}
	if got := c.Pending(); !slices.Equal(got, []time.Duration{time.Second, 2 * time.Second}) {
		t.Fatalf("pending %v", got)
	}
	if n := c.Advance(999 * time.Millisecond); n != 0 {
		t.Fatalf("%d fired early", n)
	}
	if n := c.Advance(time.Millisecond); n != 1 {
		t.Fatalf("%d fired at 1 s", n)
	}
	if at, ok := fired(b); !ok || !at.Equal(time.Unix(101, 0)) {
		t.Fatalf("b: fired %v at %v", ok, at)
	}
	if _, ok := fired(a); ok {
		t.Fatal("a fired early")
	}
	if got := c.Pending(); !slices.Equal(got, []time.Duration{time.Second}) {
		t.Fatalf("pending after the first fired: %v", got)
	}
	if n := c.Advance(time.Hour); n != 1 {
		t.Fatalf("%d fired later", n)
	}
	if a.Stop() {
		t.Fatal("Stop of a fired timer reported true")
	}
	if _, ok := fired(stopped); ok {
		t.Fatal("a stopped timer fired")
	}
	if len(c.Pending()) != 0 || !c.Now().Equal(time.Unix(3701, 0)) {
		t.Fatalf("pending %v now %v", c.Pending(), c.Now())
	}
}

// TestFakeDeadlineOrder: timers due in one Advance fire in deadline order,
// whatever order they were made in, all stamped with the new time.
func TestFakeDeadlineOrder(t *testing.T) {
	c := clock.NewFake(time.Unix(0, 0))
	var timers []clock.Timer
	for _, d := range []time.Duration{3, 1, 2} {
		timers = append(timers, c.NewTimer(d*time.Second))
	}
	if n := c.Advance(time.Minute); n != 3 {
		t.Fatalf("%d fired", n)
	}
	for i, tm := range timers {
		if at, ok := fired(tm); !ok || !at.Equal(time.Unix(60, 0)) {
			t.Fatalf("timer %d: fired %v at %v", i, ok, at)
		}
	}
}

// TestFakeZeroFiresAtOnce: as with time.NewTimer, a timer of zero or
// negative duration fires without the clock moving, and is never pending.
func TestFakeZeroFiresAtOnce(t *testing.T) {
	c := clock.NewFake(time.Unix(5, 0))
	for _, d := range []time.Duration{0, -time.Second} {
		tm := c.NewTimer(d)
		if at, ok := fired(tm); !ok || !at.Equal(time.Unix(5, 0)) {
			t.Fatalf("NewTimer(%v): fired %v at %v", d, ok, at)
		}
		if tm.Stop() {
			t.Fatalf("NewTimer(%v).Stop reported true", d)
		}
	}
	if len(c.Pending()) != 0 {
		t.Fatalf("pending %v", c.Pending())
	}
}

// TestFakeBlockUntil: BlockUntil returns once enough timers wait, and when
// its context ends.
func TestFakeBlockUntil(t *testing.T) {
	c := clock.NewFake(time.Unix(0, 0))
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		done <- c.BlockUntil(ctx, 2)
	}()
	first := c.NewTimer(time.Second)
	notYet(t, done, "BlockUntil(2) with one timer")
	c.NewTimer(time.Second)
	if err := <-done; err != nil {
		t.Fatalf("BlockUntil(2) = %v", err)
	}
	first.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.BlockUntil(ctx, 2); err != context.Canceled {
		t.Fatalf("BlockUntil with one timer and a cancelled context = %v", err)
	}
	if err := c.BlockUntil(ctx, 1); err != nil {
		t.Fatalf("BlockUntil(1) with one timer = %v", err)
	}
}

// TestSystem: the real clock's timers fire; Stop stops one that has not.
func TestSystem(t *testing.T) {
	before := time.Now()
	if now := clock.System.Now(); now.Before(before) {
		t.Fatalf("System.Now %v before %v", now, before)
	}
	tm := clock.System.NewTimer(time.Millisecond)
	select {
	case <-tm.C():
	case <-time.After(guard):
		t.Fatal("a 1 ms system timer did not fire")
	}
	if tm.Stop() {
		t.Fatal("Stop of a fired system timer reported true")
	}
	if !clock.System.NewTimer(time.Hour).Stop() {
		t.Fatal("Stop of a pending system timer reported false")
	}
}

// TestSleep: Sleep returns once the clock has moved on by d, at once for
// d <= 0, and with the context's error when the context ends first — and
// leaves no timer behind.
func TestSleep(t *testing.T) {
	c := clock.NewFake(time.Unix(0, 0))
	ctx := context.Background()
	if err := clock.Sleep(ctx, c, 0); err != nil {
		t.Fatalf("Sleep(0) = %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- clock.Sleep(ctx, c, time.Minute) }()
	bctx, cancel := context.WithTimeout(ctx, guard)
	defer cancel()
	if err := c.BlockUntil(bctx, 1); err != nil {
		t.Fatal(err)
	}
	c.Advance(59 * time.Second)
	notYet(t, done, "Sleep a second early")
	c.Advance(time.Second)
	if err := <-done; err != nil {
		t.Fatalf("Sleep = %v", err)
	}

	cctx, cancelSleep := context.WithCancel(ctx)
	go func() { done <- clock.Sleep(cctx, c, time.Hour) }()
	if err := c.BlockUntil(bctx, 1); err != nil {
		t.Fatal(err)
	}
	cancelSleep()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Sleep after cancel = %v", err)
	}
	if len(c.Pending()) != 0 {
		t.Fatalf("a cancelled Sleep left timers: %v", c.Pending())
	}
	if err := clock.Sleep(cctx, c, 0); err != context.Canceled {
		t.Fatalf("Sleep(0) on a cancelled context = %v", err)
	}
}

// TestWithTimeout: the context ends, with DeadlineExceeded as its cause,
// only when the fake clock passes the time-out; cancel ends it early with
// Canceled and releases the timer; a parent ending ends it too.
func TestWithTimeout(t *testing.T) {
	ctx, stop := context.WithTimeout(context.Background(), guard)
	defer stop()
	c := clock.NewFake(time.Unix(0, 0))

	tctx, cancel := clock.WithTimeout(ctx, c, 5*time.Second)
	defer cancel()
	if err := c.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	c.Advance(4 * time.Second)
	if tctx.Err() != nil {
		t.Fatalf("ended after 4 s of 5: %v", tctx.Err())
	}
	c.Advance(time.Second)
	select {
	case <-tctx.Done():
	case <-ctx.Done():
		t.Fatal("not ended after 5 s")
	}
	if cause := context.Cause(tctx); cause != context.DeadlineExceeded {
		t.Fatalf("cause %v, want DeadlineExceeded", cause)
	}

	tctx2, cancel2 := clock.WithTimeout(ctx, c, time.Minute)
	cancel2()
	cancel2() // twice is harmless
	if context.Cause(tctx2) != context.Canceled {
		t.Fatalf("cancelled: cause %v", context.Cause(tctx2))
	}
	if p := c.Pending(); len(p) != 0 {
		t.Fatalf("timer left after cancel: %v", p)
	}

	parent, endParent := context.WithCancel(ctx)
	tctx3, cancel3 := clock.WithTimeout(parent, c, time.Minute)
	defer cancel3()
	endParent()
	<-tctx3.Done()
	if context.Cause(tctx3) != context.Canceled {
		t.Fatalf("parent ended: cause %v", context.Cause(tctx3))
	}
}
