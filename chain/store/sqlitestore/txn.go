package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"
	xtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

// txn implements store.Tx: one transaction of the committer, shared by the
// requests of a batch, each running inside its own savepoint.
type txn struct {
	s     *Store
	ctx   context.Context
	tx    *sql.Tx
	tree  *tlog.Tree
	heads map[string]store.ChainHead // heads written by released requests
	// pending holds the heads written by the request running now; they
	// join heads when its savepoint is released.
	pending map[string]store.ChainHead
}

// exec runs one of the writer's prepared statements in tx.
func (t *txn) exec(st *sql.Stmt, args ...any) (sql.Result, error) {
	return t.tx.StmtContext(t.ctx, st).ExecContext(t.ctx, args...)
}

// queryRow runs one of the writer's prepared queries in tx.
func (t *txn) queryRow(st *sql.Stmt, args ...any) *sql.Row {
	return t.tx.StmtContext(t.ctx, st).QueryRowContext(t.ctx, args...)
}

func (t *txn) Init(id store.Identity) error {
	var n int
	if err := t.tx.QueryRowContext(t.ctx, `SELECT count(*) FROM identity`).Scan(&n); err != nil {
		return fmt.Errorf("sqlitestore: init: %w", err)
	}
	if n > 0 {
		return store.ErrExists
	}
	_, err := t.tx.ExecContext(t.ctx, `INSERT INTO identity (id, device_id, origin, producer, initials, created) VALUES (1, ?, ?, ?, ?, ?)`,
		id.DeviceID, id.Origin, id.Producer, id.Initials, id.Created.UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("sqlitestore: init: %w", err)
	}
	return nil
}

func (t *txn) Identity() (store.Identity, error) { return readIdentity(t.ctx, t.tx) }
func (t *txn) TreeSize() uint64                  { return t.tree.Size() }
func (t *txn) Root() chain.Hash                  { return t.tree.Root() }

func (t *txn) Head(chainID string) (store.ChainHead, bool, error) {
	for _, m := range []map[string]store.ChainHead{t.pending, t.heads, t.s.heads} {
		if h, ok := m[chainID]; ok {
			return h, true, nil
		}
	}
	var h store.ChainHead
	var idx, seq int64
	var hh []byte
	err := t.queryRow(t.s.stmts.head, chainID).Scan(&idx, &hh, &seq)
	if errors.Is(err, sql.ErrNoRows) {
		return h, false, nil
	}
	if err != nil {
		return h, false, fmt.Errorf("sqlitestore: chain head %s: %w", chainID, err)
	}
	h.Index, h.Seq = uint64(idx), uint64(seq)
	copy(h.Hash[:], hh)
	return h, true, nil
}

func (t *txn) Exhibit(id string) (store.Exhibit, error) {
	return getExhibit(t.ctx, t.tx, `f.chain = ? AND f.seq = 1`, id)
}

func (t *txn) ExhibitByRef(ref string) (store.Exhibit, error) {
	return exhibitByRef(t.ctx, t.tx, ref)
}

func (t *txn) NextRefNumber(initials string) (uint64, error) {
	var n int64
	if err := t.queryRow(t.s.stmts.nextRef, initials).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlitestore: next reference: %w", err)
	}
	return uint64(n), nil
}

func (t *txn) Append(recs ...*chain.Record) (uint64, error) {
	first := t.tree.Size()
	if len(recs) == 0 {
		return first, nil
	}
	// Check the links. A chain's first record needs no lookup: the unique
	// (chain, seq) index refuses a second one (insertRecord).
	heads, err := store.Link(first, recs, t.Head)
	if err != nil {
		return 0, err
	}
	hashes := make([]chain.Hash, len(recs))
	for i, r := range recs {
		hashes[i] = r.Hash
	}
	next := t.tree.Clone()
	nodes, err := next.Append(hashes...)
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: append: %w", err)
	}
	// Append is all or nothing even if the caller goes on after an error.
	if _, err := t.exec(t.s.stmts.savepointA); err != nil {
		return 0, fmt.Errorf("sqlitestore: append: %w", err)
	}
	undo := func(err error) (uint64, error) {
		if _, rerr := t.exec(t.s.stmts.rollbackToA); rerr != nil {
			return 0, errors.Join(err, rerr)
		}
		t.exec(t.s.stmts.releaseA)
		return 0, err
	}
	if err := t.insertAll(int64(first), recs, nodes); err != nil {
		// Find which row failed, and why, one row at a time.
		if _, rerr := t.exec(t.s.stmts.rollbackToA); rerr != nil {
			return undo(errors.Join(err, rerr))
		}
		for i, r := range recs {
			if err := t.insertRecord(int64(first)+int64(i), r); err != nil {
				return undo(err)
			}
		}
		return undo(fmt.Errorf("sqlitestore: append: %w", err))
	}
	if _, err := t.exec(t.s.stmts.releaseA); err != nil {
		return undo(fmt.Errorf("sqlitestore: append: %w", err))
	}
	t.tree = next
	for c, h := range heads {
		t.pending[c] = h
	}
	return first, nil
}

// insertAll inserts records from log index first, and the tree's new
// interior nodes, rowsPerInsert rows per statement where it can.
func (t *txn) insertAll(first int64, recs []*chain.Record, nodes []tlog.StoredHash) error {
	args := make([]any, 0, rowsPerInsert*8)
	i := 0
	for ; i+rowsPerInsert <= len(recs); i += rowsPerInsert {
		args = args[:0]
		for j, r := range recs[i : i+rowsPerInsert] {
			args, _ = appendRecordArgs(args, first+int64(i+j), r)
		}
		if _, err := t.exec(t.s.stmts.insertRecords, args...); err != nil {
			return err
		}
	}
	for ; i < len(recs); i++ {
		if err := t.insertRecord(first+int64(i), recs[i]); err != nil {
			return err
		}
	}
	var interior []tlog.StoredHash
	for _, n := range nodes {
		if level, _ := xtlog.SplitStoredHashIndex(n.Index); level > 0 {
			interior = append(interior, n) // leaves are derived from records.hash
		}
	}
	j := 0
	for ; j+rowsPerInsert <= len(interior); j += rowsPerInsert {
		args = args[:0]
		for _, n := range interior[j : j+rowsPerInsert] {
			args = append(args, n.Index, n.Hash[:])
		}
		if _, err := t.exec(t.s.stmts.insertNodes, args...); err != nil {
			return err
		}
	}
	for _, n := range interior[j:] {
		if _, err := t.exec(t.s.stmts.insertNode, n.Index, n.Hash[:]); err != nil {
			return fmt.Errorf("sqlitestore: append tree node %d: %w", n.Index, err)
		}
	}
	return nil
}

// appendRecordArgs appends the eight column values of a record row.
func appendRecordArgs(args []any, idx int64, r *chain.Record) ([]any, error) {
	p := &r.Statement.Predicate
	if p.Seq == 1 && p.Exhibit != nil {
		ini, num, err := chain.ParseRef(p.Exhibit.Ref)
		if err != nil {
			return args, fmt.Errorf("sqlitestore: record %s: %w", r.Hash, err)
		}
		return append(args, idx, r.Hash[:], p.Chain, int64(p.Seq), r.Envelope, ini, int64(num), p.Exhibit.Case), nil
	}
	return append(args, idx, r.Hash[:], p.Chain, int64(p.Seq), r.Envelope, nil, nil, nil), nil
}

// insertRecord inserts one record, with its exhibit's index columns if it
// is an exhibit's first record, and maps constraint failures to the
// store's errors.
func (t *txn) insertRecord(idx int64, r *chain.Record) error {
	p := &r.Statement.Predicate
	args, err := appendRecordArgs(nil, idx, r)
	if err != nil {
		return err
	}
	if _, err = t.exec(t.s.stmts.insertRecord, args...); err == nil {
		return nil
	}
	var se sqlite3.Error
	if errors.As(err, &se) && se.Code == sqlite3.ErrConstraint {
		msg := se.Error()
		switch {
		case strings.Contains(msg, "records.chain"):
			var existing []byte
			if t.tx.QueryRowContext(t.ctx, `SELECT hash FROM records WHERE chain = ? AND seq = ?`, p.Chain, int64(p.Seq)).Scan(&existing) == nil &&
				string(existing) == string(r.Hash[:]) {
				return fmt.Errorf("%w: %s", store.ErrDuplicate, r.Hash)
			}
			return fmt.Errorf("%w: chain %s already has a record #%d", store.ErrBrokenChain, p.Chain, p.Seq)
		case strings.Contains(msg, "records.ex_initials"):
			return fmt.Errorf("%w: exhibit reference %s is already in use", store.ErrBrokenChain, p.Exhibit.Ref)
		}
	}
	return fmt.Errorf("sqlitestore: append record %s: %w", r.Hash, err)
}

func (t *txn) PutInlineBlob(h chain.Hash, b []byte) error {
	if err := store.CheckInlineBlob(h, b); err != nil {
		return fmt.Errorf("sqlitestore: %w", err)
	}
	if _, err := t.exec(t.s.stmts.putBlob, h[:], b); err != nil {
		return fmt.Errorf("sqlitestore: inline blob %s: %w", h, err)
	}
	return nil
}

func (t *txn) Claim(key string, index uint64) (uint64, error) {
	if err := store.CheckClaim(key, index, t.tree.Size()); err != nil {
		return 0, fmt.Errorf("sqlitestore: %w", err)
	}
	var held int64
	switch err := t.queryRow(t.s.stmts.claimed, key).Scan(&held); {
	case err == nil:
		return uint64(held), fmt.Errorf("%w: %q is held by the record at log index %d", store.ErrClaimed, key, held)
	case !errors.Is(err, sql.ErrNoRows):
		return 0, fmt.Errorf("sqlitestore: claim: %w", err)
	}
	if _, err := t.exec(t.s.stmts.claim, key, int64(index)); err != nil {
		return 0, fmt.Errorf("sqlitestore: claim: %w", err)
	}
	return index, nil
}

func (t *txn) AddCheckpoint(c store.Checkpoint) error {
	var prev []byte
	err := t.queryRow(t.s.stmts.checkpointSize, int64(c.Size)).Scan(&prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlitestore: checkpoint: %w", err)
	}
	isNew, err := store.CheckCheckpoint(c, t.tree.Size(), prev, err == nil)
	if err != nil {
		return fmt.Errorf("sqlitestore: %w", err)
	}
	if !isNew {
		return nil
	}
	if _, err := t.exec(t.s.stmts.addCheckpoint, int64(c.Size), c.Note, c.Issued.UTC().Format(time.RFC3339Nano)); err != nil {
		return fmt.Errorf("sqlitestore: checkpoint: %w", err)
	}
	return nil
}
