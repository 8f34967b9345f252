// Package memstore is an in-memory record store (store.Store), for tests
// and tools that need no persistence.
//
// It keeps the store contract of chain/store: the log of records with its
// Merkle tree, chains that refuse a record that does not extend them,
// claims, inline blobs, checkpoints, and the exhibit index read from each
// exhibit's first record (oversized ones included). It passes the
// conformance suite in chain/store/storetest. Durability means what it can
// in memory: what an Update committed is seen by every Store opened on the
// same DB, until the process exits.
//
// It is written to be obviously correct rather than fast. Updates run one
// at a time (a group commit of one: each fails or succeeds alone). Each
// writes to an overlay of the committed state, which is merged into it only
// if the update's function succeeds, so readers never see a half-done
// update. Readers take a read lock; the callbacks of Records, RecordHashes
// and InlineBlobs run without it, so they may call the store again. Every
// byte slice handed in is copied and every one handed out is a copy.
//
// Merkle tree nodes are kept as tlog.Tree.Append returns them, leaves
// included.
package memstore

import (
	"context"
	"errors"
	"maps"
	"sync"
	"sync/atomic"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

// errClosed is returned by a Store after Close.
var errClosed = errors.New("memstore: store closed")

// A DB is the memory one log lives in. Stores opened on it share it, as
// connections to one database file do, and it outlives them: a Store
// closed and opened again on the same DB finds what was committed.
type DB struct {
	write chan struct{} // holds a token while an Update runs
	mu    sync.RWMutex  // readers against the merge of a commit
	st    *state        // committed
}

// NewDB returns an empty DB.
func NewDB() *DB { return &DB{write: make(chan struct{}, 1), st: newState()} }

// Open returns a Store on db.
func (db *DB) Open() *Store { return &Store{db: db} }

// Store is one handle on a DB.
type Store struct {
	db     *DB
	closed atomic.Bool
}

var _ store.Store = (*Store)(nil)

// New returns a Store on a new, empty DB.
func New() *Store { return NewDB().Open() }

// Close closes this handle; the DB and other handles on it are unaffected.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}

// Update runs fn in a write transaction. Updates run one at a time; fn
// sees its own effects, and they are committed only if it returns nil.
// An Update waiting for another to finish gives up when ctx ends.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	if s.closed.Load() {
		return errClosed
	}
	db := s.db
	select {
	case db.write <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-db.write }()
	if err := ctx.Err(); err != nil {
		return err
	}
	// Only the holder of the write token changes db.st, so the
	// transaction reads it without the lock.
	delta := newState()
	delta.first = db.st.size()
	delta.tree = db.st.tree.Clone()
	if err := fn(&txn{v: view{db.st, delta}, delta: delta}); err != nil {
		return err
	}
	db.mu.Lock()
	db.st.merge(delta)
	db.mu.Unlock()
	return nil
}

// read runs fn on a view of the committed state under the read lock,
// unless the store is closed or ctx has ended.
func (s *Store) read(ctx context.Context, fn func(v view) error) error {
	if s.closed.Load() {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.db.mu.RLock()
	defer s.db.mu.RUnlock()
	return fn(view{s.db.st})
}

// entry is a record in the log.
type entry struct {
	hash     chain.Hash
	envelope []byte
	chain    string
	seq      uint64
	exhibit  bool   // an exhibit's first record, with:
	ref      ref    //   the exhibit's reference
	caseRef  string //   the exhibit's case
}

// ref is an exhibit reference, as chain.ParseRef splits it.
type ref struct {
	initials string
	num      uint64
}

func (e *entry) stored(index uint64) store.StoredRecord {
	return store.StoredRecord{Index: index, Hash: e.hash, Envelope: clone(e.envelope)}
}

// clone copies b; nil stays nil.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

// state is a log and everything indexed from it. The committed state of a
// DB is one; a transaction's changes are another (the delta), holding only
// what the transaction added, which merge adds to the committed one.
type state struct {
	id          *store.Identity
	first       uint64  // log index of records[0]: 0, or the base's size in a delta
	records     []entry // by log index - first
	chains      map[string][]uint64
	refs        map[ref]uint64    // exhibit reference → log index of its first record
	lastRef     map[string]uint64 // initials → highest exhibit number
	byHash      map[chain.Hash]uint64
	nodes       map[int64]chain.Hash // Merkle tree nodes by chain/tlog storage index
	tree        *tlog.Tree           // the tree's frontier, with a delta's records in a delta
	claims      map[string]uint64
	blobs       map[chain.Hash][]byte
	checkpoints map[uint64]store.Checkpoint
}

func newState() *state {
	return &state{
		chains: map[string][]uint64{}, refs: map[ref]uint64{}, lastRef: map[string]uint64{},
		byHash: map[chain.Hash]uint64{}, nodes: map[int64]chain.Hash{}, tree: tlog.New(),
		claims: map[string]uint64{}, blobs: map[chain.Hash][]byte{}, checkpoints: map[uint64]store.Checkpoint{},
	}
}

// size is the number of records, counting from log index 0.
func (st *state) size() uint64 { return st.first + uint64(len(st.records)) }

// record returns the entry at log index i, which must be in st.
func (st *state) record(i uint64) *entry { return &st.records[i-st.first] }

// merge adds a transaction's delta to the committed state st.
func (st *state) merge(d *state) {
	if d.id != nil {
		st.id = d.id
	}
	st.records = append(st.records, d.records...)
	for c, idx := range d.chains {
		st.chains[c] = append(st.chains[c], idx...)
	}
	maps.Copy(st.refs, d.refs)
	maps.Copy(st.lastRef, d.lastRef)
	maps.Copy(st.byHash, d.byHash)
	maps.Copy(st.nodes, d.nodes)
	maps.Copy(st.claims, d.claims)
	maps.Copy(st.blobs, d.blobs)
	maps.Copy(st.checkpoints, d.checkpoints)
	st.tree = d.tree
}
