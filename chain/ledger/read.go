package ledger

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

// Reading the log. These pass the record store's reads through (see
// store.Reader for their contracts); what reads and decodes records for a
// purpose (fsck, listings, export) is elsewhere in this package.

// TreeSize returns the number of records in the log.
func (l *Ledger) TreeSize(ctx context.Context) (uint64, error) { return l.st.TreeSize(ctx) }

// Records calls fn for each record with log index in [from, to), in order.
func (l *Ledger) Records(ctx context.Context, from, to uint64, fn func(store.StoredRecord) error) error {
	return l.st.Records(ctx, from, to, fn)
}

// Record returns the record at a log index.
func (l *Ledger) Record(ctx context.Context, index uint64) (store.StoredRecord, error) {
	return l.st.Record(ctx, index)
}

// RecordByHash returns the record with hash h.
func (l *Ledger) RecordByHash(ctx context.Context, h chain.Hash) (store.StoredRecord, error) {
	return l.st.RecordByHash(ctx, h)
}

// ChainRecords returns a chain's records (an exhibit's, by its id) in
// chain order.
func (l *Ledger) ChainRecords(ctx context.Context, chainID string) ([]store.StoredRecord, error) {
	return l.st.ChainRecords(ctx, chainID)
}

// Exhibit returns an exhibit by id.
func (l *Ledger) Exhibit(ctx context.Context, id string) (store.Exhibit, error) {
	return l.st.Exhibit(ctx, id)
}

// ExhibitByRef returns an exhibit by reference (JS/4).
func (l *Ledger) ExhibitByRef(ctx context.Context, ref string) (store.Exhibit, error) {
	return l.st.ExhibitByRef(ctx, ref)
}

// Exhibits lists a case's exhibits, by reference, as the store's index has
// them (ExportSet takes them from the signed records instead).
func (l *Ledger) Exhibits(ctx context.Context, caseRef string) ([]store.Exhibit, error) {
	return l.st.Exhibits(ctx, caseRef)
}

// Checkpoints returns every checkpoint the log issued, by size.
func (l *Ledger) Checkpoints(ctx context.Context) ([]store.Checkpoint, error) {
	return l.st.Checkpoints(ctx)
}

// InlineBlobs calls fn with the hash and size of every blob kept inline in
// the record store.
func (l *Ledger) InlineBlobs(ctx context.Context, fn func(h chain.Hash, size int64) error) error {
	return l.st.InlineBlobs(ctx, fn)
}

// A LogReport is what VerifyLog found.
type LogReport struct {
	Checkpoints int             // checkpoints stored
	Latest      tlog.Checkpoint // the latest that opened
	Records     uint64          // records in the log
	Problems    []error         // each naming its checkpoint(s)
}

// OK reports whether VerifyLog found nothing wrong.
func (r *LogReport) OK() bool { return len(r.Problems) == 0 }

// ErrNoCheckpoint is among a LogReport's problems when no checkpoint could
// be opened.
var ErrNoCheckpoint = errors.New("no checkpoint could be opened")

// VerifyLog checks the log as the stored tree nodes show it, without
// re-deriving it from the records (Fsck does that): every checkpoint is
// signed by a key of the device, each is consistent with the one before it,
// and each matches the stored tree at its size.
func (l *Ledger) VerifyLog(ctx context.Context) (*LogReport, error) {
	vs, err := l.NoteVerifiers(ctx)
	if err != nil {
		return nil, err
	}
	cps, err := l.st.Checkpoints(ctx)
	if err != nil {
		return nil, err
	}
	size, err := l.st.TreeSize(ctx)
	if err != nil {
		return nil, err
	}
	rep := &LogReport{Checkpoints: len(cps), Records: size}
	var prev *tlog.Checkpoint
	for _, c := range cps {
		cp, _, err := tlog.Open(c.Note, l.id.Origin, vs)
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Errorf("checkpoint of size %d: %w", c.Size, err))
			continue
		}
		root, err := tlog.RootAt(ctx, l.st, cp.Size)
		if err != nil || root != cp.Root {
			rep.Problems = append(rep.Problems, fmt.Errorf("checkpoint of size %d: root %s, the stored tree says %s (%v)", cp.Size, cp.Root, root, err))
		}
		if prev != nil {
			proof, err := tlog.ConsistencyProof(ctx, l.st, prev.Size, cp.Size)
			if err == nil {
				err = tlog.VerifyConsistency(prev.Size, cp.Size, proof, prev.Root, cp.Root)
			}
			if err != nil {
				rep.Problems = append(rep.Problems, fmt.Errorf("checkpoints of sizes %d and %d are not consistent: %w", prev.Size, cp.Size, err))
			}
		}
		prev = cp
	}
	if prev == nil {
		rep.Problems = append(rep.Problems, ErrNoCheckpoint)
		return rep, nil
	}
	rep.Latest = *prev
	return rep, nil
}

// Open returns a blob's bytes, wherever it is kept (inline in the record
// store or in the blob store): the Ledger is a blobstore.Fetcher.
func (l *Ledger) Open(ctx context.Context, h chain.Hash) (io.ReadCloser, int64, error) {
	return l.Blobs().Open(ctx, h)
}

// Stat returns a blob's size, wherever it is kept.
func (l *Ledger) Stat(ctx context.Context, h chain.Hash) (blobstore.Info, error) {
	return l.Blobs().Stat(ctx, h)
}

// RootAt returns the log's Merkle root at size (at most the tree size).
func (l *Ledger) RootAt(ctx context.Context, size uint64) (chain.Hash, error) {
	return tlog.RootAt(ctx, l.st, size)
}

// ConsistencyProof returns the proof that the log at size2 extends the log
// at size1 (RFC 6962 §2.1.2; empty when size1 is 0 or equals size2).
func (l *Ledger) ConsistencyProof(ctx context.Context, size1, size2 uint64) ([]chain.Hash, error) {
	if size1 == 0 || size1 == size2 {
		return nil, nil
	}
	return tlog.ConsistencyProof(ctx, l.st, size1, size2)
}
