package synctest

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/api/hub/agentsync"
	"github.com/exhibit-forensics/exhibit/api/hub/enrol"
	"github.com/exhibit-forensics/exhibit/api/hub/syncwire"
)

// The device certificate expires (a year passes on both clocks): the
// hub refuses with the reason, the status shows a refusal, nothing is
// lost; after the device enrols again (same key: a renewal) the sync
// completes.
func TestExpiredCertificate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := startHub(t)
	a := newAgent(t, 5)
	a.mustEnrol(t, h)
	a.importBlobs(t, 2, Chunk+1)
	s, _, _ := a.syncer(t, h.URL)
	syncRetrying(t, ctx, s, 2)
	checkSame(t, h, a)
	synced := a.size(t)

	year := enrol.DeviceValidity + 24*time.Hour
	h.Clock.Set(year)
	a.Clock.Set(year)
	a.importBlobs(t, 1, 3000)
	s, _, _ = a.syncer(t, h.URL) // a new process: no connection from last year
	_, err := s.Once(ctx)
	var he *agentsync.HubError
	if !errors.Is(err, agentsync.ErrRefused) || !errors.As(err, &he) || he.Status != http.StatusForbidden ||
		he.Refusal.Code != syncwire.CodeForbidden || !strings.Contains(err.Error(), "expired at") {
		t.Fatalf("sync with an expired certificate: %v", err)
	}
	st := a.status(t, s)
	if !st.Refused || st.Queue != a.size(t)-synced || !strings.Contains(st.LastError, "enrol again") {
		t.Fatalf("status with an expired certificate: %+v", st)
	}
	if hs, _, _ := hubHolds(t, h, a); hs != synced {
		t.Fatalf("the hub holds %d, synced %d", hs, synced)
	}

	a.mustEnrol(t, h)
	s, _, _ = a.syncer(t, h.URL)
	syncRetrying(t, ctx, s, 2)
	checkSame(t, h, a)
	if st := a.status(t, s); !st.Empty() || st.Refused {
		t.Fatalf("status after renewal: %+v", st)
	}
}

// A revoked device is refused with the reason, on its open connection
// and on new ones; the status shows a refusal; the agent's log keeps
// everything, and what the hub took before stays as it was.
func TestRevokedCertificate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := startHub(t)
	a := newAgent(t, 6)
	a.mustEnrol(t, h)
	a.importBlobs(t, 2, Chunk+1)
	s, _, _ := a.syncer(t, h.URL)
	syncRetrying(t, ctx, s, 2)
	synced := a.size(t)
	root := a.root(t, synced)

	a.importBlobs(t, 2, 700)
	if _, err := h.Revoke(ctx, a.L.Identity().DeviceID, "bench decommissioned"); err != nil {
		t.Fatal(err)
	}
	for range 2 { // on the open connection, then again
		_, err := s.Once(ctx)
		var he *agentsync.HubError
		if !errors.Is(err, agentsync.ErrRefused) || !errors.As(err, &he) || he.Refusal.Code != syncwire.CodeRevoked ||
			!strings.Contains(err.Error(), "bench decommissioned") {
			t.Fatalf("sync when revoked: %v", err)
		}
	}
	st := a.status(t, s)
	if !st.Refused || st.Failures != 2 || st.Size != synced+2 || st.Queue != 2 || !strings.Contains(st.LastError, "revoked") {
		t.Fatalf("status when revoked: %+v", st)
	}
	hs, hr, hw := hubHolds(t, h, a)
	if hs != synced || hr != root || hw != synced {
		t.Fatalf("the hub after the revocation: %d %s %d", hs, hr, hw)
	}
	checkBlobs(t, h, a, synced)
	if err := a.enrol(ctx, h.code(t), h.URL); !errors.Is(err, enrol.ErrRefused) || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("enrolling again when revoked: %v", err)
	}
}
