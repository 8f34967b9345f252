package memstore

import (
	"fmt"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
)

// txn implements store.Tx: it reads the committed state and its own delta
// (v) and writes to the delta only.
type txn struct {
	v     view
	delta *state
}

func (t *txn) Init(id store.Identity) error {
	if _, err := t.v.identity(); err == nil {
		return store.ErrExists
	}
	id.Created = id.Created.UTC()
	t.delta.id = &id
	return nil
}

func (t *txn) Identity() (store.Identity, error) { return t.v.identity() }
func (t *txn) TreeSize() uint64                  { return t.v.size() }
func (t *txn) Root() chain.Hash                  { return t.delta.tree.Root() }

func (t *txn) Head(chainID string) (store.ChainHead, bool, error) {
	h, ok := t.v.head(chainID)
	return h, ok, nil
}

func (t *txn) Exhibit(id string) (store.Exhibit, error)       { return t.v.exhibit(id) }
func (t *txn) ExhibitByRef(ref string) (store.Exhibit, error) { return t.v.exhibitByRef(ref) }

func (t *txn) NextRefNumber(initials string) (uint64, error) {
	n, _ := find(t.v, func(st *state) map[string]uint64 { return st.lastRef }, initials)
	return n + 1, nil
}

// Append checks every record before it changes anything, so that it
// appends all of them or, with an error, none.
func (t *txn) Append(recs ...*chain.Record) (uint64, error) {
	first := t.v.size()
	if len(recs) == 0 {
		return first, nil
	}
	if _, err := store.Link(first, recs, t.Head); err != nil {
		return 0, err
	}
	entries := make([]entry, len(recs))
	hashes := make([]chain.Hash, len(recs))
	refs := map[ref]bool{}
	for i, r := range recs {
		p := &r.Statement.Predicate
		// Link checked a chain's first record against the empty chain: a
		// second one is refused here, as by the SQL store's unique
		// (chain, seq).
		if p.Seq == 1 {
			if idx := t.v.chainIndexes(p.Chain); len(idx) > 0 {
				if e, _ := t.v.record(idx[0]); e.hash == r.Hash {
					return 0, fmt.Errorf("%w: %s", store.ErrDuplicate, r.Hash)
				}
				return 0, fmt.Errorf("%w: chain %s already has a record #%d", store.ErrBrokenChain, p.Chain, p.Seq)
			}
		}
		entries[i] = entry{hash: r.Hash, envelope: clone(r.Envelope), chain: p.Chain, seq: p.Seq}
		hashes[i] = r.Hash
		if p.Seq != 1 || p.Exhibit == nil {
			continue
		}
		ini, num, err := chain.ParseRef(p.Exhibit.Ref)
		if err != nil {
			return 0, fmt.Errorf("memstore: record %s: %w", r.Hash, err)
		}
		k := ref{ini, num}
		if _, used := find(t.v, func(st *state) map[ref]uint64 { return st.refs }, k); used || refs[k] {
			return 0, fmt.Errorf("%w: exhibit reference %s is already in use", store.ErrBrokenChain, p.Exhibit.Ref)
		}
		refs[k] = true
		entries[i].exhibit, entries[i].ref, entries[i].caseRef = true, k, p.Exhibit.Case
	}
	next := t.delta.tree.Clone()
	nodes, err := next.Append(hashes...)
	if err != nil {
		return 0, fmt.Errorf("memstore: append: %w", err)
	}

	// Nothing fails from here on.
	d := t.delta
	d.tree = next
	for _, n := range nodes {
		d.nodes[n.Index] = n.Hash
	}
	for i, e := range entries {
		idx := first + uint64(i)
		d.records = append(d.records, e)
		d.chains[e.chain] = append(d.chains[e.chain], idx)
		d.byHash[e.hash] = idx
		if e.exhibit {
			d.refs[e.ref] = idx
			if last, _ := find(t.v, func(st *state) map[string]uint64 { return st.lastRef }, e.ref.initials); e.ref.num > last {
				d.lastRef[e.ref.initials] = e.ref.num
			}
		}
	}
	return first, nil
}

func (t *txn) Claim(key string, index uint64) (uint64, error) {
	if err := store.CheckClaim(key, index, t.v.size()); err != nil {
		return 0, fmt.Errorf("memstore: %w", err)
	}
	if held, ok := find(t.v, func(st *state) map[string]uint64 { return st.claims }, key); ok {
		return held, fmt.Errorf("%w: %q is held by the record at log index %d", store.ErrClaimed, key, held)
	}
	t.delta.claims[key] = index
	return index, nil
}

func (t *txn) PutInlineBlob(h chain.Hash, b []byte) error {
	if err := store.CheckInlineBlob(h, b); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	if _, ok := find(t.v, func(st *state) map[chain.Hash][]byte { return st.blobs }, h); !ok {
		t.delta.blobs[h] = append([]byte{}, b...)
	}
	return nil
}

func (t *txn) AddCheckpoint(c store.Checkpoint) error {
	prev, have := find(t.v, func(st *state) map[uint64]store.Checkpoint { return st.checkpoints }, c.Size)
	isNew, err := store.CheckCheckpoint(c, t.v.size(), prev.Note, have)
	if err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	if isNew {
		t.delta.checkpoints[c.Size] = store.Checkpoint{Size: c.Size, Note: clone(c.Note), Issued: c.Issued.UTC()}
	}
	return nil
}
