package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/store/storetest"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

// outcome is what one Update in TestTwoStoresConcurrent did.
type outcome struct {
	recs  []*chain.Record // appended, in order
	first uint64          // log index of recs[0], if committed
	claim string          // key claimed with recs[0], if any
	err   error           // Update's result
}

// errAbandoned is returned by Updates the test abandons after appending.
var errAbandoned = errors.New("abandoned on purpose")

// TestTwoStoresConcurrent runs Updates from several goroutines on each of
// two Store values (two connection pools, as two hub processes would have)
// on one database: new exhibits whose reference numbers come from
// NextRefNumber, extensions of shared chains from the head read inside the
// Update, extensions signed against a head read outside it (which may lose
// a race and must then be refused as ErrBrokenChain), claims of shared keys
// (one holder each, the others refused with ErrClaimed) and Updates
// abandoned after appending. Then it checks that the log is gapless and
// holds exactly the records of the Updates that committed, each at the
// index its Update was given, with a Merkle tree that proves them; that no
// record of a failed Update is stored; that every chain links; that
// reference numbers are unique; and that each claim names a record of the
// Update that made it.
func TestTwoStoresConcurrent(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	var stores [2]*Store
	for i := range stores {
		s, err := Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	// Shared chains, begun before the race.
	setup := storetest.NewFixture()
	const shared = 3
	var sharedIDs []string
	for i := range shared {
		id := fmt.Sprintf("0190a0b0-0000-7000-8000-5%011d", i)
		sharedIDs = append(sharedIDs, id)
		r := setup.Received(t, id, fmt.Sprintf("SH/%d", i+1), "SHARED", []byte(id))
		if err := stores[0].Update(ctx, func(tx store.Tx) error { _, err := tx.Append(r); return err }); err != nil {
			t.Fatal(err)
		}
	}
	const perStore, iters = 4, 24
	var mu sync.Mutex
	var outcomes []outcome
	var wg sync.WaitGroup
	for si, s := range stores {
		for g := range perStore {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := si*perStore + g
				f := storetest.NewFixture()
				f.Time = f.Time.Add(time.Duration(w+1) * 24 * time.Hour) // no two writers sign alike
				for i := range iters {
					o := run(ctx, t, s, f, w, i, sharedIDs[(w+i)%shared])
					mu.Lock()
					outcomes = append(outcomes, o)
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	checkOutcomes(t, stores[1], shared, sharedIDs, outcomes)
	checkOutcomes(t, stores[0], shared, sharedIDs, outcomes)
}

// run does writer w's i-th Update on s, of one of five kinds.
func run(ctx context.Context, t *testing.T, s *Store, f *storetest.Fixture, w, i int, sharedID string) outcome {
	var o outcome
	appendRecs := func(tx store.Tx, recs ...*chain.Record) error {
		first, err := tx.Append(recs...)
		o.recs, o.first = recs, first
		return err
	}
	switch i % 5 {
	case 0, 1: // a new exhibit of two records; case 1 abandoned after appending
		o.err = s.Update(ctx, func(tx store.Tx) error {
			n, err := tx.NextRefNumber("JS")
			if err != nil {
				return err
			}
			r1 := f.Received(t, fmt.Sprintf("0190a0b0-0000-7000-8000-%04d%08d", w, i), fmt.Sprintf("JS/%d", n), "RACE", []byte{byte(w), byte(i)})
			if err := appendRecs(tx, r1, f.Next(t, r1, chain.KindSealed, "")); err != nil {
				return err
			}
			if i%5 == 1 {
				return errAbandoned
			}
			return nil
		})
	case 2: // extend a shared chain from the head read inside the Update
		o.err = s.Update(ctx, func(tx store.Tx) error {
			h, ok, err := tx.Head(sharedID)
			if err != nil || !ok {
				return fmt.Errorf("head of %s: %v %v", sharedID, ok, err)
			}
			prev, err := s.Record(ctx, h.Index) // committed: the lock is held
			if err != nil {
				return err
			}
			pr, err := prev.Decode()
			if err != nil {
				return err
			}
			return appendRecs(tx, f.Next(t, pr, chain.KindSealed, fmt.Sprintf("w%d i%d", w, i)))
		})
	case 3: // extend a shared chain from a head read before the Update: may lose the race
		e, err := s.Exhibit(ctx, sharedID)
		if err != nil {
			t.Error(err)
			return o
		}
		prev, err := s.Record(ctx, e.HeadIndex)
		if err != nil {
			t.Error(err)
			return o
		}
		pr, err := prev.Decode()
		if err != nil {
			t.Error(err)
			return o
		}
		r := f.Next(t, pr, chain.KindOpened, fmt.Sprintf("stale w%d i%d", w, i))
		o.err = s.Update(ctx, func(tx store.Tx) error { return appendRecs(tx, r) })
		if o.err != nil && !errors.Is(o.err, store.ErrBrokenChain) {
			t.Errorf("writer %d: a racing append failed with %v, want ErrBrokenChain", w, o.err)
		}
	case 4: // a new exhibit claiming one of a few shared keys
		key := fmt.Sprintf("astm:msg-%d", i%3)
		var claimErr error
		o.err = s.Update(ctx, func(tx store.Tx) error {
			n, err := tx.NextRefNumber("AK")
			if err != nil {
				return err
			}
			r := f.Received(t, fmt.Sprintf("0190a0b0-0000-7000-8000-%04d%08d", w, i), fmt.Sprintf("AK/%d", n), "RACE", []byte{byte(w), byte(i), 4})
			if err := appendRecs(tx, r); err != nil {
				return err
			}
			o.claim = key
			_, claimErr = tx.Claim(key, o.first)
			return claimErr
		})
		if o.err != nil && !errors.Is(o.err, store.ErrClaimed) {
			t.Errorf("writer %d: claim failed with %v, want ErrClaimed", w, o.err)
		}
	}
	return o
}

// checkOutcomes checks the log s holds against the Updates' outcomes.
func checkOutcomes(t *testing.T, s *Store, shared int, sharedIDs []string, outcomes []outcome) {
	t.Helper()
	ctx := context.Background()
	size, err := s.TreeSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byIndex := map[uint64]*chain.Record{}
	claims := map[string]uint64{}
	var committed, failed, raced, refused int
	for _, o := range outcomes {
		if o.err != nil {
			failed++
			if errors.Is(o.err, store.ErrBrokenChain) {
				raced++
			}
			if errors.Is(o.err, store.ErrClaimed) {
				refused++
			}
			for _, r := range o.recs {
				if got, err := s.RecordByHash(ctx, r.Hash); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("a record of a failed Update (%v) is stored at %d (%v)", o.err, got.Index, err)
				}
			}
			continue
		}
		committed++
		for j, r := range o.recs {
			idx := o.first + uint64(j)
			if prev, dup := byIndex[idx]; dup {
				t.Fatalf("log index %d given to two Updates' records: %s and %s", idx, prev.Hash, r.Hash)
			}
			byIndex[idx] = r
		}
		if o.claim != "" {
			if _, dup := claims[o.claim]; dup {
				t.Errorf("key %s claimed by two committed Updates", o.claim)
			}
			claims[o.claim] = o.first
		}
	}
	t.Logf("%d Updates: %d committed, %d failed (%d lost a chain race, %d refused a claimed key); log of %d records",
		len(outcomes), committed, failed, raced, refused, size)
	// (Losing a chain race depends on scheduling, so it is only counted
	// here; TestStaleHeadRefused makes one happen.)
	if committed == 0 || refused == 0 {
		t.Errorf("the race did not exercise every path: %d committed, %d claims refused", committed, refused)
	}
	if want := uint64(len(byIndex) + shared); size != want {
		t.Fatalf("log of %d records, want %d (%d committed by the race, %d before it)", size, want, len(byIndex), shared)
	}
	// Gapless, each record where its Update was told it went.
	ref := tlog.New()
	err = s.Records(ctx, 0, size, func(r store.StoredRecord) error {
		if want, ok := byIndex[r.Index]; ok && (want.Hash != r.Hash || string(want.Envelope) != string(r.Envelope)) {
			return fmt.Errorf("log index %d holds %s, its Update appended %s there", r.Index, r.Hash, want.Hash)
		} else if !ok && r.Index >= uint64(shared) {
			return fmt.Errorf("log index %d holds %s, which no committed Update appended", r.Index, r.Hash)
		}
		_, err := ref.Append(r.Hash)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	root, err := tlog.RootAt(ctx, s, size)
	if err != nil || root != ref.Root() {
		t.Fatalf("stored root %s (%v), root of the records %s", root, err, ref.Root())
	}
	for idx, r := range byIndex {
		p, err := tlog.InclusionProof(ctx, s, idx, size)
		if err == nil {
			err = tlog.VerifyInclusion(idx, size, r.Hash, p, root)
		}
		if err != nil {
			t.Fatalf("record %d: %v", idx, err)
		}
	}
	// Every chain links: the shared ones, which every writer raced on, and
	// the new exhibits'.
	chains := map[string]bool{}
	for _, id := range sharedIDs {
		chains[id] = true
	}
	for _, r := range byIndex {
		chains[r.Statement.Predicate.Chain] = true
	}
	for id := range chains {
		recs, err := s.ChainRecords(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var prev chain.Hash
		for j, sr := range recs {
			r, err := sr.Decode()
			if err != nil {
				t.Fatal(err)
			}
			if p := r.Statement.Predicate; p.Seq != uint64(j+1) || p.Prev != prev {
				t.Fatalf("chain %s: record %d is #%d linking %s, want #%d linking %s", id, sr.Index, p.Seq, p.Prev, j+1, prev)
			}
			prev = sr.Hash
		}
	}
	// Reference numbers handed out under the race are unique and gapless.
	list, err := s.Exhibits(ctx, "RACE")
	if err != nil {
		t.Fatal(err)
	}
	next := map[string]uint64{"AK": 1, "JS": 1}
	for _, e := range list {
		ini, n, err := chain.ParseRef(e.Ref)
		if err != nil || n != next[ini] {
			t.Fatalf("exhibit %s: want %s/%d next (%v)", e.Ref, ini, next[ini], err)
		}
		next[ini]++
	}
	// Each claim names the record its Update appended.
	for key, idx := range claims {
		if got, err := s.Claimed(ctx, key); err != nil || got != idx {
			t.Errorf("Claimed(%s) = %d %v, want %d", key, got, err, idx)
		}
	}
}

// TestPanicReleasesLock: an fn that panics after appending leaves nothing
// stored and the log head unlocked, so another Store's Update goes ahead.
func TestPanicReleasesLock(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	a, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	f := storetest.NewFixture()
	r1 := f.Received(t, "0190a0b0-0000-7000-8000-000000000001", "JS/1", "C", []byte("one"))
	func() {
		defer func() {
			if p := recover(); p == nil {
				t.Fatal("the panic did not reach the caller")
			}
		}()
		a.Update(ctx, func(tx store.Tx) error {
			if _, err := tx.Append(r1); err != nil {
				return err
			}
			panic("fn gave up")
		})
	}()
	// The lock is free (or this would wait for ever: the test's timeout
	// would end it) and nothing of the panicked Update is stored.
	if err := b.Update(ctx, func(tx store.Tx) error {
		if tx.TreeSize() != 0 {
			return fmt.Errorf("log of %d records after the panicked Update", tx.TreeSize())
		}
		_, err := tx.Append(r1)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := a.Update(ctx, func(tx store.Tx) error {
		if tx.TreeSize() != 1 {
			return fmt.Errorf("log of %d records, want 1", tx.TreeSize())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestStaleHeadRefused: a record signed against a chain head that another
// Store has since extended is refused with ErrBrokenChain and stores
// nothing; the log is as the other Store left it.
func TestStaleHeadRefused(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	a, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	f := storetest.NewFixture()
	r1 := f.Received(t, "0190a0b0-0000-7000-8000-000000000001", "JS/1", "C", []byte("one"))
	appendOn := func(s *Store, r *chain.Record) error {
		return s.Update(ctx, func(tx store.Tx) error { _, err := tx.Append(r); return err })
	}
	if err := appendOn(a, r1); err != nil {
		t.Fatal(err)
	}
	viaA := f.Next(t, r1, chain.KindSealed, "by a")
	viaB := f.Next(t, r1, chain.KindSealed, "by b")
	if err := appendOn(b, viaB); err != nil {
		t.Fatal(err)
	}
	if err := appendOn(a, viaA); !errors.Is(err, store.ErrBrokenChain) {
		t.Fatalf("append against a stale head: %v, want ErrBrokenChain", err)
	}
	if _, err := a.RecordByHash(ctx, viaA.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused record: %v, want not found", err)
	}
	e, err := a.Exhibit(ctx, r1.Statement.Predicate.Chain)
	if err != nil || e.Head != viaB.Hash || e.Seq != 2 || e.HeadIndex != 1 {
		t.Fatalf("exhibit after the race = %+v %v", e, err)
	}
}

// TestRestoredLogSameSize: a Store whose cached tree is of the size the
// log has, but of another log (the database was restored, here by hand,
// and refilled by another Store to the same size), reloads the tree rather
// than extending its stale one: the log's root proves the records it holds.
func TestRestoredLogSameSize(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	a, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	f := storetest.NewFixture()
	appendOn := func(s *Store, r *chain.Record) {
		t.Helper()
		if err := s.Update(ctx, func(tx store.Tx) error { _, err := tx.Append(r); return err }); err != nil {
			t.Fatal(err)
		}
	}
	r1 := f.Received(t, "0190a0b0-0000-7000-8000-000000000001", "JS/1", "C", []byte("one"))
	r2 := f.Received(t, "0190a0b0-0000-7000-8000-000000000002", "JS/2", "C", []byte("two"))
	r3 := f.Received(t, "0190a0b0-0000-7000-8000-000000000003", "JS/3", "C", []byte("three"))
	appendOn(a, r1) // a's cached tree: [r1]
	empty := tlog.EmptyRoot()
	if _, err := b.pool.Exec(ctx, `DELETE FROM records; DELETE FROM tree; UPDATE log_head SET size = 0, root = '\x`+fmt.Sprintf("%x", empty[:])+`'`); err != nil {
		t.Fatal(err)
	}
	appendOn(b, r2) // the log: [r2], of the size a has cached
	appendOn(a, r3)
	ref := tlog.New()
	if _, err := ref.Append(r2.Hash, r3.Hash); err != nil {
		t.Fatal(err)
	}
	if root, err := tlog.RootAt(ctx, a, 2); err != nil || root != ref.Root() {
		t.Fatalf("stored root %s (%v), root of [r2 r3] %s", root, err, ref.Root())
	}
}

// TestCancelWhileWaitingForLock: an Update whose context ends while it
// waits for the log head that another Store holds returns the context's
// error without running fn, and the holder's Update commits as usual.
func TestCancelWhileWaitingForLock(t *testing.T) {
	ctx := t.Context()
	db := newTestDB(t)
	a, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	f := storetest.NewFixture()
	r1 := f.Received(t, "0190a0b0-0000-7000-8000-000000000001", "JS/1", "C", []byte("one"))
	held, release := make(chan struct{}), make(chan struct{})
	holder := make(chan error, 1)
	go func() {
		holder <- a.Update(ctx, func(tx store.Tx) error {
			close(held)
			<-release
			_, err := tx.Append(r1)
			return err
		})
	}()
	<-held
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var ran bool
	waiter := make(chan error, 1)
	go func() { waiter <- b.Update(cctx, func(store.Tx) error { ran = true; return nil }) }()
	// Wait until b's transaction waits for the row lock a holds.
	for {
		var waiting int
		err := a.pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid
			WHERE NOT l.granted AND s.datname = current_database()`).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		select {
		case err := <-waiter:
			t.Fatalf("the second Update returned (%v) while the first held the log head", err)
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		default:
		}
	}
	cancel()
	if err := <-waiter; !errors.Is(err, context.Canceled) || ran {
		t.Fatalf("cancelled while waiting: %v (fn ran: %v), want context.Canceled and fn not run", err, ran)
	}
	close(release)
	if err := <-holder; err != nil {
		t.Fatal(err)
	}
	if size, err := b.TreeSize(ctx); err != nil || size != 1 {
		t.Fatalf("log of %d records (%v), want 1", size, err)
	}
	// b works on after the cancelled Update.
	r2 := f.Next(t, r1, chain.KindSealed, "")
	if err := b.Update(ctx, func(tx store.Tx) error { _, err := tx.Append(r2); return err }); err != nil {
		t.Fatal(err)
	}
}
