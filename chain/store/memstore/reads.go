package memstore

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

// get returns what fn reads from the committed state (Store.read).
func get[T any](s *Store, ctx context.Context, fn func(v view) (T, error)) (T, error) {
	var out T
	err := s.read(ctx, func(v view) error {
		var err error
		out, err = fn(v)
		return err
	})
	return out, err
}

// Identity returns the store's identity (store.ErrNotInit before Init).
func (s *Store) Identity(ctx context.Context) (store.Identity, error) {
	return get(s, ctx, view.identity)
}

// TreeSize returns the number of records in the log.
func (s *Store) TreeSize(ctx context.Context) (uint64, error) {
	return get(s, ctx, func(v view) (uint64, error) { return v.size(), nil })
}

// Record returns the record at a log index.
func (s *Store) Record(ctx context.Context, index uint64) (store.StoredRecord, error) {
	return get(s, ctx, func(v view) (store.StoredRecord, error) {
		e, ok := v.record(index)
		if !ok {
			return store.StoredRecord{}, store.ErrNotFound
		}
		return e.stored(index), nil
	})
}

// RecordByHash returns the record with hash h.
func (s *Store) RecordByHash(ctx context.Context, h chain.Hash) (store.StoredRecord, error) {
	return get(s, ctx, func(v view) (store.StoredRecord, error) {
		i, ok := find(v, func(st *state) map[chain.Hash]uint64 { return st.byHash }, h)
		if !ok {
			return store.StoredRecord{}, store.ErrNotFound
		}
		e, _ := v.record(i)
		return e.stored(i), nil
	})
}

// scan calls fn with each committed record with index in [from, to), in
// log order, and fails past the end of the log. A record never changes
// once appended and a commit only appends past the length of the slice it
// took, so it calls fn without the lock: fn may call the store.
func (s *Store) scan(ctx context.Context, from, to uint64, fn func(i uint64, e *entry) error) error {
	recs, err := get(s, ctx, func(v view) ([]entry, error) { return v.top().records, nil })
	if err != nil {
		return err
	}
	for i := from; i < to; i++ {
		if i >= uint64(len(recs)) {
			return fmt.Errorf("memstore: log index %d is missing", i)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(i, &recs[i]); err != nil {
			return err
		}
	}
	return nil
}

// Records calls fn for each record with index in [from, to), in log order.
// Past the end of the log it fails.
func (s *Store) Records(ctx context.Context, from, to uint64, fn func(store.StoredRecord) error) error {
	return s.scan(ctx, from, to, func(i uint64, e *entry) error { return fn(e.stored(i)) })
}

// RecordHashes calls fn with the index and hash of each record with index
// in [from, to), in log order. Past the end of the log it fails.
func (s *Store) RecordHashes(ctx context.Context, from, to uint64, fn func(uint64, chain.Hash) error) error {
	return s.scan(ctx, from, to, func(i uint64, e *entry) error { return fn(i, e.hash) })
}

// ChainRecords returns a chain's records in chain order (none for a chain
// not begun).
func (s *Store) ChainRecords(ctx context.Context, chainID string) ([]store.StoredRecord, error) {
	return get(s, ctx, func(v view) ([]store.StoredRecord, error) {
		var out []store.StoredRecord
		for _, i := range v.chainIndexes(chainID) {
			e, _ := v.record(i)
			out = append(out, e.stored(i))
		}
		return out, nil
	})
}

// Exhibit returns an exhibit by id.
func (s *Store) Exhibit(ctx context.Context, id string) (store.Exhibit, error) {
	return get(s, ctx, func(v view) (store.Exhibit, error) { return v.exhibit(id) })
}

// ExhibitByRef returns an exhibit by reference.
func (s *Store) ExhibitByRef(ctx context.Context, ref string) (store.Exhibit, error) {
	return get(s, ctx, func(v view) (store.Exhibit, error) { return v.exhibitByRef(ref) })
}

// Exhibits lists a case's exhibits in reference order: by initials, then
// number.
func (s *Store) Exhibits(ctx context.Context, caseRef string) ([]store.Exhibit, error) {
	return get(s, ctx, func(v view) ([]store.Exhibit, error) {
		var firsts []uint64
		for _, st := range v {
			for _, i := range st.refs {
				if e, _ := v.record(i); e.caseRef == caseRef {
					firsts = append(firsts, i)
				}
			}
		}
		slices.SortFunc(firsts, func(a, b uint64) int {
			ea, _ := v.record(a)
			eb, _ := v.record(b)
			return cmp.Or(cmp.Compare(ea.ref.initials, eb.ref.initials), cmp.Compare(ea.ref.num, eb.ref.num))
		})
		var out []store.Exhibit
		for _, i := range firsts {
			x, err := v.exhibitAt(i)
			if err != nil {
				return nil, err
			}
			out = append(out, x)
		}
		return out, nil
	})
}

// ReadHashes returns stored Merkle tree nodes by storage index
// (tlog.HashReader): all of them, or an error wrapping tlog.ErrMissingNode
// (and store.ErrNotFound) and none.
func (s *Store) ReadHashes(ctx context.Context, indexes []int64) ([]chain.Hash, error) {
	return get(s, ctx, func(v view) ([]chain.Hash, error) {
		out := make([]chain.Hash, len(indexes))
		for i, x := range indexes {
			h, ok := find(v, func(st *state) map[int64]chain.Hash { return st.nodes }, x)
			if !ok {
				return nil, fmt.Errorf("memstore: tree: node %d: %w (%w)", x, tlog.ErrMissingNode, store.ErrNotFound)
			}
			out[i] = h
		}
		return out, nil
	})
}

// Checkpoints returns every checkpoint issued, by size.
func (s *Store) Checkpoints(ctx context.Context) ([]store.Checkpoint, error) {
	return get(s, ctx, func(v view) ([]store.Checkpoint, error) {
		var out []store.Checkpoint
		for _, st := range v {
			for _, c := range st.checkpoints {
				c.Note = clone(c.Note)
				out = append(out, c)
			}
		}
		slices.SortFunc(out, func(a, b store.Checkpoint) int { return cmp.Compare(a.Size, b.Size) })
		return out, nil
	})
}

// LatestCheckpoint returns the largest checkpoint issued.
func (s *Store) LatestCheckpoint(ctx context.Context) (store.Checkpoint, error) {
	cs, err := s.Checkpoints(ctx)
	if err != nil {
		return store.Checkpoint{}, err
	}
	if len(cs) == 0 {
		return store.Checkpoint{}, store.ErrNotFound
	}
	return cs[len(cs)-1], nil
}

// InlineBlob returns a blob kept inline.
func (s *Store) InlineBlob(ctx context.Context, h chain.Hash) ([]byte, error) {
	return get(s, ctx, func(v view) ([]byte, error) {
		b, ok := find(v, func(st *state) map[chain.Hash][]byte { return st.blobs }, h)
		if !ok {
			return nil, fmt.Errorf("inline blob %s: %w", h, store.ErrNotFound)
		}
		return clone(b), nil
	})
}

// InlineBlobs calls fn for every inline blob's hash and size, in hash
// order.
func (s *Store) InlineBlobs(ctx context.Context, fn func(h chain.Hash, size int64) error) error {
	type blob struct {
		h    chain.Hash
		size int64
	}
	list, err := get(s, ctx, func(v view) ([]blob, error) {
		var out []blob
		for _, st := range v {
			for h, b := range st.blobs {
				out = append(out, blob{h, int64(len(b))})
			}
		}
		return out, nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(list, func(a, b blob) int { return bytes.Compare(a.h[:], b.h[:]) })
	for _, b := range list {
		if err := fn(b.h, b.size); err != nil {
			return err
		}
	}
	return nil
}

// Claimed returns the log index of the record that claimed key.
func (s *Store) Claimed(ctx context.Context, key string) (uint64, error) {
	return get(s, ctx, func(v view) (uint64, error) {
		i, ok := find(v, func(st *state) map[string]uint64 { return st.claims }, key)
		if !ok {
			return 0, fmt.Errorf("claim %q: %w", key, store.ErrNotFound)
		}
		return i, nil
	})
}
