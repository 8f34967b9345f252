package memstore

import (
	"fmt"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
)

// A view is the log as one reader sees it: the committed state and, in a
// transaction, the transaction's delta after it. Each state's records
// start at the log index where the one before it ends; a chain's records
// in a later state follow its records in the earlier ones; a later state's
// map entry for a key supersedes an earlier one's (only lastRef has
// both: claims, blobs, checkpoints and references are never written twice).
type view []*state

// top is the last state: the delta in a transaction.
func (v view) top() *state { return v[len(v)-1] }

// size is the number of records in the log.
func (v view) size() uint64 { return v.top().size() }

// record returns the entry at log index i, or false beyond the log.
func (v view) record(i uint64) (*entry, bool) {
	if i >= v.size() {
		return nil, false
	}
	for j := len(v) - 1; j > 0; j-- {
		if i >= v[j].first {
			return v[j].record(i), true
		}
	}
	return v[0].record(i), true
}

// find looks k up in the map pick returns, latest state first.
func find[K comparable, V any](v view, pick func(*state) map[K]V, k K) (V, bool) {
	for j := len(v) - 1; j >= 0; j-- {
		if x, ok := pick(v[j])[k]; ok {
			return x, true
		}
	}
	var zero V
	return zero, false
}

func (v view) identity() (store.Identity, error) {
	for j := len(v) - 1; j >= 0; j-- {
		if v[j].id != nil {
			return *v[j].id, nil
		}
	}
	return store.Identity{}, store.ErrNotInit
}

// chainIndexes returns the log indexes of a chain's records in chain order.
func (v view) chainIndexes(chainID string) []uint64 {
	var out []uint64
	for _, st := range v {
		out = append(out, st.chains[chainID]...)
	}
	return out
}

// head returns a chain's head; false for a chain not begun.
func (v view) head(chainID string) (store.ChainHead, bool) {
	for j := len(v) - 1; j >= 0; j-- {
		if idx := v[j].chains[chainID]; len(idx) > 0 {
			i := idx[len(idx)-1]
			e := v[j].record(i)
			return store.ChainHead{Seq: e.seq, Hash: e.hash, Index: i}, true
		}
	}
	return store.ChainHead{}, false
}

// exhibitAt returns the index entry of the exhibit whose first record is at
// log index i.
func (v view) exhibitAt(i uint64) (store.Exhibit, error) {
	e, _ := v.record(i)
	head, _ := v.head(e.chain)
	x, err := store.ExhibitFrom(e.stored(i), head)
	if err != nil {
		return store.Exhibit{}, fmt.Errorf("memstore: %w", err)
	}
	return x, nil
}

// exhibit returns an exhibit by id: its chain's first record, if that is
// an exhibit's first record.
func (v view) exhibit(id string) (store.Exhibit, error) {
	idx := v.chainIndexes(id)
	if len(idx) == 0 {
		return store.Exhibit{}, store.ErrNotFound
	}
	if e, _ := v.record(idx[0]); !e.exhibit {
		return store.Exhibit{}, store.ErrNotFound
	}
	return v.exhibitAt(idx[0])
}

// exhibitByRef returns an exhibit by reference.
func (v view) exhibitByRef(s string) (store.Exhibit, error) {
	ini, num, err := chain.ParseRef(s)
	if err != nil {
		return store.Exhibit{}, fmt.Errorf("%w: %v", store.ErrNotFound, err)
	}
	i, ok := find(v, func(st *state) map[ref]uint64 { return st.refs }, ref{ini, num})
	if !ok {
		return store.Exhibit{}, store.ErrNotFound
	}
	return v.exhibitAt(i)
}
