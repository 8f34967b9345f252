package ledger_test

import (
	"context"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
)

func TestAppendTo(t *testing.T) { forEachBackend(t, testAppendTo) }

func testAppendTo(t *testing.T, newLedger func(*testing.T) testLedger) {
	ctx := context.Background()
	tl := newLedger(t)
	l := tl.Ledger
	origin := "exhibit-forensics.github.io/log/agent-1"
	ch := chain.WitnessedChain(origin)
	note := []byte("a co-signed checkpoint")
	if _, err := l.Blobs().Ingest(ctx, strings.NewReader(string(note))); err != nil {
		t.Fatal(err)
	}
	synced := func(size uint64) func(st *chain.Statement, index uint64) error {
		return func(st *chain.Statement, index uint64) error {
			st.Subject = []chain.Subject{chain.SubjectFor(chain.WitnessedSubject, chain.Sum(note))}
			st.Predicate.Witnessed = &chain.Witnessed{Origin: origin, Size: size, Root: chain.Sum([]byte("root"))}
			return nil
		}
	}
	before, _ := l.TreeSize(ctx)
	r1, i1, fresh, err := l.AppendTo(ctx, ch, chain.KindSynced, chain.Person{}, "k1", synced(3))
	if err != nil || !fresh || i1 != before || r1.Statement.Predicate.Seq != 1 {
		t.Fatalf("first: index %d fresh %v err %v", i1, fresh, err)
	}
	// The same claim again: nothing appended, the first record returned.
	r, i, fresh, err := l.AppendTo(ctx, ch, chain.KindSynced, chain.Person{}, "k1", synced(4))
	if err != nil || fresh || i != i1 || r.Hash != r1.Hash {
		t.Fatalf("again: index %d fresh %v err %v", i, fresh, err)
	}
	// Another claim extends the chain, linked.
	var told uint64
	r2, i2, fresh, err := l.AppendTo(ctx, ch, chain.KindSynced, chain.Person{Name: "hub"}, "k2", func(st *chain.Statement, index uint64) error {
		told = index
		return synced(5)(st, index)
	})
	if err != nil || !fresh || i2 != i1+1 || told != i2 || r2.Statement.Predicate.Seq != 2 || r2.Statement.Predicate.Prev != r1.Hash {
		t.Fatalf("second: index %d (told %d) fresh %v err %v", i2, told, fresh, err)
	}
	if got, err := l.Claimed(ctx, "k2"); err != nil || got != i2 {
		t.Fatalf("Claimed k2 = %d, %v", got, err)
	}
	// A record the fill makes invalid is refused, and nothing is kept.
	if _, _, _, err := l.AppendTo(ctx, ch, chain.KindSynced, chain.Person{}, "k3", func(*chain.Statement, uint64) error { return nil }); err == nil {
		t.Fatal("a synced record naming neither exhibit nor witnessed state was signed")
	}
	if _, err := l.Claimed(ctx, "k3"); err == nil {
		t.Fatal("a refused record's claim was kept")
	}
	// Chains it may not extend, kinds it may not append.
	for _, bad := range []struct {
		chain string
		kind  chain.Kind
	}{
		{"device:" + l.Identity().DeviceID, chain.KindSynced},
		{"0190a0b0-0000-7000-8000-000000000001", chain.KindSynced},
		{"", chain.KindSynced},
		{ch, chain.KindKeyRotated},
		{ch, chain.KindReceived},
	} {
		if _, _, _, err := l.AppendTo(ctx, bad.chain, bad.kind, chain.Person{}, "", synced(6)); err == nil {
			t.Errorf("AppendTo(%q, %s) accepted", bad.chain, bad.kind)
		}
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := l.Fsck(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("fsck: %+v", rep.Problems)
	}
	// The records survive a reopen.
	l.Close()
	l2 := tl.again(t)
	defer l2.Close()
	recs, err := l2.ChainRecords(ctx, ch)
	if err != nil || len(recs) != 2 || recs[1].Hash != r2.Hash {
		t.Fatalf("after reopen: %d records, %v", len(recs), err)
	}
	if _, i, fresh, err := l2.AppendTo(ctx, ch, chain.KindSynced, chain.Person{}, "k1", synced(3)); err != nil || fresh || i != i1 {
		t.Fatalf("claim after reopen: index %d fresh %v err %v", i, fresh, err)
	}
}
