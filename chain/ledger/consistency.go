package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

// ErrInconsistent is wrapped by every attempt to sign in a data directory
// whose log fails the check Open runs: the records no longer re-derive the
// tree the device signed (rows reordered, removed or inserted behind the
// store's back), so anything signed on top of it would extend a history
// the device never had. Reading stays possible, so that `exhibit log fsck`
// can say what is wrong.
var ErrInconsistent = errors.New("the log does not match its signed checkpoints: this data directory can be read but will not sign anything (run `exhibit log fsck`)")

// checkLog is the check Open runs before the ledger may sign: the Merkle
// root re-derived from the record hashes in log order must equal the root
// of the latest signed checkpoint at its size (verified with the device's
// keys), and, at the log's full size, the root of the tree the store
// appends to (its stored right edge). It reads every record hash once — a
// fraction of a second for a million records — and no envelopes; fsck and
// export check everything else.
func (l *Ledger) checkLog(ctx context.Context) error {
	size, err := l.st.TreeSize(ctx)
	if err != nil {
		return err
	}
	cp, err := l.st.LatestCheckpoint(ctx)
	if errors.Is(err, store.ErrNotFound) {
		if size == 0 {
			return nil
		}
		return fmt.Errorf("%w: %d records and no checkpoint", ErrInconsistent, size)
	}
	if err != nil {
		return err
	}
	vs, err := l.NoteVerifiers(ctx)
	if err != nil {
		return fmt.Errorf("%w: the device's key records: %v", ErrInconsistent, err)
	}
	signed, _, err := tlog.Open(cp.Note, l.id.Origin, vs)
	if err != nil {
		return fmt.Errorf("%w: the latest checkpoint: %v", ErrInconsistent, err)
	}
	if signed.Size != cp.Size || signed.Size > size {
		return fmt.Errorf("%w: the latest checkpoint is of size %d, the log has %d records", ErrInconsistent, signed.Size, size)
	}
	tr := tlog.New()
	batch := make([]chain.Hash, 0, 4096)
	flush := func() error {
		_, err := tr.Append(batch...)
		batch = batch[:0]
		return err
	}
	err = l.st.RecordHashes(ctx, 0, size, func(i uint64, h chain.Hash) error {
		batch = append(batch, h)
		if len(batch) == cap(batch) || i+1 == signed.Size {
			if err := flush(); err != nil {
				return err
			}
		}
		if i+1 == signed.Size && tr.Root() != signed.Root {
			return fmt.Errorf("%w: the records re-derive root %s at size %d, the signed checkpoint has %s",
				ErrInconsistent, tr.Root(), signed.Size, signed.Root)
		}
		return nil
	})
	switch {
	case errors.Is(err, ErrInconsistent), ctx.Err() != nil:
		return err
	case err != nil:
		// A record missing from the log, or a hash that cannot be read:
		// the directory can still be opened for fsck to say where.
		return fmt.Errorf("%w: reading the records' hashes: %v", ErrInconsistent, err)
	}
	if err := flush(); err != nil {
		return err
	}
	if signed.Size == 0 && size == 0 {
		return nil
	}
	stored, err := tlog.RootAt(ctx, l.st, size)
	if err != nil {
		return fmt.Errorf("%w: the stored tree at size %d: %v", ErrInconsistent, size, err)
	}
	if stored != tr.Root() {
		return fmt.Errorf("%w: the stored tree's root at size %d is %s, the records re-derive %s", ErrInconsistent, size, stored, tr.Root())
	}
	return nil
}
