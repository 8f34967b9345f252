package synctest

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/api/hub/agentsync"
	"github.com/exhibit-forensics/exhibit/api/hub/syncwire"
	"github.com/exhibit-forensics/exhibit/api/hub/upload"
)

// The hub's disk fills up: first its blob store (uploads complete but
// cannot be stored: 507), then its mirrors (a batch of records cannot be
// written: 507 storage-full). Each attempt fails with a reason that says
// so and is not a refusal; nothing is lost, and once there is space the
// sync completes.
func TestHubDiskFull(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := startHub(t)
	a := newAgent(t, 2)
	a.mustEnrol(t, h)
	s, up, _ := a.syncer(t, h.URL)
	total := a.importBlobs(t, 3, 2*Chunk+17)
	total += a.importBlobs(t, 2, 500)

	// The blob store is full.
	h.BlobsFull.on.Store(true)
	_, err := s.Once(ctx)
	var se *upload.StatusError
	if err == nil || !errors.As(err, &se) || se.Status != http.StatusInsufficientStorage || !strings.Contains(err.Error(), syscall.ENOSPC.Error()) {
		t.Fatalf("sync with the hub's blob store full: %v", err)
	}
	if errors.Is(err, agentsync.ErrRefused) || errors.Is(err, upload.ErrRejected) {
		t.Fatalf("a full disk is taken for a refusal: %v", err)
	}
	t.Logf("blob store full: %v", err)
	st := a.status(t, s)
	if st.Refused || st.Failures != 1 || !strings.Contains(st.LastError, "507") || st.Confirmed != 0 || st.Queue != a.size(t) {
		t.Fatalf("status with the blob store full: %+v", st)
	}
	if h.BlobsFull.hits.Load() == 0 {
		t.Fatal("the full blob store was never asked")
	}
	// A second attempt while still full re-sends no bytes: the upload is
	// complete at the hub, only its storing is retried.
	sent := up.Sent()
	if _, err := s.Once(ctx); !errors.As(err, &se) || se.Status != http.StatusInsufficientStorage {
		t.Fatalf("second attempt: %v", err)
	}
	if up.Sent() != sent {
		t.Errorf("%d bytes sent again for an upload the hub holds but could not store", up.Sent()-sent)
	}

	// Blobs have space again; the mirrors are full.
	h.BlobsFull.on.Store(false)
	h.MirrorFull.on.Store(true)
	_, err = s.Once(ctx)
	var he *agentsync.HubError
	if !errors.As(err, &he) || he.Status != http.StatusInsufficientStorage || he.Refusal.Code != syncwire.CodeFull || errors.Is(err, agentsync.ErrRefused) {
		t.Fatalf("sync with the mirrors full: %v", err)
	}
	if !strings.Contains(err.Error(), "storage is full") {
		t.Errorf("the reason does not say the hub is full: %v", err)
	}
	t.Logf("mirrors full: %v", err)
	st = a.status(t, s)
	if st.Refused || st.Failures != 3 || !strings.Contains(st.LastError, "storage is full") || st.Confirmed != 0 {
		t.Fatalf("status with the mirrors full: %+v", st)
	}
	if got := h.metric(t, "exhibit_hub_refusals_total", "code", syncwire.CodeFull); got < 1 {
		t.Errorf("refusals_total{code=storage-full} = %v", got)
	}
	hs, _, _ := hubHolds(t, h, a)
	if hs != 0 {
		t.Fatalf("the hub holds %d records after failed writes", hs)
	}

	// Space again: the sync completes, each blob sent once.
	h.MirrorFull.on.Store(false)
	if _, errs := syncRetrying(t, ctx, s, 3); len(errs) != 0 {
		t.Fatalf("after the disk was freed: %v", errs)
	}
	checkSame(t, h, a)
	if up.Sent() != total {
		t.Errorf("%d blob bytes sent for %d: a full disk cost re-sent bytes", up.Sent(), total)
	}
	if st := a.status(t, s); !st.Empty() || st.Refused || st.LastError != "" {
		t.Fatalf("status after: %+v", st)
	}
}
