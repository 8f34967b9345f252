package synctest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/api/hub/agentsync"
	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/internal/faultproxy"
)

// blobsOf lists the blobs the agent's case names, and how many are here.
func blobsOf(t testing.TB, a *testAgent) (all []chain.Hash, here int) {
	t.Helper()
	ctx := context.Background()
	exs, err := a.L.Exhibits(ctx, caseRef)
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range exs {
		for _, b := range ex.Blobs {
			all = append(all, b.Hash)
			if _, err := a.L.Blobs().Stat(ctx, b.Hash); err == nil {
				here++
			}
		}
	}
	return all, here
}

// A retention purge through the fault proxy: a hub that refuses the
// connection, and a connection reset in the middle of the agent's
// questions (the hub's state, each blob's confirmation), purge nothing
// and record nothing; with the connection whole the purge completes; the
// hub still holds every blob, and the purged record syncs.
func TestPurgeFaults(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	h := startHub(t)
	a := newAgent(t, 7)
	a.mustEnrol(t, h)
	a.importBlobs(t, 4, 100<<10)
	direct, _, _ := a.syncer(t, h.URL)
	if _, err := direct.Once(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := faultproxy.New(h.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	s, _, hc := a.syncer(t, "https://"+p.Addr()+"/")
	size0 := a.size(t)
	unchanged := func(what string) {
		t.Helper()
		if _, here := blobsOf(t, a); here != 4 || a.size(t) != size0 {
			t.Fatalf("%s: %d of 4 blobs here, log %d (was %d)", what, here, a.size(t), size0)
		}
	}

	// The hub unreachable.
	p.Refuse(true)
	if _, err := s.Purge(ctx, agentsync.PurgeOptions{}); !errors.Is(err, agentsync.ErrHubUnavailable) {
		t.Fatalf("purge with the connection refused: %v", err)
	}
	unchanged("connection refused")
	p.Refuse(false)

	// How many bytes the agent's questions take (a dry run).
	hc.CloseIdleConnections()
	before := p.Forwarded()
	res, err := s.Purge(ctx, agentsync.PurgeOptions{DryRun: true})
	if err != nil || len(res.Purged) != 4 {
		t.Fatalf("dry run: %v %+v", err, res)
	}
	n := p.Forwarded() - before
	unchanged("dry run")

	// Reset at points through those questions: nothing purged.
	failed, midBlobs := 0, 0
	for _, at := range []int64{n / 4, n / 2, n * 3 / 4, n - 200, n - 120, n - 60} {
		hc.CloseIdleConnections()
		f := p.Arm(faultproxy.Reset, at)
		_, err := s.Purge(ctx, agentsync.PurgeOptions{})
		select {
		case <-f.Fired():
		default:
			t.Logf("the reset at byte %d of %d did not fire (a shorter handshake?)", at, n)
			p.Arm(faultproxy.Reset, 1<<60) // disarm
			continue
		}
		if err == nil {
			t.Fatalf("reset at byte %d of %d: the purge succeeded", at, n)
		}
		t.Logf("reset at byte %d of %d: %v", at, n, err)
		failed++
		if strings.Contains(err.Error(), "asking the hub about") {
			midBlobs++ // among the blobs' confirmations
		}
		unchanged("reset")
	}
	if failed == 0 || midBlobs == 0 {
		t.Fatalf("%d resets fired, %d among the blobs' confirmations: the test shows too little", failed, midBlobs)
	}

	// With the connection whole: all four purged, recorded once.
	hc.CloseIdleConnections()
	res, err = s.Purge(ctx, agentsync.PurgeOptions{})
	if err != nil || len(res.Purged) != 4 || len(res.Records) != 1 {
		t.Fatalf("purge: %v %+v", err, res)
	}
	if _, here := blobsOf(t, a); here != 0 || a.size(t) != size0+1 {
		t.Fatalf("after the purge: %d blobs here, log %d", here, a.size(t))
	}
	if rep, err := a.L.Fsck(ctx); err != nil || !rep.OK() || rep.Purged != 4 {
		t.Fatalf("fsck: %v %+v", err, rep)
	}
	if _, err := s.Once(ctx); err != nil {
		t.Fatal(err)
	}
	checkSame(t, h, a)
	if st := a.status(t, s); st.Purged != 4 || st.PurgedBytes != 4*(100<<10) || !st.Empty() {
		t.Fatalf("status: %+v", st)
	}
}
