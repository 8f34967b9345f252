package synctest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/api/hub/agentsync"
	"github.com/exhibit-forensics/exhibit/api/hub/ingest"
	"github.com/exhibit-forensics/exhibit/api/hub/syncwire"
	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
)

// postBatch posts a crafted batch with the agent's own client
// (mutual TLS) and returns the status and the reply.
func postBatch(t *testing.T, hc *http.Client, h *testHub, bt syncwire.Batch) (int, []byte) {
	t.Helper()
	res, err := hc.Post(strings.TrimSuffix(h.URL, "/")+syncwire.RecordsPath, "application/json", bytes.NewReader(syncwire.Marshal(bt)))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

func refusal(t *testing.T, status int, b []byte, wantStatus int, wantCode string) *syncwire.Refusal {
	t.Helper()
	r, err := syncwire.ParseRefusal(b)
	if err != nil || status != wantStatus || r.Code != wantCode {
		t.Fatalf("got %d %s (%v), want %d %s", status, b, err, wantStatus, wantCode)
	}
	return r
}

func envelopes(t *testing.T, a *testAgent, from, to uint64) [][]byte {
	t.Helper()
	var out [][]byte
	if err := a.L.Records(context.Background(), from, to, func(sr store.StoredRecord) error {
		out = append(out, sr.Envelope)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// resign returns record i of a's log with its statement changed by edit
// and signed by priv: what a second ledger holding the same device key
// (or a stranger's key) would produce at that index.
func resign(t *testing.T, a *testAgent, i uint64, priv ed25519.PrivateKey, edit func(*chain.Statement)) []byte {
	t.Helper()
	sr, err := a.L.Record(context.Background(), i)
	if err != nil {
		t.Fatal(err)
	}
	r, err := sr.Decode()
	if err != nil {
		t.Fatal(err)
	}
	st := r.Statement
	st.Subject = append([]chain.Subject(nil), st.Subject...)
	if edit != nil {
		edit(&st)
	}
	sg := chain.NewSigner(priv)
	st.Predicate.Device.KeyID = sg.KeyID()
	rec, err := chain.Sign(&st, sg)
	if err != nil {
		t.Fatal(err)
	}
	return rec.Envelope
}

// Crafted batches on the agent's own mutual-TLS connection: an old batch
// replayed is confirmed and not stored twice; a record signed by a key
// the log never enrolled is refused (422 record, its index); a forked
// history — a record the hub holds, re-signed differently by the device
// key — is refused (409 fork, its index), raises one alarm (Alarms and
// exhibit_hub_alarms_total{kind="fork"}) and quarantines the device, so
// that the real agent then gets a clear refusal; nothing is lost.
func TestCraftedBatches(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := startHub(t)
	a := newAgent(t, 8)
	a.mustEnrol(t, h)
	a.importBlobs(t, 3, 2000)
	a.custody(t, 7)
	s, _, hc := a.syncer(t, h.URL)
	syncRetrying(t, ctx, s, 2)
	checkSame(t, h, a)
	n := a.size(t)
	root := a.root(t, n)

	t.Run("replayed", func(t *testing.T) {
		for _, from := range []uint64{2, 0} {
			code, b := postBatch(t, hc, h, syncwire.Batch{From: from, Records: envelopes(t, a, from, from+4)})
			st, err := syncwire.ParseState(b)
			if code != http.StatusOK || err != nil || st.Size != n || st.Root != root {
				t.Fatalf("replay from %d: %d %s", from, code, b)
			}
		}
		if hs, hr, _ := hubHolds(t, h, a); hs != n || hr != root {
			t.Fatalf("after the replays the hub holds %d %s", hs, hr)
		}
	})

	a.custody(t, 3) // n, n+1, n+2: not yet at the hub
	t.Run("unknown key", func(t *testing.T) {
		_, stranger, _ := ed25519.GenerateKey(rand.NewChaCha8([32]byte{9}))
		forged := resign(t, a, n, stranger, nil)
		code, b := postBatch(t, hc, h, syncwire.Batch{From: n, Records: [][]byte{forged}})
		r := refusal(t, code, b, http.StatusUnprocessableEntity, syncwire.CodeRecord)
		if r.Index == nil || *r.Index != n || !strings.Contains(r.Error, "key") {
			t.Fatalf("refusal %+v", r)
		}
		// In a batch after good records: the good ones are not taken
		// either (all or none), and the index is the forged one's.
		batch := append(envelopes(t, a, n-2, n), forged)
		code, b = postBatch(t, hc, h, syncwire.Batch{From: n - 2, Records: batch})
		if r := refusal(t, code, b, http.StatusUnprocessableEntity, syncwire.CodeRecord); r.Index == nil || *r.Index != n {
			t.Fatalf("refusal %+v", r)
		}
		if hs, hr, _ := hubHolds(t, h, a); hs != n || hr != root {
			t.Fatalf("after the forged record the hub holds %d %s", hs, hr)
		}
		if as, err := h.In.Alarms(ctx); err != nil || len(as) != 0 {
			t.Fatalf("a stranger's record raised alarms: %+v %v", as, err)
		}
	})

	t.Run("fork", func(t *testing.T) {
		k := n - 3
		forked := resign(t, a, k, a.Key, func(st *chain.Statement) { st.Predicate.Note = "rewritten on a copy of the kiosk" })
		code, b := postBatch(t, hc, h, syncwire.Batch{From: k, Records: [][]byte{forked}})
		r := refusal(t, code, b, http.StatusConflict, syncwire.CodeFork)
		if r.Index == nil || *r.Index != k {
			t.Fatalf("refusal %+v", r)
		}
		as, err := h.In.Alarms(ctx)
		if err != nil || len(as) != 1 || as[0].Kind != ingest.AlarmFork || as[0].Index != k || as[0].Got != chain.Sum(forked) ||
			as[0].DeviceID != a.L.Identity().DeviceID {
			t.Fatalf("alarms: %+v %v", as, err)
		}
		if got := h.metric(t, "exhibit_hub_alarms_total", "kind", "fork"); got != 1 {
			t.Fatalf("exhibit_hub_alarms_total{kind=fork} = %v, want 1", got)
		}
		// The same forked record again: refused as a fork, no new alarm.
		code, b = postBatch(t, hc, h, syncwire.Batch{From: k, Records: [][]byte{forked}})
		refusal(t, code, b, http.StatusConflict, syncwire.CodeFork)

		// The real agent: its next records are refused, clearly, and
		// retrying (as Run does) neither loses anything nor raises
		// more alarms.
		for i := range 2 {
			_, err := s.Once(ctx)
			var he *agentsync.HubError
			if !errors.Is(err, agentsync.ErrRefused) || !errors.As(err, &he) || he.Refusal.Code != syncwire.CodeFork ||
				!strings.Contains(err.Error(), "alarm") {
				t.Fatalf("the agent's sync %d after the fork: %v", i, err)
			}
			t.Logf("the agent after the fork: %v", err)
		}
		st := a.status(t, s)
		if !st.Refused || st.Size != n+3 || st.Confirmed != n || st.Queue != 3 {
			t.Fatalf("status after the fork: %+v", st)
		}
		if got := h.metric(t, "exhibit_hub_alarms_total", "kind", "fork"); got != 1 {
			t.Errorf("exhibit_hub_alarms_total{kind=fork} = %v after the agent's retries, want 1 (one fork)", got)
		}
		if as, _ := h.In.Alarms(ctx); len(as) != 1 {
			t.Errorf("%d alarms after the agent's retries", len(as))
		}
		if hs, hr, _ := hubHolds(t, h, a); hs != n || hr != root {
			t.Fatalf("after the fork the hub holds %d %s", hs, hr)
		}
		checkBlobs(t, h, a, n)
	})
}
