// Package tlogtest provides an in-memory node store for chain/tlog, helpers
// to build test logs, and a conformance test for HashReader implementations.
package tlogtest

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

// Store is an in-memory node store. Because stored-node indexes are dense,
// it keeps hashes in a slice indexed by them; the zero hash marks an absent
// node. It is safe for concurrent use.
type Store struct {
	mu     sync.RWMutex
	hashes []chain.Hash
}

var _ tlog.HashReader = (*Store)(nil)

// maxIndex bounds the indexes Write accepts, to keep a typo from allocating
// terabytes.
const maxIndex = 1 << 32

// Write stores nodes, as a database would in the append transaction. It
// stores all of them or, with an error, none.
func (s *Store) Write(nodes []tlog.StoredHash) error {
	top := int64(-1)
	for _, n := range nodes {
		if n.Index < 0 || n.Index >= maxIndex {
			return fmt.Errorf("tlogtest: stored-node index %d outside [0, %d)", n.Index, int64(maxIndex))
		}
		if n.Hash.IsZero() {
			return fmt.Errorf("tlogtest: zero hash for stored node %d", n.Index)
		}
		top = max(top, n.Index)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if grow := top + 1 - int64(len(s.hashes)); grow > 0 {
		s.hashes = append(s.hashes, make([]chain.Hash, grow)...)
	}
	for _, n := range nodes {
		s.hashes[n.Index] = n.Hash
	}
	return nil
}

// Set overwrites one stored node, to simulate corruption.
func (s *Store) Set(index int64, h chain.Hash) error {
	return s.Write([]tlog.StoredHash{{Index: index, Hash: h}})
}

// Delete removes one stored node, to simulate loss.
func (s *Store) Delete(index int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if index >= 0 && index < int64(len(s.hashes)) {
		s.hashes[index] = chain.Hash{}
	}
}

// Get returns the node stored at index, if any.
func (s *Store) Get(index int64) (chain.Hash, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if index < 0 || index >= int64(len(s.hashes)) || s.hashes[index].IsZero() {
		return chain.Hash{}, false
	}
	return s.hashes[index], true
}

// ReadHashes implements tlog.HashReader.
func (s *Store) ReadHashes(ctx context.Context, indexes []int64) ([]chain.Hash, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]chain.Hash, len(indexes))
	for i, idx := range indexes {
		if idx < 0 || idx >= int64(len(s.hashes)) || s.hashes[idx].IsZero() {
			return nil, fmt.Errorf("%w: index %d", tlog.ErrMissingNode, idx)
		}
		out[i] = s.hashes[idx]
	}
	return out, nil
}

// RecordHash returns a deterministic stand-in for the hash of record i:
// SHA-256 of "exhibit tlog test record " followed by i as 8 big-endian bytes.
func RecordHash(i uint64) chain.Hash {
	b := []byte("exhibit tlog test record ________")
	binary.BigEndian.PutUint64(b[len(b)-8:], i)
	return chain.Sum(b)
}

// RecordHashes returns RecordHash(0) … RecordHash(n-1).
func RecordHashes(n int) []chain.Hash {
	out := make([]chain.Hash, n)
	for i := range out {
		out[i] = RecordHash(uint64(i))
	}
	return out
}

// Build appends the records to a new tree, batch records at a time, writing
// the nodes to a new Store.
func Build(records []chain.Hash, batch int) (*tlog.Tree, *Store, error) {
	if batch < 1 {
		batch = 1
	}
	t, s := tlog.New(), &Store{}
	for len(records) > 0 {
		k := min(batch, len(records))
		nodes, err := t.Append(records[:k]...)
		if err != nil {
			return nil, nil, err
		}
		if err := s.Write(nodes); err != nil {
			return nil, nil, err
		}
		records = records[k:]
	}
	return t, s, nil
}
