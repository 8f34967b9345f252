package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/exhibit-forensics/exhibit/api/hub/ingest"
	blobmem "github.com/exhibit-forensics/exhibit/chain/blobstore/memstore"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/store/pgstore"
)

// push drives one hub process's share of a sync: batches of n from its own
// cursor, moving it to what the hub says it holds, until the hub holds to.
func push(ctx context.Context, in *ingest.Ingester, a *agent, envs [][]byte, n int) (conflicts int, err error) {
	to := uint64(len(envs))
	var at uint64
	for at < to {
		j := min(to, at+uint64(n))
		s, err := in.Append(ctx, a.dev, at, envs[at:j])
		var ge *ingest.GapError
		switch {
		case err == nil:
			at = s.Size
		case errors.As(err, &ge):
			at = ge.Have
		case errors.Is(err, ingest.ErrConflict):
			conflicts++ // retryable: the other process keeps appending
			if conflicts > 1000 {
				return conflicts, err
			}
		default:
			return conflicts, fmt.Errorf("append [%d, %d): %w", at, j, err)
		}
	}
	return conflicts, nil
}

// TestConcurrentPostgres: two Ingesters, each with its own connection
// pools (two hub processes), take the same device's log at once, in
// batches of different sizes, on one database: both finish, and the mirror
// holds each record once, at its index.
func TestConcurrentPostgres(t *testing.T) {
	u := newTestDB(t)
	ctx := context.Background()
	a := newAgent(t)
	a.importN(t, 6)
	a.custody(t, 250)
	blobs := blobmem.New()
	a.upload(t, blobs)
	n := a.size(t)
	envs := a.envelopes(t, 0, n)

	var before uint64 // records held before the round
	for round := range 2 {
		// Round 0 on a new mirror (both race to create it), round 1 on the
		// same one after more records.
		if round == 1 {
			before = n
			a.custody(t, 120)
			n = a.size(t)
			envs = a.envelopes(t, 0, n)
		}
		in1, _ := hubFor(t, ingest.PostgresMirrors(u), blobs)
		in2, _ := hubFor(t, ingest.PostgresMirrors(u), blobs)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		conflicts := make([]int, 2)
		for i, p := range []struct {
			in *ingest.Ingester
			n  int
		}{{in1, 16}, {in2, 23}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				conflicts[i], errs[i] = push(ctx, p.in, a, envs, p.n)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		s1, s2 := in1.Stats(), in2.Stats()
		t.Logf("round %d: %d records; conflicts reported to the callers: %v; stats %+v %+v", round, n, conflicts, s1, s2)
		if got, want := s1.Appended+s2.Appended, n-before; got != want {
			t.Fatalf("round %d: the two processes appended %d records in all, want %d: a record was accepted twice or lost", round, got, want)
		}
		for _, in := range []*ingest.Ingester{in1, in2} {
			s, err := in.State(ctx, a.dev)
			if err != nil || s.Size != n || s.Root != a.root(t, n) {
				t.Fatalf("round %d: state %d %s, %v; want %d %s", round, s.Size, s.Root, err, n, a.root(t, n))
			}
		}
		in1.Close()
		in2.Close()
	}
	// The rows themselves: each index once, each record once, the agent's
	// bytes.
	db, err := pgstore.OpenDB(u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows, indexes, hashes, top int64
	if err := db.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT idx), count(DISTINCT hash), max(idx) FROM `+
		ingest.SchemaFor(a.dev.ID)+`.records`).Scan(&rows, &indexes, &hashes, &top); err != nil {
		t.Fatal(err)
	}
	if rows != int64(n) || indexes != rows || hashes != rows || top != rows-1 {
		t.Fatalf("%d rows, %d indexes, %d hashes, highest index %d; want %d of each", rows, indexes, hashes, top, n)
	}
	st, err := ingest.PostgresMirrors(u).Open(ctx, a.dev.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Records(ctx, 0, n, func(r store.StoredRecord) error {
		if string(r.Envelope) != string(envs[r.Index]) {
			return fmt.Errorf("record %d is not the agent's", r.Index)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentDevices: one Ingester takes several devices at once.
func TestConcurrentDevices(t *testing.T) {
	ctx := context.Background()
	blobs := blobmem.New()
	var agents []*agent
	for range 4 {
		a := newAgent(t)
		a.importN(t, 2)
		a.custody(t, 30)
		a.upload(t, blobs)
		agents = append(agents, a)
	}
	in, _ := hubFor(t, ingest.SQLiteMirrors(t.TempDir()), blobs)
	var wg sync.WaitGroup
	errs := make([]error, len(agents))
	for i, a := range agents {
		envs := a.envelopes(t, 0, a.size(t))
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = push(ctx, in, a, envs, 7)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for _, a := range agents {
		if s, err := in.State(ctx, a.dev); err != nil || s.Size != a.size(t) || s.Root != a.root(t, s.Size) {
			t.Fatalf("%s: %+v, %v", a.dev.ID, s, err)
		}
	}
}
