package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/mattn/go-sqlite3"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

// Writes: Update queues a request, the committer runs queued requests
// together in one transaction (group commit), each in its own savepoint,
// and the checkpointer does the work kept off the commit path.

// A request is one Update waiting for the committer.
type request struct {
	ctx  context.Context
	fn   func(store.Tx) error
	done chan error
}

// Update runs fn in a write transaction shared with concurrent Updates.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	req := &request{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case s.reqs <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.quit:
		return errors.New("sqlitestore: store closed")
	}
	// Once queued, wait for the outcome even if ctx ends: the caller must
	// know whether its records were committed.
	return diskFull(<-req.done)
}

// diskFull makes a full disk as SQLite reports it — SQLITE_FULL ("database
// or disk is full"), or an I/O error whose errno is ENOSPC — match
// syscall.ENOSPC, as the blob store's full disk does
// (blobstore.ErrNoSpace), so that a caller tests for one error whichever
// part of the data directory filled. SQLite's own error is kept in the
// chain (errors.As still finds it).
func diskFull(err error) error {
	if err == nil || errors.Is(err, syscall.ENOSPC) || !isFull(err) {
		return err
	}
	return fmt.Errorf("%w (%w)", err, syscall.ENOSPC)
}

// isFull reports whether any error in err's tree is SQLite's full disk
// (errors.As would stop at the first SQLite error: a failed rollback may
// wrap the full disk that caused it).
func isFull(err error) bool {
	switch e := err.(type) {
	case sqlite3.Error:
		return e.Code == sqlite3.ErrFull || e.SystemErrno == syscall.ENOSPC
	case *sqlite3.Error:
		return e != nil && (e.Code == sqlite3.ErrFull || e.SystemErrno == syscall.ENOSPC)
	case interface{ Unwrap() error }:
		return isFull(e.Unwrap())
	case interface{ Unwrap() []error }:
		for _, w := range e.Unwrap() {
			if isFull(w) {
				return true
			}
		}
	}
	return false
}

// committer takes the queued requests, up to maxBatch at a time, and
// commits each batch in one transaction.
func (s *Store) committer() {
	defer close(s.done)
	for {
		var batch []*request
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		case <-s.quit:
			return
		}
	more:
		for len(batch) < maxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break more
			}
		}
		s.commit(batch)
	}
}

func (s *Store) commit(batch []*request) {
	// Statements run without cancellation: a request's context is checked
	// before its function runs, and a watcher per statement would cost more
	// than the statement.
	ctx := context.Background()
	results := make([]error, len(batch))
	fail := func(err error) {
		for _, r := range batch {
			r.done <- err
		}
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		fail(fmt.Errorf("sqlitestore: begin: %w", err))
		return
	}
	t := &txn{s: s, ctx: ctx, tx: tx, heads: map[string]store.ChainHead{}}
	var size int64
	err = t.queryRow(t.s.stmts.size).Scan(&size)
	if err == nil && uint64(size) != s.tree.Size() {
		// Another process appended since we last wrote: reload the
		// frontier and forget cached heads.
		var tr *tlog.Tree
		tr, err = tlog.Load(ctx, tlog.HashReaderFunc(func(ctx context.Context, idx []int64) ([]chain.Hash, error) {
			return readHashes(ctx, tx, idx)
		}), uint64(size))
		if err == nil {
			s.tree = tr
			s.heads = map[string]store.ChainHead{}
		}
	}
	if err != nil {
		tx.Rollback()
		fail(fmt.Errorf("sqlitestore: begin: %w", err))
		return
	}
	t.tree = s.tree.Clone()
	ok := 0
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if _, err := t.exec(t.s.stmts.savepoint); err != nil {
			results[i] = fmt.Errorf("sqlitestore: savepoint: %w", err)
			continue
		}
		savedTree := t.tree.Clone()
		t.pending = map[string]store.ChainHead{}
		err := r.fn(t)
		if err != nil {
			t.tree = savedTree
			_, rerr := t.exec(t.s.stmts.rollbackTo)
			if rerr == nil {
				_, rerr = t.exec(t.s.stmts.release)
			}
			if rerr != nil {
				// The transaction is in an unknown state: give it up.
				tx.Rollback()
				// (SQLite gives up the whole transaction on some
				// errors, a full disk among them: the savepoint is gone.)
				fail(fmt.Errorf("sqlitestore: rollback to savepoint: %w (after %w)", rerr, err))
				return
			}
			results[i] = err
			continue
		}
		if _, err := t.exec(t.s.stmts.release); err != nil {
			tx.Rollback()
			fail(fmt.Errorf("sqlitestore: release savepoint: %w", err))
			return
		}
		for c, h := range t.pending {
			t.heads[c] = h
		}
		ok++
	}
	t.pending = nil
	if ok == 0 {
		tx.Rollback()
	} else if err := tx.Commit(); err != nil {
		// Nothing of this batch is committed; the tree stays as it was.
		fail(fmt.Errorf("sqlitestore: commit: %w", err))
		return
	} else {
		appended := int(t.tree.Size() - s.tree.Size())
		s.tree = t.tree
		if len(s.heads)+len(t.heads) > maxHeads {
			s.heads = map[string]store.ChainHead{}
		}
		for c, h := range t.heads {
			s.heads[c] = h
		}
		s.pending += appended
		if s.pending >= ckptEvery {
			s.pending = 0
			select {
			case s.ckptReq <- struct{}{}:
			default: // one is already queued
			}
		}
	}
	for i, r := range batch {
		r.done <- results[i]
	}
}

// checkpointer copies the WAL into the database file on its own
// connection when the committer asks, so COMMIT only appends to the WAL,
// and brings the hash index up to date. Neither affects durability: the
// WAL was fsynced at commit, and the hash index is derived.
func (s *Store) checkpointer() {
	defer close(s.ckptDone)
	s.indexHashes(context.Background())
	for {
		select {
		case <-s.ckptReq:
			s.ckpt.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
			s.indexHashes(context.Background())
		case <-s.quit:
			return
		}
	}
}
