package ledger_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
)

const (
	testHub     = "https://hub.example:8443/"
	testWitness = "example.org/witness/hub+01234567+AQID"
)

// bigBody is a body over store.MaxInlineBlob, so kept in the blob store.
func bigBody(c byte) string { return strings.Repeat(string(c), store.MaxInlineBlob+100) }

// hubHolding is a hub's answer about blobs: it holds those in held.
func hubHolding(held ...chain.Hash) func(context.Context, chain.Hash, int64) (bool, error) {
	set := map[chain.Hash]bool{}
	for _, h := range held {
		set[h] = true
	}
	return func(_ context.Context, h chain.Hash, _ int64) (bool, error) { return set[h], nil }
}

// confirmedNow is a purge request with the whole log as it is now
// confirmed by the hub.
func confirmedNow(t *testing.T, l *ledger.Ledger, cutoff time.Time, holds func(context.Context, chain.Hash, int64) (bool, error)) ledger.PurgeRequest {
	t.Helper()
	ctx := context.Background()
	n, err := l.TreeSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	root, err := l.RootAt(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	return ledger.PurgeRequest{Hub: testHub, Witness: testWitness, Confirmed: n, Root: root, Cutoff: cutoff, Holds: holds}
}

func hashes(infos []blobstore.Info) []chain.Hash {
	var out []chain.Hash
	for _, i := range infos {
		out = append(out, i.Hash)
	}
	return out
}

func sameSet(a, b []chain.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[chain.Hash]int{}
	for _, h := range a {
		m[h]++
	}
	for _, h := range b {
		m[h]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

func present(t *testing.T, l *ledger.Ledger, h chain.Hash) bool {
	t.Helper()
	_, err := l.Blobs().Stat(context.Background(), h)
	if err != nil && !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// The retention purge: only blobs in the blob store, old enough, named
// only by confirmed records and held by the hub are purged; the record
// comes first, a crash before the deletion is finished by the next run;
// fsck and the log still verify; export refuses, naming the hub; a
// second purge does nothing.
func TestPurge(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newLedger func(t *testing.T) testLedger) {
		ctx := context.Background()
		tl := newLedger(t)
		l := tl.Ledger
		a := importBytes(t, l, "CASE-1", "a.bin", bigBody('a'))
		b := importBytes(t, l, "CASE-2", "b.bin", bigBody('b'))
		c := importBytes(t, l, "CASE-1", "c.bin", bigBody('c'))
		small := importBytes(t, l, "CASE-1", "s.txt", "small, inline")
		cutoff := l.Now()
		d := importBytes(t, l, "CASE-2", "d.bin", bigBody('d')) // too new
		ha, hb, hc, hd := a.Blobs[0].Hash, b.Blobs[0].Hash, c.Blobs[0].Hash, d.Blobs[0].Hash
		// The hub holds everything but b.
		holds := hubHolding(ha, hc, hd, small.Blobs[0].Hash)

		// A wrong root: refused, nothing recorded.
		req := confirmedNow(t, l, cutoff, holds)
		size0 := req.Confirmed
		bad := req
		bad.Root = chain.Sum([]byte("another log"))
		if _, err := l.Purge(ctx, bad); err == nil || !strings.Contains(err.Error(), "nothing purged") {
			t.Fatalf("purge with the wrong root: %v", err)
		}
		// A hub that cannot answer: nothing purged.
		unreachable := req
		unreachable.Holds = func(context.Context, chain.Hash, int64) (bool, error) {
			return false, errors.New("dial tcp: connection refused")
		}
		if _, err := l.Purge(ctx, unreachable); err == nil || !strings.Contains(err.Error(), "nothing purged") {
			t.Fatalf("purge with the hub unreachable: %v", err)
		}

		// A dry run says what would go and changes nothing.
		dry := req
		dry.DryRun = true
		res, err := l.Purge(ctx, dry)
		if err != nil {
			t.Fatal(err)
		}
		if !sameSet(hashes(res.Purged), []chain.Hash{ha, hc}) || len(res.Kept) != 1 || res.Kept[0].Hash != hb || res.Inline != 1 || len(res.Records) != 0 {
			t.Fatalf("dry run: %+v", res)
		}
		if n, _ := l.TreeSize(ctx); n != size0 || !present(t, l, ha) || !present(t, l, hc) {
			t.Fatalf("the dry run changed something: size %d", n)
		}

		// A crash after the record, before the deletion.
		crash := req
		crash.AfterRecord = func() error { return errors.New("power cut") }
		res, err = l.Purge(ctx, crash)
		if err == nil || !strings.Contains(err.Error(), "power cut") {
			t.Fatalf("crashing purge: %v", err)
		}
		if len(res.Records) != 1 || !present(t, l, ha) || !present(t, l, hc) {
			t.Fatalf("after the crash: %d records; a present %v, c present %v", len(res.Records), present(t, l, ha), present(t, l, hc))
		}
		rec := res.Records[0]
		pu := rec.Statement.Predicate.Purge
		if rec.Kind != chain.KindPurged || pu.Hub != testHub || pu.Confirmed != size0 || len(pu.Blobs) != 2 || len(rec.Statement.Subject) != 0 {
			t.Fatalf("purged record: %s %+v", rec.Kind, pu)
		}
		rep := mustFsckOK(t, l)
		if rep.PurgePending != 2 || rep.Purged != 0 {
			t.Fatalf("fsck after the crash: pending %d purged %d", rep.PurgePending, rep.Purged)
		}

		// The next run (the same confirmation: the purged record is past
		// it) finishes the deletion and records nothing new.
		l = reopen(t, tl)
		size1, _ := l.TreeSize(ctx)
		res, err = l.Purge(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if !sameSet(hashes(res.Finished), []chain.Hash{ha, hc}) || len(res.Purged) != 0 || len(res.Records) != 0 || res.Bytes() != 2*int64(len(bigBody('a'))) {
			t.Fatalf("second run: %+v", res)
		}
		if n, _ := l.TreeSize(ctx); n != size1 || present(t, l, ha) || present(t, l, hc) || !present(t, l, hb) || !present(t, l, hd) || !present(t, l, small.Blobs[0].Hash) {
			t.Fatalf("after the second run: size %d→%d, a %v c %v b %v d %v", size1, n, present(t, l, ha), present(t, l, hc), present(t, l, hb), present(t, l, hd))
		}
		rep = mustFsckOK(t, l)
		if rep.Purged != 2 || rep.PurgePending != 0 {
			t.Fatalf("fsck after the purge: purged %d pending %d", rep.Purged, rep.PurgePending)
		}
		if lr, err := l.VerifyLog(ctx); err != nil || !lr.OK() {
			t.Fatalf("verify log: %v %+v", err, lr)
		}
		pm, err := l.Purged(ctx)
		if err != nil || len(pm) != 2 || pm[ha].Hub != testHub || pm[ha].Index != size0 {
			t.Fatalf("Purged: %v %+v", err, pm)
		}

		// Idempotent: a third run, confirmed up to now, finds nothing.
		res, err = l.Purge(ctx, confirmedNow(t, l, cutoff, holds))
		if err != nil || len(res.Purged)+len(res.Finished)+len(res.Records) != 0 {
			t.Fatalf("third run: %v %+v", err, res)
		}

		// Custody goes on for a purged exhibit, and fsck is still happy.
		if _, err := l.Append(ctx, a.Ref, chain.KindViewed, chain.Person{Name: "Al Viewer"}, nil); err != nil {
			t.Fatal(err)
		}
		mustFsckOK(t, l)

		// Export refuses the case with purged originals, naming the hub;
		// the other case (b kept, d too new) still exports.
		_, _, err = l.ExportSet(ctx, "CASE-1")
		if !errors.Is(err, ledger.ErrPurged) || !strings.Contains(err.Error(), testHub) || !strings.Contains(err.Error(), a.Ref) || !strings.Contains(err.Error(), "exhibit hub export") {
			t.Fatalf("export of a purged case: %v", err)
		}
		if exs, _, err := l.ExportSet(ctx, "CASE-2"); err != nil || len(exs) != 2 {
			t.Fatalf("export of the other case: %v %d", err, len(exs))
		}
	})
}

// A blob named by a record the hub has not confirmed stays, however old.
func TestPurgeOnlyConfirmed(t *testing.T) {
	ctx := context.Background()
	tl := newMemLedger(t)
	l := tl.Ledger
	a := importBytes(t, l, "CASE-1", "a.bin", bigBody('a'))
	c := importBytes(t, l, "CASE-1", "c.bin", bigBody('c'))
	req := confirmedNow(t, l, time.Time{}, hubHolding(a.Blobs[0].Hash, c.Blobs[0].Hash))
	// A record naming c after the confirmed size.
	if _, err := l.Append(ctx, c.Ref, chain.KindViewed, chain.Person{Name: "Al Viewer"}, nil); err != nil {
		t.Fatal(err)
	}
	req.Cutoff = l.Now()
	res, err := l.Purge(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !sameSet(hashes(res.Purged), []chain.Hash{a.Blobs[0].Hash}) || !present(t, l, c.Blobs[0].Hash) || present(t, l, a.Blobs[0].Hash) {
		t.Fatalf("purged %v", hashes(res.Purged))
	}
	mustFsckOK(t, l)
}

// A blob missing without a purged record is still a problem; so is a
// purged record whose confirmed state is not the log's.
func TestPurgeFsckStillFindsMissing(t *testing.T) {
	ctx := context.Background()
	tl := newDirLedger(t)
	l := tl.Ledger
	a := importBytes(t, l, "CASE-1", "a.bin", bigBody('a'))
	b := importBytes(t, l, "CASE-1", "b.bin", bigBody('b'))
	if _, err := l.Purge(ctx, confirmedNow(t, l, l.Now(), hubHolding(a.Blobs[0].Hash))); err != nil {
		t.Fatal(err)
	}
	mustFsckOK(t, l)
	hx := b.Blobs[0].Hash.Hex()
	p := filepath.Join(tl.dir, "blobs", "sha256", hx[:2], hx[2:4], hx)
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	rep, err := l.Fsck(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Purged != 1 || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0].Where, hx) {
		t.Fatalf("fsck with a blob missing without a purge record: %+v", rep)
	}
}
