// Package storetest is the conformance suite every chain/store engine must
// pass: durability across reopen, atomic and isolated updates under group
// commit (a concurrent reader sees whole updates only), a transaction that
// reads its own writes, refusal of records that do not extend their chain
// or reuse a reference, claims, inline blobs, checkpoints, exhibits indexed
// from their first records (oversized ones too), bytes copied in and out,
// and a Merkle tree that proves every record it holds.
//
// An engine's test calls
//
//	storetest.Test(t, func(t *testing.T) storetest.Opener { ... })
//
// where the Opener opens the same underlying database each time it is called.
package storetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

// An Opener opens (or reopens) one database.
type Opener func(ctx context.Context) (store.Store, error)

// Test runs the suite. newDB is called once per subtest and returns an
// Opener for a fresh, empty database.
func Test(t *testing.T, newDB func(t *testing.T) Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"Identity", testIdentity},
		{"AppendAndRead", testAppendAndRead},
		{"BrokenChain", testBrokenChain},
		{"Duplicate", testDuplicate},
		{"FailedUpdateLeavesNothing", testFailedUpdate},
		{"GroupCommit", testGroupCommit},
		{"Reopen", testReopen},
		{"Checkpoints", testCheckpoints},
		{"Refs", testRefs},
		{"MissingNodes", testMissing},
		{"Claims", testClaims},
		{"InlineBlobs", testInlineBlobs},
		{"TxReads", testTxReads},
		{"Oversized", testOversized},
		{"Copies", testCopies},
		{"Closed", testClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newDB(t)) })
	}
}

// ---- record fixtures ----

// Fixture signs records for the suite.
type Fixture struct {
	Signer *chain.Signer
	Device string
	Time   time.Time
}

// NewFixture returns a fixture with a deterministic key.
func NewFixture() *Fixture {
	return &Fixture{
		Signer: chain.NewSigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))),
		Device: "0190a0b0-0000-7000-8000-00000000dev1",
		Time:   time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC),
	}
}

// Received returns the first record of a new exhibit.
func (f *Fixture) Received(t testing.TB, id, ref, caseRef string, blob []byte) *chain.Record {
	t.Helper()
	f.Time = f.Time.Add(time.Second)
	st := &chain.Statement{
		Subject:       []chain.Subject{chain.SubjectFor("item.bin", chain.Sum(blob))},
		PredicateType: chain.KindReceived.PredicateType(),
		Predicate: chain.Predicate{
			Chain: id, Seq: 1, Time: f.Time,
			Device:  chain.DeviceRef{ID: f.Device, KeyID: f.Signer.KeyID()},
			Actor:   &chain.Person{Name: "Jo Smith"},
			Exhibit: &chain.ExhibitInfo{ID: id, Ref: ref, Case: caseRef, Kind: chain.ExhibitDocument},
			Source:  &chain.Source{FileName: "item.bin", Size: int64(len(blob))},
		},
	}
	r, err := chain.Sign(st, f.Signer)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Oversized returns the first record of a new exhibit whose envelope is
// over chain.MaxRecordSize, as one signed before the limit was enforced
// at signing: Received's record with a note of noteSize bytes added. Its
// signature does not verify (the note was added after signing); a store
// does not check signatures.
func (f *Fixture) Oversized(t testing.TB, id, ref, caseRef string, noteSize int) *chain.Record {
	t.Helper()
	r := f.Received(t, id, ref, caseRef, []byte(ref))
	var env map[string]any
	if err := json.Unmarshal(r.Envelope, &env); err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(r.Payload, &st); err != nil {
		t.Fatal(err)
	}
	st["predicate"].(map[string]any)["note"] = strings.Repeat("n", noteSize)
	payload, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	env["payload"] = base64.StdEncoding.EncodeToString(payload)
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	over, err := chain.DecodeOversizedRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	return over
}

// Next returns a record of kind k extending prev's chain.
func (f *Fixture) Next(t testing.TB, prev *chain.Record, k chain.Kind, note string) *chain.Record {
	t.Helper()
	f.Time = f.Time.Add(time.Second)
	pp := prev.Statement.Predicate
	st := &chain.Statement{
		Subject:       prev.Statement.Subject,
		PredicateType: k.PredicateType(),
		Predicate: chain.Predicate{
			Chain: pp.Chain, Seq: pp.Seq + 1, Prev: prev.Hash, Time: f.Time,
			Device:  chain.DeviceRef{ID: f.Device, KeyID: f.Signer.KeyID()},
			Actor:   &chain.Person{Name: "Jo Smith"},
			Exhibit: pp.Exhibit,
			Note:    note,
		},
	}
	r, err := chain.Sign(st, f.Signer)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func exhibitID(n int) string { return fmt.Sprintf("0190a0b0-0000-7000-8000-%012d", n) }

func open(t *testing.T, o Opener) store.Store {
	t.Helper()
	s, err := o(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func appendRecs(ctx context.Context, s store.Store, recs ...*chain.Record) (uint64, error) {
	var first uint64
	err := s.Update(ctx, func(tx store.Tx) error {
		var err error
		first, err = tx.Append(recs...)
		return err
	})
	return first, err
}

// checkLog verifies that the store's log holds exactly want, in order, and
// that its tree proves each record against the root of an independently
// built tree.
func checkLog(t *testing.T, s store.Store, want []*chain.Record) {
	t.Helper()
	ctx := context.Background()
	size, err := s.TreeSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if size != uint64(len(want)) {
		t.Fatalf("tree size %d, want %d", size, len(want))
	}
	ref := tlog.New()
	for _, r := range want {
		if _, err := ref.Append(r.Hash); err != nil {
			t.Fatal(err)
		}
	}
	root, err := tlog.RootAt(ctx, s, size)
	if err != nil {
		t.Fatalf("RootAt(%d): %v", size, err)
	}
	if root != ref.Root() {
		t.Fatalf("stored root %s, independent root %s", root, ref.Root())
	}
	i := 0
	err = s.Records(ctx, 0, size, func(r store.StoredRecord) error {
		if r.Index != uint64(i) || r.Hash != want[i].Hash || !bytes.Equal(r.Envelope, want[i].Envelope) {
			return fmt.Errorf("record %d differs", i)
		}
		proof, err := tlog.InclusionProof(ctx, s, r.Index, size)
		if err != nil {
			return err
		}
		if err := tlog.VerifyInclusion(r.Index, size, r.Hash, proof, root); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
		i++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if i != len(want) {
		t.Fatalf("Records visited %d, want %d", i, len(want))
	}
	// RecordHashes gives the same hashes in the same order, from any start.
	for _, from := range []uint64{0, size / 2} {
		j := from
		err = s.RecordHashes(ctx, from, size, func(idx uint64, h chain.Hash) error {
			if idx != j || h != want[j].Hash {
				return fmt.Errorf("RecordHashes from %d: index %d hash %s, want index %d hash %s", from, idx, h, j, want[j].Hash)
			}
			j++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if j != size {
			t.Fatalf("RecordHashes from %d visited up to %d, want %d", from, j, size)
		}
	}
	if err := s.RecordHashes(ctx, 0, size+1, func(uint64, chain.Hash) error { return nil }); err == nil {
		t.Fatalf("RecordHashes beyond the log (%d of %d) succeeded", size+1, size)
	}
	if err := s.Records(ctx, 0, size+1, func(store.StoredRecord) error { return nil }); err == nil {
		t.Fatalf("Records beyond the log (%d of %d) succeeded", size+1, size)
	}
}

// ---- tests ----

func testIdentity(t *testing.T, o Opener) {
	ctx := context.Background()
	s := open(t, o)
	if _, err := s.Identity(ctx); !errors.Is(err, store.ErrNotInit) {
		t.Fatalf("Identity before Init: %v", err)
	}
	id := store.Identity{DeviceID: "dev", Origin: "example/log", Producer: "Jo Smith", Initials: "JS", Created: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)}
	initErr := errors.New("abandoned")
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Init(id); err != nil {
			return err
		}
		return initErr
	})
	if !errors.Is(err, initErr) {
		t.Fatal(err)
	}
	if _, err := s.Identity(ctx); !errors.Is(err, store.ErrNotInit) {
		t.Fatalf("Identity after an abandoned Init: %v", err)
	}
	init := func() error { return s.Update(ctx, func(tx store.Tx) error { return tx.Init(id) }) }
	if err := init(); err != nil {
		t.Fatal(err)
	}
	if err := init(); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second Init: %v", err)
	}
	got, err := s.Identity(ctx)
	if err != nil || got.DeviceID != id.DeviceID || got.Origin != id.Origin || got.Initials != "JS" || !got.Created.Equal(id.Created) {
		t.Fatalf("Identity = %+v, %v", got, err)
	}
	err = s.Update(ctx, func(tx store.Tx) error {
		got, err := tx.Identity()
		if err != nil || got.Producer != "Jo Smith" {
			return fmt.Errorf("Tx.Identity = %+v, %v", got, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testAppendAndRead(t *testing.T, o Opener) {
	ctx := context.Background()
	s := open(t, o)
	f := NewFixture()
	a1 := f.Received(t, exhibitID(1), "JS/1", "CASE-1", []byte("one"))
	b1 := f.Received(t, exhibitID(2), "JS/2", "CASE-1", []byte("two"))
	a2 := f.Next(t, a1, chain.KindSealed, "bag 123")
	c1 := f.Received(t, exhibitID(3), "JS/3", "CASE-2", []byte("three"))
	if first, err := appendRecs(ctx, s, a1, b1); err != nil || first != 0 {
		t.Fatalf("append: %d %v", first, err)
	}
	if first, err := appendRecs(ctx, s, a2, c1); err != nil || first != 2 {
		t.Fatalf("append: %d %v", first, err)
	}
	checkLog(t, s, []*chain.Record{a1, b1, a2, c1})

	e, err := s.ExhibitByRef(ctx, "JS/1")
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != exhibitID(1) || e.Case != "CASE-1" || e.FirstIndex != 0 || e.HeadIndex != 2 || e.Head != a2.Hash || e.Seq != 2 {
		t.Fatalf("exhibit JS/1 = %+v", e)
	}
	if len(e.Blobs) != 1 || e.Blobs[0].Hash != chain.Sum([]byte("one")) || e.Blobs[0].Name != "item.bin" {
		t.Fatalf("blobs %+v", e.Blobs)
	}
	if e2, err := s.Exhibit(ctx, exhibitID(1)); err != nil || e2.Ref != "JS/1" {
		t.Fatalf("Exhibit by id: %+v %v", e2, err)
	}
	list, err := s.Exhibits(ctx, "CASE-1")
	if err != nil || len(list) != 2 || list[0].Ref != "JS/1" || list[1].Ref != "JS/2" {
		t.Fatalf("Exhibits(CASE-1) = %v %v", list, err)
	}
	if list, _ := s.Exhibits(ctx, "NO-SUCH"); len(list) != 0 {
		t.Fatalf("Exhibits of unknown case = %v", list)
	}
	recs, err := s.ChainRecords(ctx, exhibitID(1))
	if err != nil || len(recs) != 2 || recs[0].Hash != a1.Hash || recs[1].Hash != a2.Hash || recs[1].Index != 2 {
		t.Fatalf("ChainRecords = %v %v", recs, err)
	}
	if r, err := s.RecordByHash(ctx, c1.Hash); err != nil || r.Index != 3 {
		t.Fatalf("RecordByHash = %v %v", r, err)
	}
	if r, err := s.Record(ctx, 1); err != nil || r.Hash != b1.Hash {
		t.Fatalf("Record(1) = %v %v", r, err)
	}
	if _, err := s.Record(ctx, 4); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Record(4): %v", err)
	}
	if _, err := s.RecordByHash(ctx, chain.Sum(nil)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RecordByHash(missing): %v", err)
	}
	if _, err := s.ExhibitByRef(ctx, "JS/9"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ExhibitByRef(missing): %v", err)
	}
	if r, err := (store.StoredRecord{Envelope: a2.Envelope}).Decode(); err != nil || r.Kind != chain.KindSealed {
		t.Fatalf("Decode: %v %v", r, err)
	}
}

func testBrokenChain(t *testing.T, o Opener) {
	ctx := context.Background()
	s := open(t, o)
	f := NewFixture()
	a1 := f.Received(t, exhibitID(1), "JS/1", "C", []byte("one"))
	a2 := f.Next(t, a1, chain.KindSealed, "")
	a3 := f.Next(t, a2, chain.KindOpened, "")
	if _, err := appendRecs(ctx, s, a1); err != nil {
		t.Fatal(err)
	}
	cases := map[string][]*chain.Record{
		"skips a record":      {a3},
		"restarts the chain":  {f.Received(t, exhibitID(1), "JS/5", "C", []byte("x"))},
		"reuses a reference":  {f.Received(t, exhibitID(9), "JS/1", "C", []byte("y"))},
		"forks in one append": {a2, f.Next(t, a1, chain.KindOpened, "fork")},
		"wrong order":         {a3, a2},
		"reuses a reference in one append": {
			f.Received(t, exhibitID(2), "JS/2", "C", []byte("y")),
			f.Received(t, exhibitID(3), "JS/2", "C", []byte("z")),
		},
		"restarts a chain in one append": {
			f.Received(t, exhibitID(4), "JS/4", "C", []byte("y")),
			f.Received(t, exhibitID(4), "JS/5", "C", []byte("z")),
		},
	}
	for name, recs := range cases {
		if _, err := appendRecs(ctx, s, recs...); !errors.Is(err, store.ErrBrokenChain) {
			t.Errorf("%s: error %v, want ErrBrokenChain", name, err)
		}
	}
	checkLog(t, s, []*chain.Record{a1})
	if _, err := appendRecs(ctx, s, a2, a3); err != nil {
		t.Fatal(err)
	}
	checkLog(t, s, []*chain.Record{a1, a2, a3})
}

func testDuplicate(t *testing.T, o Opener) {
	ctx := context.Background()
	s := open(t, o)
	f := NewFixture()
	a1 := f.Received(t, exhibitID(1), "JS/1", "C", []byte("one"))
	if _, err := appendRecs(ctx, s, a1); err != nil {
		t.Fatal(err)
	}
	_, err := appendRecs(ctx, s, a1)
	if !errors.Is(err, store.ErrDuplicate) && !errors.Is(err, store.ErrBrokenChain) {
		t.Fatalf("re-append: %v", err)
	}
	checkLog(t, s, []*chain.Record{a1})
}

func testFailedUpdate(t *testing.T, o Opener) {
	ctx := context.Background()
	s := open(t, o)
	f := NewFixture()
	a1 := f.Received(t, exhibitID(1), "JS/1", "C", []byte("one"))
	b1 := f.Received(t, exhibitID(2), "JS/2", "C", []byte("two"))
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Append(a1); err != nil {
			return err
		}
		if tx.TreeSize() != 1 {
			return fmt.Errorf("TreeSize inside the update = %d", tx.TreeSize())
		}
		if _, ok, err := tx.Head(exhibitID(1)); !ok || err != nil {
			return fmt.Errorf("own append not visible: %v", err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	checkLog(t, s, nil)
	if _, err := s.ExhibitByRef(ctx, "JS/1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("exhibit of a failed update visible: %v", err)
	}
	// The tree frontier must have been rolled back too.
	if _, err := appendRecs(ctx, s, b1, a1); err != nil {
		t.Fatal(err)
	}
	checkLog(t, s, []*chain.Record{b1, a1})
	// A caller that ignores a failed Append and commits anyway: the failed
	// Append left nothing.
	c2 := f.Received(t, exhibitID(4), "JS/4", "C", []byte("four"))
	err = s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Append(c2, a1); err == nil {
			return errors.New("appending a duplicate succeeded")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkLog(t, s, []*chain.Record{b1, a1})
	if _, err := s.ExhibitByRef(ctx, "JS/4"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("exhibit of a failed Append visible: %v", err)
	}
	// A cancelled context: nothing happens.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	c1 := f.Received(t, exhibitID(3), "JS/3", "C", nil)
	if _, err := appendRecs(cctx, s, c1); err == nil {
		t.Fatal("append with a cancelled context succeeded")
	}
	checkLog(t, s, []*chain.Record{b1, a1})
}

func testGroupCommit(t *testing.T, o Opener) {
	ctx := context.Background()
	s := open(t, o)
	f := NewFixture()
	const n = 200
	recs := make([]*chain.Record, n)
	for i := range recs {
		recs[i] = f.Received(t, exhibitID(i+1), fmt.Sprintf("JS/%d", i+1), "C", []byte{byte(i)})
	}
	// A reader, while the updates run, sees whole updates only: a log
	// that never shrinks and whose tree proves every record it holds.
	stop := make(chan struct{})
	readErr := make(chan error, 1)
	go func() {
		var last uint64
		for {
			select {
			case <-stop:
				readErr <- nil
				return
			default:
			}
			size, err := s.TreeSize(ctx)
			if err == nil && size < last {
				err = fmt.Errorf("tree size went from %d to %d", last, size)
			}
			if err == nil && size > 0 {
				var root chain.Hash
				if root, err = tlog.RootAt(ctx, s, size); err == nil {
					err = s.RecordHashes(ctx, size-1, size, func(i uint64, h chain.Hash) error {
						proof, err := tlog.InclusionProof(ctx, s, i, size)
						if err != nil {
							return err
						}
						return tlog.VerifyInclusion(i, size, h, proof, root)
					})
				}
			}
			if err != nil {
				readErr <- fmt.Errorf("reading during the updates, at size %d: %w", size, err)
				return
			}
			last = size
		}
	}()
	var wg sync.WaitGroup
	errs := make([]error, n)
	idx := make([]uint64, n)
	for i := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Update(ctx, func(tx store.Tx) error {
				first, err := tx.Append(recs[i])
				idx[i] = first
				if err != nil {
					return err
				}
				if i%7 == 0 {
					return fmt.Errorf("refused %d", i) // every 7th fails alone
				}
				return nil
			})
		}()
	}
	wg.Wait()
	close(stop)
	if err := <-readErr; err != nil {
		t.Fatal(err)
	}
	var kept []*chain.Record
	byIndex := map[uint64]*chain.Record{}
	for i := range recs {
		if i%7 == 0 {
			if errs[i] == nil {
				t.Fatalf("update %d should have failed", i)
			}
			continue
		}
		if errs[i] != nil {
			t.Fatalf("update %d: %v", i, errs[i])
		}
		byIndex[idx[i]] = recs[i]
	}
	for i := 0; i < len(byIndex); i++ {
		r, ok := byIndex[uint64(i)]
		if !ok {
			t.Fatalf("no successful update was given log index %d", i)
		}
		kept = append(kept, r)
	}
	checkLog(t, s, kept)
}

func testReopen(t *testing.T, o Opener) {
	ctx := context.Background()
	f := NewFixture()
	s, err := o(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a1 := f.Received(t, exhibitID(1), "JS/1", "C", []byte("one"))
	a2 := f.Next(t, a1, chain.KindSealed, "")
	if _, err := appendRecs(ctx, s, a1, a2); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, o)
	checkLog(t, s, []*chain.Record{a1, a2})
	// Appending after reopen extends the same tree.
	a3 := f.Next(t, a2, chain.KindOpened, "")
	if _, err := appendRecs(ctx, s, a3); err != nil {
		t.Fatal(err)
	}
	checkLog(t, s, []*chain.Record{a1, a2, a3})
	// A second handle on the same database (another process, in effect)
	// sees and extends the same log.
	s2 := open(t, o)
	b1 := f.Received(t, exhibitID(2), "JS/2", "C", []byte("two"))
	if _, err := appendRecs(ctx, s2, b1); err != nil {
		t.Fatal(err)
	}
	a4 := handoverFix(t, f, a3)
	if _, err := appendRecs(ctx, s, a4); err != nil {
		t.Fatal(err)
	}
	checkLog(t, s, []*chain.Record{a1, a2, a3, b1, a4})
	checkLog(t, s2, []*chain.Record{a1, a2, a3, b1, a4})
}

// handoverFix returns a valid transferred record after prev.
func handoverFix(t *testing.T, f *Fixture, prev *chain.Record) *chain.Record {
	f.Time = f.Time.Add(time.Second)
	pp := prev.Statement.Predicate
	st := &chain.Statement{
		Subject:       prev.Statement.Subject,
		PredicateType: chain.KindTransferred.PredicateType(),
		Predicate: chain.Predicate{
			Chain: pp.Chain, Seq: pp.Seq + 1, Prev: prev.Hash, Time: f.Time,
			Device:  chain.DeviceRef{ID: f.Device, KeyID: f.Signer.KeyID()},
			Exhibit: pp.Exhibit,
			Handover: &chain.Handover{
				From: chain.Party{Person: chain.Person{ID: "jsmith", Name: "Jo Smith"}, AuthMethod: "password", AuthAt: f.Time},
				To:   chain.Party{Person: chain.Person{ID: "akhan", Name: "Asha Khan"}, AuthMethod: "password", AuthAt: f.Time},
			},
		},
	}
	r, err := chain.Sign(st, f.Signer)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func testCheckpoints(t *testing.T, o Opener) {
	ctx := context.Background()
	s := open(t, o)
	f := NewFixture()
	if _, err := s.LatestCheckpoint(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LatestCheckpoint on empty: %v", err)
	}
	a1 := f.Received(t, exhibitID(1), "JS/1", "C", []byte("one"))
	if _, err := appendRecs(ctx, s, a1); err != nil {
		t.Fatal(err)
	}
	add := func(c store.Checkpoint) error {
		return s.Update(ctx, func(tx store.Tx) error { return tx.AddCheckpoint(c) })
	}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	if err := add(store.Checkpoint{Size: 1, Note: []byte("note one\n"), Issued: now}); err != nil {
		t.Fatal(err)
	}
	if err := add(store.Checkpoint{Size: 1, Note: []byte("note one\n"), Issued: now}); err != nil {
		t.Fatalf("re-adding the identical checkpoint: %v", err)
	}
	if err := add(store.Checkpoint{Size: 1, Note: []byte("another\n"), Issued: now}); err == nil {
		t.Fatal("a different checkpoint of the same size accepted")
	}
	if err := add(store.Checkpoint{Size: 2, Note: []byte("future\n"), Issued: now}); err == nil {
		t.Fatal("a checkpoint beyond the log accepted")
	}
	if err := add(store.Checkpoint{Size: 0, Note: []byte("empty\n"), Issued: now}); err != nil {
		t.Fatal(err)
	}
	cs, err := s.Checkpoints(ctx)
	if err != nil || len(cs) != 2 || cs[0].Size != 0 || cs[1].Size != 1 || string(cs[1].Note) != "note one\n" || !cs[1].Issued.Equal(now) {
		t.Fatalf("Checkpoints = %+v %v", cs, err)
	}
	if c, err := s.LatestCheckpoint(ctx); err != nil || c.Size != 1 {
		t.Fatalf("LatestCheckpoint = %+v %v", c, err)
	}
}

func testRefs(t *testing.T, o Opener) {
	ctx := context.Background()
	s := open(t, o)
	f := NewFixture()
	next := func(ini string) uint64 {
		var n uint64
		if err := s.Update(ctx, func(tx store.Tx) error {
			var err error
			n, err = tx.NextRefNumber(ini)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := next("JS"); n != 1 {
		t.Fatalf("first number %d", n)
	}
	for i, ref := range []string{"JS/1", "JS/2", "AK/1", "JS/10"} {
		if _, err := appendRecs(ctx, s, f.Received(t, exhibitID(i+1), ref, "C", []byte(ref))); err != nil {
			t.Fatal(err)
		}
	}
	if n := next("JS"); n != 11 {
		t.Fatalf("next JS number %d, want 11", n)
	}
	if n := next("AK"); n != 2 {
		t.Fatalf("next AK number %d, want 2", n)
	}
	list, _ := s.Exhibits(ctx, "C")
	var refs []string
	for _, e := range list {
		refs = append(refs, e.Ref)
	}
	if fmt.Sprint(refs) != "[AK/1 JS/1 JS/2 JS/10]" {
		t.Fatalf("exhibit order %v", refs)
	}
}

func testMissing(t *testing.T, o Opener) {
	ctx := context.Background()
	s := open(t, o)
	if _, err := s.ReadHashes(ctx, []int64{0}); err == nil {
		t.Fatal("ReadHashes of a missing node succeeded")
	}
	if h, err := s.ReadHashes(ctx, nil); err != nil || len(h) != 0 {
		t.Fatalf("ReadHashes(nil) = %v %v", h, err)
	}
}

func testClaims(t *testing.T, o Opener) {
	ctx := context.Background()
	s := open(t, o)
	f := NewFixture()
	a1 := f.Received(t, exhibitID(1), "JS/1", "C", []byte("one"))
	b1 := f.Received(t, exhibitID(2), "JS/2", "C", []byte("two"))
	claim := func(key string, rec *chain.Record, fail bool) (uint64, error) {
		var held uint64
		var claimErr error
		err := s.Update(ctx, func(tx store.Tx) error {
			i, err := tx.Append(rec)
			if err != nil {
				return err
			}
			held, claimErr = tx.Claim(key, i)
			if claimErr != nil {
				return claimErr
			}
			if fail {
				return errors.New("abandoned")
			}
			return nil
		})
		if claimErr != nil {
			return held, claimErr
		}
		return held, err
	}
	// A claim abandoned with its update leaves the key free.
	if _, err := claim("astm:msg-1", a1, true); err == nil {
		t.Fatal("abandoned update succeeded")
	}
	if i, err := claim("astm:msg-1", a1, false); err != nil || i != 0 {
		t.Fatalf("claim = %d %v", i, err)
	}
	// The same key again: refused with the holder's index, nothing appended.
	held, err := claim("astm:msg-1", b1, false)
	if !errors.Is(err, store.ErrClaimed) || held != 0 {
		t.Fatalf("second claim = %d %v", held, err)
	}
	checkLog(t, s, []*chain.Record{a1})
	// Claimed reads a committed claim back; an abandoned or unknown key is
	// not found.
	if i, err := s.Claimed(ctx, "astm:msg-1"); err != nil || i != 0 {
		t.Fatalf("Claimed(astm:msg-1) = %d %v", i, err)
	}
	if _, err := s.Claimed(ctx, "astm:msg-2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Claimed(unknown) = %v, want ErrNotFound", err)
	}
	err = s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Claim("", 0); err == nil {
			return errors.New("empty key accepted")
		}
		if _, err := tx.Claim("k", 5); err == nil {
			return errors.New("claim beyond the log accepted")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testInlineBlobs(t *testing.T, o Opener) {
	ctx := context.Background()
	s := open(t, o)
	small := []byte("H|\\^&\rR|1|^^^GHB|<0.5|mg/L\rL|1|N\r")
	h := chain.Sum(small)
	put := func(h chain.Hash, b []byte, fail bool) error {
		return s.Update(ctx, func(tx store.Tx) error {
			if err := tx.PutInlineBlob(h, b); err != nil {
				return err
			}
			if fail {
				return errors.New("abandoned")
			}
			return nil
		})
	}
	if err := put(h, small, true); err == nil {
		t.Fatal("abandoned update succeeded")
	}
	if _, err := s.InlineBlob(ctx, h); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("blob of an abandoned update: %v", err)
	}
	if err := put(h, small, false); err != nil {
		t.Fatal(err)
	}
	if err := put(h, small, false); err != nil {
		t.Fatalf("putting it again: %v", err)
	}
	got, err := s.InlineBlob(ctx, h)
	if err != nil || !bytes.Equal(got, small) {
		t.Fatalf("InlineBlob = %q, %v", got, err)
	}
	if err := put(h, []byte("other bytes"), false); err == nil {
		t.Fatal("bytes that do not match their hash accepted")
	}
	big := make([]byte, store.MaxInlineBlob+1)
	if err := put(chain.Sum(big), big, false); !errors.Is(err, store.ErrTooLarge) {
		t.Fatalf("oversized inline blob: %v", err)
	}
	empty := chain.Sum(nil)
	if err := put(empty, nil, false); err != nil {
		t.Fatal(err)
	}
	var listed []chain.Hash
	if err := s.InlineBlobs(ctx, func(h chain.Hash, n int64) error { listed = append(listed, h); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 2 {
		t.Fatalf("InlineBlobs listed %d, want 2", len(listed))
	}
}

// testTxReads checks that a transaction reads its own appends: heads,
// exhibits, reference numbers, size and root, also after a second Append
// in the same Update, and that none of it outlives an abandoned Update.
func testTxReads(t *testing.T, o Opener) {
	ctx := context.Background()
	s := open(t, o)
	f := NewFixture()
	a1 := f.Received(t, exhibitID(1), "JS/1", "C", []byte("one"))
	a2 := f.Next(t, a1, chain.KindSealed, "")
	b1 := f.Received(t, exhibitID(2), "JS/2", "C", []byte("two"))
	if _, err := appendRecs(ctx, s, a1); err != nil {
		t.Fatal(err)
	}
	ref := tlog.New()
	if _, err := ref.Append(a1.Hash, a2.Hash, b1.Hash); err != nil {
		t.Fatal(err)
	}
	abandoned := errors.New("abandoned")
	for _, commit := range []bool{false, true} {
		err := s.Update(ctx, func(tx store.Tx) error {
			if _, err := tx.Append(a2); err != nil {
				return err
			}
			if _, err := tx.Append(b1); err != nil {
				return err
			}
			if h, ok, err := tx.Head(exhibitID(1)); err != nil || !ok || h.Hash != a2.Hash || h.Seq != 2 || h.Index != 1 {
				return fmt.Errorf("Head(JS/1) = %+v %v %v", h, ok, err)
			}
			if e, err := tx.Exhibit(exhibitID(1)); err != nil || e.Head != a2.Hash || e.HeadIndex != 1 || e.Seq != 2 || e.FirstIndex != 0 {
				return fmt.Errorf("Exhibit(JS/1) in the update = %+v %v", e, err)
			}
			if e, err := tx.ExhibitByRef("JS/2"); err != nil || e.ID != exhibitID(2) || e.FirstIndex != 2 || e.Head != b1.Hash {
				return fmt.Errorf("ExhibitByRef(JS/2) in the update = %+v %v", e, err)
			}
			if n, err := tx.NextRefNumber("JS"); err != nil || n != 3 {
				return fmt.Errorf("NextRefNumber(JS) in the update = %d %v", n, err)
			}
			if tx.TreeSize() != 3 || tx.Root() != ref.Root() {
				return fmt.Errorf("TreeSize %d root %s in the update, want 3 %s", tx.TreeSize(), tx.Root(), ref.Root())
			}
			if !commit {
				return abandoned
			}
			return nil
		})
		if !commit {
			if !errors.Is(err, abandoned) {
				t.Fatalf("abandoned update: %v", err)
			}
			checkLog(t, s, []*chain.Record{a1})
			if e, err := s.Exhibit(ctx, exhibitID(1)); err != nil || e.Head != a1.Hash || e.Seq != 1 {
				t.Fatalf("Exhibit(JS/1) after an abandoned update = %+v %v", e, err)
			}
			if _, err := s.ExhibitByRef(ctx, "JS/2"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("ExhibitByRef(JS/2) after an abandoned update: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	checkLog(t, s, []*chain.Record{a1, a2, b1})
	err := s.Update(ctx, func(tx store.Tx) error {
		if n, err := tx.NextRefNumber("JS"); err != nil || n != 3 {
			return fmt.Errorf("NextRefNumber(JS) = %d %v", n, err)
		}
		if _, ok, err := tx.Head(exhibitID(9)); ok || err != nil {
			return fmt.Errorf("Head of a chain not begun: %v %v", ok, err)
		}
		if _, err := tx.Exhibit(exhibitID(9)); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("Exhibit of a chain not begun: %v", err)
		}
		if _, err := tx.ExhibitByRef("not a reference"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("ExhibitByRef of a malformed reference: %v", err)
		}
		if _, err := tx.Claim("k", 0); err != nil {
			return err
		}
		if held, err := tx.Claim("k", 1); !errors.Is(err, store.ErrClaimed) || held != 0 {
			return fmt.Errorf("a key claimed twice in one update: %d %v", held, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testOversized checks an exhibit whose first record is over
// chain.MaxRecordSize (signed before the limit was enforced at signing):
// the store keeps it, reports it Oversized, and still indexes the exhibit
// from it.
func testOversized(t *testing.T, o Opener) {
	ctx := context.Background()
	s := open(t, o)
	f := NewFixture()
	small := f.Received(t, exhibitID(1), "JS/1", "C", []byte("one"))
	big := f.Oversized(t, exhibitID(2), "JS/2", "C", chain.MaxRecordSize)
	if len(big.Envelope) <= chain.MaxRecordSize {
		t.Fatalf("fixture: %d bytes is not over the limit", len(big.Envelope))
	}
	next := f.Next(t, big, chain.KindSealed, "")
	if _, err := appendRecs(ctx, s, small, big, next); err != nil {
		t.Fatal(err)
	}
	checkLog(t, s, []*chain.Record{small, big, next})
	sr, err := s.Record(ctx, 1)
	if err != nil || !sr.Oversized() || !bytes.Equal(sr.Envelope, big.Envelope) {
		t.Fatalf("Record(1): %d bytes, oversized %v, %v", len(sr.Envelope), sr.Oversized(), err)
	}
	if _, err := sr.Decode(); !errors.Is(err, chain.ErrRecordTooLarge) {
		t.Fatalf("Decode of an oversized record: %v", err)
	}
	e, err := s.ExhibitByRef(ctx, "JS/2")
	if err != nil || !e.Oversized || e.ID != exhibitID(2) || e.FirstIndex != 1 || e.Head != next.Hash || e.Seq != 2 ||
		len(e.Blobs) != 1 || e.Blobs[0].Hash != chain.Sum([]byte("JS/2")) {
		t.Fatalf("ExhibitByRef(JS/2) = %+v %v", e, err)
	}
	list, err := s.Exhibits(ctx, "C")
	if err != nil || len(list) != 2 || list[0].Oversized || !list[1].Oversized || list[1].Ref != "JS/2" {
		t.Fatalf("Exhibits(C) = %+v %v", list, err)
	}
}

// testCopies checks that the store keeps its own copy of the bytes it is
// given and hands out copies: changing a slice afterwards, on either side,
// changes nothing stored.
func testCopies(t *testing.T, o Opener) {
	ctx := context.Background()
	s := open(t, o)
	f := NewFixture()
	a1 := f.Received(t, exhibitID(1), "JS/1", "C", []byte("one"))
	env := bytes.Clone(a1.Envelope)
	blob := []byte("inline bytes")
	h := chain.Sum(blob)
	note := []byte("note\n")
	err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Append(a1); err != nil {
			return err
		}
		if err := tx.PutInlineBlob(h, blob); err != nil {
			return err
		}
		return tx.AddCheckpoint(store.Checkpoint{Size: 1, Note: note, Issued: f.Time})
	})
	if err != nil {
		t.Fatal(err)
	}
	spoil := func(b []byte) {
		for i := range b {
			b[i] ^= 0xff
		}
	}
	spoil(a1.Envelope)
	spoil(blob)
	spoil(note)
	defer copy(a1.Envelope, env) // the fixture's record, as it was
	for range 2 {                // the second time, after spoiling what the first returned
		r, err := s.Record(ctx, 0)
		if err != nil || !bytes.Equal(r.Envelope, env) {
			t.Fatalf("Record(0) changed: %v", err)
		}
		b, err := s.InlineBlob(ctx, h)
		if err != nil || chain.Sum(b) != h {
			t.Fatalf("InlineBlob changed: %v", err)
		}
		c, err := s.LatestCheckpoint(ctx)
		if err != nil || string(c.Note) != "note\n" {
			t.Fatalf("LatestCheckpoint changed: %q %v", c.Note, err)
		}
		spoil(r.Envelope)
		spoil(b)
		spoil(c.Note)
	}
}

// testClosed checks that a closed store commits nothing more.
func testClosed(t *testing.T, o Opener) {
	ctx := context.Background()
	f := NewFixture()
	s, err := o(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a1 := f.Received(t, exhibitID(1), "JS/1", "C", []byte("one"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := appendRecs(ctx, s, a1); err == nil {
		t.Fatal("Update on a closed store succeeded")
	}
	checkLog(t, open(t, o), nil)
}
