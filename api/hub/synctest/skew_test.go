package synctest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/api/hub/enrol"
)

// The hub's clock off from the agent's, both ways (docs/sync.md, Clocks).
// Certificates start enrol.Backdate before they are issued, so a hub
// ahead by less than that, or behind by any amount, enrols and syncs; a
// hub ahead by more is refused at enrolment with ErrClock and a reason
// that names both times — not taken for another server — and once the
// clocks agree the same agent enrols and syncs.
func TestClockSkew(t *testing.T) {
	for i, c := range []struct {
		skew time.Duration // the hub's clock minus the agent's
		ok   bool
	}{
		{30 * time.Minute, true},
		{-30 * time.Minute, true},
		{-3 * time.Hour, true},
		{-72 * time.Hour, true},
		{3 * time.Hour, false},
		{40 * 24 * time.Hour, false},
	} {
		t.Run(c.skew.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			h := startHubSkewed(t, c.skew)
			a := newAgent(t, uint64(40+i))
			a.importBlobs(t, 2, Chunk+5)
			err := a.enrol(ctx, h.code(t), h.URL)
			if !c.ok {
				if !errors.Is(err, enrol.ErrClock) || errors.Is(err, enrol.ErrWrongHub) || !strings.Contains(err.Error(), "this machine's clock reads") {
					t.Fatalf("enrolment with the hub %v ahead: %v", c.skew, err)
				}
				// The agent's clock set right (to the hub's, here):
				// enrolment and sync work.
				a.Clock.Set(c.skew)
				err = a.enrol(ctx, h.code(t), h.URL)
			}
			if err != nil {
				t.Fatalf("enrolment: %v", err)
			}
			s, _, _ := a.syncer(t, h.URL)
			syncRetrying(t, ctx, s, 2)
			checkSame(t, h, a)
		})
	}
}

// A hub whose clock is set back by hours after its CA was made (a clock
// that ran ahead, then corrected): it must still accept the device
// certificates it issues afterwards, which start before its CA does. It
// refused them as "not issued by this hub's CA" (the chain was checked at
// the certificate's start, when the CA was not yet valid).
func TestHubClockSetBack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h := startHub(t)
	h.Clock.Set(-3 * time.Hour)
	a := newAgent(t, 50)
	a.importBlobs(t, 2, 900)
	a.mustEnrol(t, h)
	s, _, _ := a.syncer(t, h.URL)
	syncRetrying(t, ctx, s, 2)
	checkSame(t, h, a)
}

// A running agent whose hub's certificate is not valid at its time (the
// agent's clock far behind) fails each attempt with a reason that names
// the clock, is not refused, and syncs once its clock is right.
func TestAgentClockBehind(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h := startHub(t)
	a := newAgent(t, 51)
	a.importBlobs(t, 2, 900)
	a.mustEnrol(t, h)
	a.Clock.Set(-3 * time.Hour)
	s, _, _ := a.syncer(t, h.URL)
	_, err := s.Once(ctx)
	if err == nil || !strings.Contains(err.Error(), "this machine's clock or the hub's is wrong") {
		t.Fatalf("sync with the agent's clock 3 h behind: %v", err)
	}
	if st := a.status(t, s); st.Refused || !strings.Contains(st.LastError, "clock") {
		t.Fatalf("status: %+v", st)
	}
	a.Clock.Set(0)
	syncRetrying(t, ctx, s, 2)
	checkSame(t, h, a)
}
