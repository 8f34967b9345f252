package store

import (
	"fmt"

	"github.com/exhibit-forensics/exhibit/chain"
)

// What every engine does the same way: the rules a record, an inline blob
// and a checkpoint must meet, and the exhibit index entry read from an
// exhibit's first record. Engines call these rather than restating them, so
// that they refuse the same things with the same errors.

// Link checks that recs, to be appended in order from log index first,
// each extend their chain: its seq one more than the chain's head and its
// prev the head's hash, where the head is the record before it in recs or,
// for the first of a chain in recs, head(chain). It returns each chain's
// new head, or an error wrapping ErrBrokenChain.
//
// head is asked only about chains whose first record in recs has seq > 1.
// A record with seq 1 is checked against the empty chain, so the engine
// MUST itself refuse a second record at the same (chain, seq): ErrDuplicate
// if it is the same record, ErrBrokenChain if not.
func Link(first uint64, recs []*chain.Record, head func(chainID string) (ChainHead, bool, error)) (map[string]ChainHead, error) {
	heads := map[string]ChainHead{}
	for i, r := range recs {
		p := &r.Statement.Predicate
		h, ok := heads[p.Chain]
		if !ok && p.Seq > 1 {
			var err error
			if h, _, err = head(p.Chain); err != nil {
				return nil, err
			}
		}
		if p.Seq != h.Seq+1 || p.Prev != h.Hash {
			return nil, fmt.Errorf("%w: %s record %s is #%d of chain %s linking %s, but the chain's head is #%d %s",
				ErrBrokenChain, r.Kind, r.Hash, p.Seq, p.Chain, p.Prev, h.Seq, h.Hash)
		}
		heads[p.Chain] = ChainHead{Seq: p.Seq, Hash: r.Hash, Index: first + uint64(i)}
	}
	return heads, nil
}

// CheckInlineBlob checks that b may be kept inline under h (Tx.PutInlineBlob):
// at most MaxInlineBlob bytes (ErrTooLarge), hashing to h.
func CheckInlineBlob(h chain.Hash, b []byte) error {
	if len(b) > MaxInlineBlob {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, len(b))
	}
	if got := chain.Sum(b); got != h {
		return fmt.Errorf("inline blob: bytes hash to %s, not %s", got, h)
	}
	return nil
}

// CheckClaim checks that key may claim the record at log index in a log of
// size records (Tx.Claim): a key that is not empty, an index in the log.
func CheckClaim(key string, index, size uint64) error {
	if key == "" {
		return fmt.Errorf("claim: empty key")
	}
	if index >= size {
		return fmt.Errorf("claim %q: log index %d is beyond the log's %d records", key, index, size)
	}
	return nil
}

// CheckCheckpoint checks that c may be added to a log of size records
// holding, if any, prev at the same size (Tx.AddCheckpoint). It reports
// whether c is new: adding the very checkpoint again is not an error and
// stores nothing.
func CheckCheckpoint(c Checkpoint, size uint64, prev []byte, havePrev bool) (isNew bool, err error) {
	switch {
	case c.Size > size:
		return false, fmt.Errorf("checkpoint of size %d is beyond the log's %d records", c.Size, size)
	case !havePrev:
		return true, nil
	case string(prev) == string(c.Note):
		return false, nil
	default:
		return false, fmt.Errorf("a different checkpoint of size %d was already issued", c.Size)
	}
}

// ExhibitFrom builds an exhibit's index entry from its first record and its
// chain's head. The first record may be over chain.MaxRecordSize
// (StoredRecord.Oversized: signed before the limit was enforced); the
// entry is still read from it, with Oversized set.
func ExhibitFrom(first StoredRecord, head ChainHead) (Exhibit, error) {
	// The index covers every exhibit the log holds, including one whose
	// first record is oversized: those bytes are the store's own, checked
	// at append.
	r, err := chain.DecodeOversizedRecord(first.Envelope)
	if err != nil {
		return Exhibit{}, fmt.Errorf("exhibit record %d: %w", first.Index, err)
	}
	p := r.Statement.Predicate
	if p.Exhibit == nil {
		return Exhibit{}, fmt.Errorf("record %d is not an exhibit's first record", first.Index)
	}
	e := Exhibit{ExhibitInfo: *p.Exhibit, Created: p.Time, FirstIndex: first.Index,
		HeadIndex: head.Index, Head: head.Hash, Seq: head.Seq, Oversized: first.Oversized()}
	for _, sub := range r.Statement.Subject {
		h, err := sub.SHA256()
		if err != nil {
			return Exhibit{}, err
		}
		e.Blobs = append(e.Blobs, BlobRef{Name: sub.Name, Hash: h})
	}
	return e, nil
}
