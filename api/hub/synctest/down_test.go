package synctest

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/api/hub/agentsync"
	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/internal/faultproxy"
)

type outcome struct {
	res *agentsync.Result
	err error
}

// The hub is down for three hours (its address refuses connections) while
// a running agent (Syncer.Run, on a fake clock) keeps trying: the waits
// follow Backoff — doubling from 1 s, jittered into the upper half, at
// most 5 min — so the attempts over three hours are bounded; nothing is
// lost; and the first attempt after the hub is back completes the sync.
func TestHubDownForHours(t *testing.T) {
	h := startHub(t)
	a := newAgent(t, 3)
	a.mustEnrol(t, h)
	p, err := faultproxy.New(h.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	p.Refuse(true)
	s, _, _ := a.syncer(t, "https://"+p.Addr()+"/")
	a.importBlobs(t, 2, 2*Chunk)
	a.importBlobs(t, 2, 300)
	size := a.size(t)

	clk := clock.NewFake(time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC))
	results := make(chan outcome, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() {
		ran <- s.Run(runCtx, agentsync.RunConfig{Every: time.Hour, Clock: clk, Rand: rand.New(rand.NewPCG(7, 11)),
			OnResult: func(r *agentsync.Result, err error) {
				select {
				case results <- outcome{r, err}:
				case <-runCtx.Done():
				}
			}})
	}()

	const down = 3 * time.Hour
	var elapsed time.Duration
	failures := 0
	var last outcome
	for {
		select {
		case last = <-results:
		case <-ctx.Done():
			t.Fatalf("after %d failures and %v: %v", failures, elapsed, ctx.Err())
		}
		if last.err == nil {
			break
		}
		failures++
		if !strings.Contains(last.err.Error(), "reaching the hub") {
			t.Fatalf("attempt %d: %v", failures, last.err)
		}
		if err := clk.BlockUntil(ctx, 1); err != nil {
			t.Fatal(err)
		}
		pend := clk.Pending()
		if len(pend) != 1 {
			t.Fatalf("timers pending: %v", pend)
		}
		wait := pend[0]
		ceil := min(agentsync.BackoffBase<<min(failures-1, 20), agentsync.BackoffMax)
		if wait < ceil/2 || wait > ceil {
			t.Fatalf("wait after failure %d: %v, want in [%v, %v]", failures, wait, ceil/2, ceil)
		}
		st := a.status(t, s)
		if st.Refused || st.Failures != failures || st.Queue != size || !strings.Contains(st.LastError, "reaching the hub") {
			t.Fatalf("status after failure %d: %+v", failures, st)
		}
		elapsed += wait
		if elapsed >= down {
			p.Refuse(false) // the hub is back
		}
		clk.Advance(wait)
	}
	// The ramp to 5 min takes 9 waits (1 s … 256 s); then each wait is
	// 150 s to 300 s.
	lo, hi := int(down/agentsync.BackoffMax), 9+int(down/(agentsync.BackoffMax/2))+1
	t.Logf("%d failed attempts over %v of hub downtime (bounds %d…%d)", failures, elapsed, lo, hi)
	if failures < lo || failures > hi {
		t.Fatalf("%d attempts in %v down: want %d…%d", failures, elapsed, lo, hi)
	}
	if last.res == nil || last.res.Size != size || last.res.Witnessed != size {
		t.Fatalf("the first attempt after the hub returned: %+v", last.res)
	}
	stop()
	if err := <-ran; err != context.Canceled {
		t.Fatalf("Run: %v", err)
	}
	checkSame(t, h, a)
	if st := a.status(t, s); !st.Empty() || st.Failures != 0 || st.Refused {
		t.Fatalf("status after: %+v", st)
	}
}
