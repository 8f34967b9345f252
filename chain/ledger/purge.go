package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	"github.com/exhibit-forensics/exhibit/chain/store"
)

// Retention: an agent deletes its local copies of blobs its hub holds
// (docs/sync.md, "Retention"). The records and their hashes stay; the log
// still verifies; the deletion is itself a record, a purged record on the
// device's purge chain (chain.PurgeChain), committed before any byte is
// deleted. A crash between the two leaves a record naming blobs that are
// still here: the next purge deletes them (without a new record).

// ErrPurged is wrapped by errors about blobs this device no longer holds
// because a purged record says the hub holds them (ExportSet).
var ErrPurged = errors.New("purged from this device")

// PurgeRequest says what to purge and on whose word.
type PurgeRequest struct {
	// Hub and Witness name the hub that holds the blobs: its URL and its
	// witness verifier key. Both are recorded.
	Hub, Witness string
	// Confirmed and Root are the log state the hub has just confirmed
	// (it holds records 0 … Confirmed−1 and their root is Root). Purge
	// checks Root against the log's own root at Confirmed.
	Confirmed uint64
	Root      chain.Hash
	// Cutoff: a blob is purged only if every record naming it was made at
	// or before Cutoff (the records' own time; now minus the retention
	// period).
	Cutoff time.Time
	// Holds asks the hub whether it holds blob h of size bytes, now. A
	// blob it does not hold is kept; an error stops the purge before
	// anything is recorded or deleted.
	Holds func(ctx context.Context, h chain.Hash, size int64) (bool, error)
	// DryRun finds what would be purged and asks the hub, but records and
	// deletes nothing.
	DryRun bool
	// Actor is who purged (the producer if empty).
	Actor chain.Person
	// AfterRecord, if set, is called once the purged records are committed
	// and before any blob is deleted; an error stops the purge there, as a
	// crash would. It is a seam for tests of that crash.
	AfterRecord func() error
}

// A KeptBlob is a blob old enough to purge that was kept, and why.
type KeptBlob struct {
	blobstore.Info
	Reason string
}

// PurgeResult is what Purge did (or, for a dry run, would do).
type PurgeResult struct {
	// Purged are the blobs the new purged records name, deleted here
	// (unless DryRun), in digest order.
	Purged []blobstore.Info
	// Finished are blobs an earlier purged record names that were still
	// here (that purge was interrupted) and are deleted now.
	Finished []blobstore.Info
	// Kept are blobs old and confirmed enough that stay: the hub does not
	// hold them.
	Kept []KeptBlob
	// Inline counts the blobs old and confirmed enough that are kept
	// inline in the record store (at most store.MaxInlineBlob bytes
	// each): never purged, they cost next to nothing.
	Inline int
	// Records are the purged records appended.
	Records []*chain.Record
}

// Bytes is the size of the blobs deleted (or, for a dry run, to delete).
func (r *PurgeResult) Bytes() int64 {
	var n int64
	for _, b := range r.Purged {
		n += b.Size
	}
	for _, b := range r.Finished {
		n += b.Size
	}
	return n
}

// PurgedBlob is a blob a purged record names: where the record is, and
// the hub it names.
type PurgedBlob struct {
	Size  int64
	Index uint64 // log index of the latest purged record naming it
	Hub   string
}

// Purged returns every blob the device's purged records name, by digest.
func (l *Ledger) Purged(ctx context.Context) (map[chain.Hash]PurgedBlob, error) {
	srs, err := l.st.ChainRecords(ctx, chain.PurgeChain(l.id.DeviceID))
	if err != nil {
		return nil, err
	}
	out := map[chain.Hash]PurgedBlob{}
	for _, sr := range srs {
		r, err := sr.Decode()
		if err != nil {
			return nil, fmt.Errorf("purged record at log index %d: %w", sr.Index, err)
		}
		pu := r.Statement.Predicate.Purge
		if r.Kind != chain.KindPurged || pu == nil {
			return nil, fmt.Errorf("record at log index %d is on the purge chain but is %s", sr.Index, r.Kind)
		}
		for _, b := range pu.Blobs {
			out[b.Digest] = PurgedBlob{Size: b.Size, Index: sr.Index, Hub: pu.Hub}
		}
	}
	return out, nil
}

// Purge deletes the local copies of blobs the hub holds, under the
// retention policy of req (docs/sync.md, "Retention"). A blob is purged
// when it is kept in the blob store (not inline), every record naming it
// is below req.Confirmed and was made at or before req.Cutoff, and the
// hub says it holds it, by hash and size, now. The purged records naming
// them (and a checkpoint) are committed first, then the bytes deleted.
// Blobs an earlier, interrupted purge recorded are deleted too. Purge is
// idempotent: run again, it finds nothing new to purge.
func (l *Ledger) Purge(ctx context.Context, req PurgeRequest) (*PurgeResult, error) {
	if err := l.writable(); err != nil {
		return nil, err
	}
	if req.Holds == nil || req.Hub == "" || req.Witness == "" {
		return nil, errors.New("purge: the hub, its witness key and a way to ask it are required")
	}
	rm, ok := l.files.(blobstore.Remover)
	if !ok {
		return nil, errors.New("purge: this blob store cannot delete blobs")
	}
	size, err := l.st.TreeSize(ctx)
	if err != nil {
		return nil, err
	}
	if req.Confirmed == 0 {
		return &PurgeResult{}, nil // the hub holds nothing yet
	}
	if req.Confirmed > size {
		return nil, fmt.Errorf("purge: the hub confirmed %d records, but the log has %d", req.Confirmed, size)
	}
	root, err := l.RootAt(ctx, req.Confirmed)
	if err != nil {
		return nil, err
	}
	if root != req.Root {
		return nil, fmt.Errorf("purge: at size %d the hub's root is %s, the log's %s: nothing purged", req.Confirmed, req.Root, root)
	}
	purged, err := l.Purged(ctx)
	if err != nil {
		return nil, err
	}

	// Every blob the log names: the last record naming it, and when.
	type use struct {
		last uint64
		at   time.Time
	}
	uses := map[chain.Hash]use{}
	err = l.st.Records(ctx, 0, size, func(sr store.StoredRecord) error {
		r, err := sr.Decode()
		if sr.Oversized() {
			// This store's own bytes, signed before the size limit: the
			// hub refuses it, so the blobs it names stay (below).
			r, err = chain.DecodeOversizedRecord(sr.Envelope)
		}
		if err != nil {
			return fmt.Errorf("record %d: %w", sr.Index, err)
		}
		for _, s := range r.Statement.Subject {
			h, _ := s.SHA256() // checked by Decode
			u := uses[h]
			u.last = sr.Index
			if t := r.Statement.Predicate.Time; t.After(u.at) {
				u.at = t
			}
			uses[h] = u
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	res := &PurgeResult{}
	var cands []blobstore.Info
	for h, u := range uses {
		if p, ok := purged[h]; ok && u.last < p.Index {
			// Recorded as purged and not named since: if still here, an
			// earlier purge was interrupted before deleting it.
			if info, err := l.files.Stat(ctx, h); err == nil {
				res.Finished = append(res.Finished, info)
			} else if !errors.Is(err, blobstore.ErrNotFound) {
				return nil, err
			}
			continue
		}
		if u.last >= req.Confirmed || u.at.After(req.Cutoff) {
			continue
		}
		if _, err := l.st.InlineBlob(ctx, h); err == nil {
			res.Inline++
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		info, err := l.files.Stat(ctx, h)
		if errors.Is(err, blobstore.ErrNotFound) {
			continue // missing without a purged record: Fsck's business
		}
		if err != nil {
			return nil, err
		}
		cands = append(cands, info)
	}
	byDigest := func(s []blobstore.Info) {
		sort.Slice(s, func(i, j int) bool { return bytes.Compare(s[i].Hash[:], s[j].Hash[:]) < 0 })
	}
	byDigest(cands)
	byDigest(res.Finished)

	// The hub's word on each, before anything is recorded or deleted.
	for _, c := range cands {
		held, err := req.Holds(ctx, c.Hash, c.Size)
		if err != nil {
			return nil, fmt.Errorf("purge: asking the hub about %s: %w (nothing purged)", c.Hash, err)
		}
		if held {
			res.Purged = append(res.Purged, c)
		} else {
			res.Kept = append(res.Kept, KeptBlob{Info: c, Reason: "the hub does not hold it"})
		}
	}
	if req.DryRun {
		return res, nil
	}

	if len(res.Purged) > 0 {
		if req.Actor.Name == "" {
			req.Actor = chain.Person{Name: l.id.Producer}
		}
		err = l.st.Update(ctx, func(tx store.Tx) error {
			res.Records = res.Records[:0]
			if tx.TreeSize() != size {
				return fmt.Errorf("purge: the log grew from %d to %d records meanwhile; nothing purged (run it again)", size, tx.TreeSize())
			}
			for i := 0; i < len(res.Purged); i += chain.MaxPurgeBlobs {
				part := res.Purged[i:min(i+chain.MaxPurgeBlobs, len(res.Purged))]
				rec, err := l.purgeRecord(tx, req, part)
				if err != nil {
					return err
				}
				res.Records = append(res.Records, rec)
			}
			_, err := l.checkpointTx(tx)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	if req.AfterRecord != nil {
		if err := req.AfterRecord(); err != nil {
			return res, fmt.Errorf("purge: recorded, not yet deleted: %w", err)
		}
	}
	for _, b := range append(append([]blobstore.Info(nil), res.Finished...), res.Purged...) {
		if err := rm.Remove(ctx, b.Hash); err != nil {
			return res, fmt.Errorf("purge: recorded, but deleting %s failed (the next purge deletes it): %w", b.Hash, err)
		}
	}
	return res, nil
}

// purgeRecord appends, in tx, a purged record naming blobs.
func (l *Ledger) purgeRecord(tx store.Tx, req PurgeRequest, blobs []blobstore.Info) (*chain.Record, error) {
	ch := chain.PurgeChain(l.id.DeviceID)
	head, _, err := tx.Head(ch)
	if err != nil {
		return nil, err
	}
	pu := &chain.Purge{Hub: req.Hub, Witness: req.Witness, Confirmed: req.Confirmed, Root: req.Root}
	for _, b := range blobs {
		pu.Blobs = append(pu.Blobs, chain.PurgedBlob{Digest: b.Hash, Size: b.Size})
	}
	actor := req.Actor
	rec, err := l.sign(&chain.Statement{
		Subject:       []chain.Subject{},
		PredicateType: chain.KindPurged.PredicateType(),
		Predicate: chain.Predicate{
			Chain: ch, Seq: head.Seq + 1, Prev: head.Hash, Time: l.Now(),
			Actor: &actor, Purge: pu,
		},
	})
	if err != nil {
		return nil, err
	}
	if _, err := tx.Append(rec); err != nil {
		return nil, err
	}
	return rec, nil
}
