package hub_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/api/hub"
	"github.com/exhibit-forensics/exhibit/api/hub/enrol"
	"github.com/exhibit-forensics/exhibit/api/hub/enrol/registrytest"
	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
	"github.com/exhibit-forensics/exhibit/chain/witness"
	"github.com/exhibit-forensics/exhibit/internal/clock"
)

// serveHubOn opens the hub in dir on the database db and serves it on a
// loopback port of its own, as one hub process.
func serveHubOn(t *testing.T, dir, db string, clk *clock.Fake) *testHub {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h, err := enrol.Open(ctx, dir, enrol.Options{Now: clk.Now, DB: db})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := hub.New(hub.Config{Hub: h, Hosts: enrol.HostsFor("127.0.0.1:0")})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		h.Close()
	})
	return &testHub{Hub: h, URL: "https://" + ln.Addr().String() + "/", Clock: clk}
}

// copyDir copies the files of a hub data directory, modes kept: what each
// hub process is given.
func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

// Two hub processes on one PostgreSQL database, each with its own copy of
// the data directory and its own listener, behave as one hub: a device
// enrolled through one is served by the other; a code used on one is
// refused on the other; a revocation made through one refuses the next
// request on a connection already open to the other; the witness state
// one process advances is the state the other continues from.
func TestTwoHubsOneDatabase(t *testing.T) {
	ctx := context.Background()
	db := registrytest.PostgresURL(t)
	clk := clock.NewFake(time.Now().Truncate(time.Second))
	dir := t.TempDir()
	if err := enrol.Init(ctx, dir, "hub-1", enrol.Options{Now: clk.Now, DB: db}); err != nil {
		t.Fatal(err)
	}
	h1 := serveHubOn(t, dir, db, clk)
	h2 := serveHubOn(t, copyDir(t, dir), db, clk)

	// Enrolled through h1, served by h2.
	a := newAgent(t, h1)
	ra := enrolOK(t, h1, a)
	if code, body, _ := get(t, mtls(h2, a, ra), devicePath(h2)); code != http.StatusOK || !strings.Contains(body, a.DeviceID) {
		t.Fatalf("h2 serving a device h1 enrolled: %d %s", code, body)
	}

	// A code made by h1, used at h2, refused at h1.
	code := h1.code(t)
	if _, err := newAgent(t, h2).Enrol(ctx, h2.URL, code); err != nil {
		t.Fatalf("h1's code at h2: %v", err)
	}
	if _, err := newAgent(t, h1).Enrol(ctx, h1.URL, code); !errors.Is(err, enrol.ErrRefused) || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("the code again at h1: %v", err)
	}
	// One code at both hubs at once: exactly one enrolment.
	code = h2.code(t)
	errs := make([]error, 6)
	var wg sync.WaitGroup
	for i := range errs {
		h := []*testHub{h1, h2}[i%2]
		ag := newAgent(t, h)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = ag.Enrol(ctx, h.URL, code)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, enrol.ErrRefused) || !strings.Contains(err.Error(), "already used"):
			t.Errorf("a loser: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("one code at two hubs: %d enrolments", ok)
	}

	// The witness: size 1 through h1; h2 knows it (409 at size 1 for a
	// request from 0) and takes the log on to size 2; h1 then knows that.
	leaf := func(i byte) chain.Hash { return tlog.LeafHash(chain.Hash{i}) }
	l0, l1 := leaf(0), leaf(1)
	root2 := chain.Hash(sha256.Sum256(append(append([]byte{1}, l0[:]...), l1[:]...)))
	if err := tlog.VerifyConsistency(1, 2, []chain.Hash{l1}, l0, root2); err != nil {
		t.Fatalf("the test's own tree: %v", err)
	}
	checkpoint := func(size uint64, root chain.Hash) []byte {
		s, err := tlog.NewSigner(ra.Origin, a.Key)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := tlog.Sign(&tlog.Checkpoint{Origin: ra.Origin, Size: size, Root: root}, s)
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	wurl := func(h *testHub) string { return strings.TrimSuffix(h.URL, "/") + hub.WitnessPath }
	if _, err := witness.Submit(ctx, mtls(h1, a, ra), wurl(h1), witness.Request{Checkpoint: checkpoint(1, l0)}); err != nil {
		t.Fatalf("size 1 at h1: %v", err)
	}
	var we *witness.Error
	_, err := witness.Submit(ctx, mtls(h2, a, ra), wurl(h2), witness.Request{Checkpoint: checkpoint(2, root2)})
	if !errors.As(err, &we) || we.Status != http.StatusConflict || we.Size != 1 {
		t.Fatalf("size 2 from 0 at h2: %v", err)
	}
	if _, err := witness.Submit(ctx, mtls(h2, a, ra), wurl(h2), witness.Request{OldSize: 1, Proof: []chain.Hash{l1}, Checkpoint: checkpoint(2, root2)}); err != nil {
		t.Fatalf("size 2 from 1 at h2: %v", err)
	}
	_, err = witness.Submit(ctx, mtls(h1, a, ra), wurl(h1), witness.Request{OldSize: 1, Proof: []chain.Hash{l1}, Checkpoint: checkpoint(2, root2)})
	if !errors.As(err, &we) || we.Status != http.StatusConflict || we.Size != 2 {
		t.Fatalf("size 2 from 1 again at h1: %v", err)
	}
	if w, err := h1.Registry.(witness.State).Latest(ctx, ra.Origin); err != nil || w == nil || w.Size != 2 || w.Root != root2 {
		t.Fatalf("h1's witnessed state: %+v %v", w, err)
	}
	// Size 3 from 2 sent to both hubs at once: co-signed exactly once, the
	// others get 409 at size 3.
	l2 := leaf(2)
	root3 := chain.Hash(sha256.Sum256(append(append([]byte{1}, root2[:]...), l2[:]...)))
	cp3 := checkpoint(3, root3)
	werrs := make([]error, 6)
	for i := range werrs {
		h := []*testHub{h1, h2}[i%2]
		c := mtls(h, a, ra)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, werrs[i] = witness.Submit(ctx, c, wurl(h), witness.Request{OldSize: 2, Proof: []chain.Hash{l2}, Checkpoint: cp3})
		}()
	}
	wg.Wait()
	ok = 0
	for _, err := range werrs {
		switch {
		case err == nil:
			ok++
		case !errors.As(err, &we) || we.Status != http.StatusConflict || we.Size != 3:
			t.Errorf("a loser: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("one checkpoint at two hubs: co-signed %d times", ok)
	}

	// Revoked through h1: the next request on a connection open to h2 is
	// refused, with the reason.
	c := mtls(h2, a, ra)
	if code, body, _ := get(t, c, devicePath(h2)); code != http.StatusOK {
		t.Fatalf("before revocation: %d %s", code, body)
	}
	if _, err := h1.Revoke(ctx, a.DeviceID, "bench decommissioned"); err != nil {
		t.Fatal(err)
	}
	code2, body, reused := get(t, c, devicePath(h2))
	if !reused {
		t.Fatal("the request after the revocation went over a new connection; the test shows nothing")
	}
	if code2 != http.StatusForbidden || !strings.Contains(body, "device revoked") || !strings.Contains(body, "bench decommissioned") {
		t.Fatalf("h2 after h1's revocation: %d %s", code2, body)
	}
}
