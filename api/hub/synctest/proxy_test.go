package synctest

import (
	"context"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/api/hub/agentsync"
	"github.com/exhibit-forensics/exhibit/internal/faultproxy"
)

// A fault schedule: each fault is armed once the one before has fired,
// and fires after its count of client→server bytes.
type step struct {
	kind  faultproxy.Kind
	after int64
}

// arm arms the steps on p one after the other, until they are all fired
// or ctx ends; it returns how many fired.
func arm(ctx context.Context, p *faultproxy.Proxy, steps []step) <-chan int {
	out := make(chan int, 1)
	go func() {
		n := 0
		defer func() { out <- n }()
		for _, s := range steps {
			f := p.Arm(s.kind, s.after)
			select {
			case <-f.Fired():
				n++
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// Cut, reset and stalled connections between the agent and the hub,
// mid-upload (blobs of several chunks, several per sync) and then
// mid-batch of records: Once, retried as Run would, completes; the hub
// ends with exactly the agent's log and blobs; and the uploads re-sent at
// most one chunk per fault.
func TestProxyFaults(t *testing.T) {
	h := startHub(t)
	a := newAgent(t, 1)
	a.mustEnrol(t, h)
	p, err := faultproxy.New(h.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	s, up, _ := a.syncer(t, "https://"+p.Addr()+"/")

	// Phase 1: uploads. Five blobs of 5.5 chunks each, and small ones
	// kept inline; faults spread over the ~3.6 MB of upload.
	total := a.importBlobs(t, 5, 5*Chunk+Chunk/2)
	total += a.importBlobs(t, 3, 1000)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	steps := []step{
		{faultproxy.Cut, 300_000}, {faultproxy.Reset, 450_000}, {faultproxy.Stall, 500_000},
		{faultproxy.Cut, 20_000}, {faultproxy.Reset, 700_000}, {faultproxy.Stall, 400_000},
		{faultproxy.Reset, 350_000},
	}
	actx, acancel := context.WithCancel(ctx)
	fired := arm(actx, p, steps)
	_, errs := syncRetrying(t, ctx, s, 20)
	acancel()
	n := <-fired
	if n < 5 {
		t.Fatalf("only %d of %d faults fired during the upload: the test shows little", n, len(steps))
	}
	checkSame(t, h, a)
	resent := up.Sent() - total
	t.Logf("phase 1: %d faults fired, %d failed attempts, %d bytes re-sent (chunk %d)", n, len(errs), resent, Chunk)
	// A fault on the connection hits every upload in flight on it (the
	// sync sends agentsync.Uploads blobs at once): each may re-send one
	// chunk.
	if inFlight := int64(agentsync.Uploads); resent > int64(n)*inFlight*Chunk {
		t.Errorf("%d bytes re-sent after %d faults: more than one chunk (%d) per blob in flight (%d) a fault", resent, n, Chunk, inFlight)
	}
	if resent < 0 {
		t.Errorf("the client sent %d bytes of %d: it cannot have confirmed them all", up.Sent(), total)
	}
	for _, err := range errs {
		t.Logf("attempt failed (retried): %v", err)
	}

	// Phase 2: records. 600 custody records (three batches, no new blob
	// bytes); faults inside the batches.
	a.custody(t, 600)
	before := up.Sent()
	steps = []step{{faultproxy.Cut, 60_000}, {faultproxy.Reset, 150_000}, {faultproxy.Stall, 100_000}}
	actx, acancel = context.WithCancel(ctx)
	fired = arm(actx, p, steps)
	_, errs = syncRetrying(t, ctx, s, 20)
	acancel()
	n = <-fired
	if n < len(steps) {
		t.Fatalf("only %d of %d faults fired during the batches", n, len(steps))
	}
	if len(errs) == 0 {
		t.Fatal("no attempt failed: the faults did not hit the records")
	}
	for _, err := range errs {
		t.Logf("attempt failed (retried): %v", err)
	}
	if up.Sent() != before {
		t.Errorf("%d blob bytes sent for records naming held blobs", up.Sent()-before)
	}
	checkSame(t, h, a)
	if st := a.status(t, s); !st.Empty() || st.Refused || st.LastError != "" || st.Failures != 0 {
		t.Fatalf("status after the faults: %+v", st)
	}
}
