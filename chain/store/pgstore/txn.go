package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	xtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

// Update runs fn in one PostgreSQL transaction holding the log head's row
// lock (see the package doc).
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	if s.closed.Load() {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Until the log head is locked, the caller's ctx may end the wait and
	// nothing has happened.
	select {
	case <-s.turn:
		defer func() { s.turn <- struct{}{} }()
	case <-ctx.Done():
		return ctx.Err()
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		if s.closed.Load() {
			return errClosed
		}
		return fmt.Errorf("pgstore: begin: %w", err)
	}
	// From here statements run without cancellation: the outcome of the
	// COMMIT must not be left unknown by a context ending.
	wctx := context.WithoutCancel(ctx)
	// Rolled back however Update ends, a panic or runtime.Goexit in fn
	// too, so the log head is never left locked (after Commit it does
	// nothing).
	defer tx.Rollback(wctx)
	var size int64
	var root []byte
	if err := tx.QueryRow(ctx, `SELECT size, root FROM log_head WHERE id = 1 FOR UPDATE`).Scan(&size, &root); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		return fmt.Errorf("pgstore: lock log head: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err // fn has not run: nothing happened
	}
	tree, err := s.frontier(wctx, tx, uint64(size), root)
	if err != nil {
		return err
	}
	t := &txn{ctx: wctx, tx: tx, tree: tree}
	if err := fn(t); err != nil {
		return err
	}
	if err := tx.Commit(wctx); err != nil {
		return fmt.Errorf("pgstore: commit: %w", err)
	}
	s.mu.Lock()
	if t.tree.Size() >= s.tree.Size() {
		s.tree = t.tree
	}
	s.mu.Unlock()
	return nil
}

// frontier returns the tree at size with the given root: the cached one
// if it is that tree, else loaded from the tree table in tx (another
// writer appended).
func (s *Store) frontier(ctx context.Context, tx pgx.Tx, size uint64, root []byte) (*tlog.Tree, error) {
	s.mu.Lock()
	cached := s.tree
	s.mu.Unlock()
	if cr := cached.Root(); cached.Size() == size && string(cr[:]) == string(root) {
		return cached.Clone(), nil
	}
	tr, err := tlog.Load(ctx, tlog.HashReaderFunc(func(ctx context.Context, idx []int64) ([]chain.Hash, error) {
		return readHashes(ctx, tx, idx)
	}), size)
	if err != nil {
		return nil, fmt.Errorf("pgstore: load tree at %d: %w", size, err)
	}
	if lr := tr.Root(); string(lr[:]) != string(root) {
		return nil, fmt.Errorf("pgstore: the tree's nodes at size %d give root %s, but the log head records %x", size, lr, root)
	}
	return tr, nil
}

// txn implements store.Tx: one Update's transaction.
type txn struct {
	ctx  context.Context
	tx   pgx.Tx
	tree *tlog.Tree
}

func (t *txn) Init(id store.Identity) error {
	tag, err := t.tx.Exec(t.ctx, `INSERT INTO identity (id, device_id, origin, producer, initials, created)
		VALUES (1, $1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`,
		id.DeviceID, id.Origin, id.Producer, id.Initials, id.Created.UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("pgstore: init: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrExists
	}
	return nil
}

func (t *txn) Identity() (store.Identity, error) { return readIdentity(t.ctx, t.tx) }
func (t *txn) TreeSize() uint64                  { return t.tree.Size() }
func (t *txn) Root() chain.Hash                  { return t.tree.Root() }

func (t *txn) Head(chainID string) (store.ChainHead, bool, error) {
	var h store.ChainHead
	var idx, seq int64
	var hh []byte
	err := t.tx.QueryRow(t.ctx, `SELECT idx, hash, seq FROM records WHERE chain = $1 ORDER BY seq DESC LIMIT 1`, chainID).Scan(&idx, &hh, &seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return h, false, nil
	}
	if err != nil {
		return h, false, fmt.Errorf("pgstore: chain head %s: %w", chainID, err)
	}
	h.Index, h.Seq = uint64(idx), uint64(seq)
	copy(h.Hash[:], hh)
	return h, true, nil
}

func (t *txn) Exhibit(id string) (store.Exhibit, error) { return exhibitByID(t.ctx, t.tx, id) }

func (t *txn) ExhibitByRef(ref string) (store.Exhibit, error) { return exhibitByRef(t.ctx, t.tx, ref) }

func (t *txn) NextRefNumber(initials string) (uint64, error) {
	var n int64
	err := t.tx.QueryRow(t.ctx, `SELECT COALESCE(MAX(ex_num), 0) + 1 FROM records WHERE ex_initials = $1 AND ex_num IS NOT NULL`, initials).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("pgstore: next reference: %w", err)
	}
	return uint64(n), nil
}

const (
	insertRecords = `INSERT INTO records (idx, hash, chain, seq, envelope, ex_initials, ex_num, ex_case)
		SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::text[], $4::bigint[], $5::bytea[], $6::text[], $7::bigint[], $8::text[])`
	insertNodes = `INSERT INTO tree (idx, hash) SELECT * FROM unnest($1::bigint[], $2::bytea[])`
)

func (t *txn) Append(recs ...*chain.Record) (uint64, error) {
	first := t.tree.Size()
	if len(recs) == 0 {
		return first, nil
	}
	// Check the links. A chain's first record needs no lookup: the unique
	// (chain, seq) index refuses a second one.
	if _, err := store.Link(first, recs, t.Head); err != nil {
		return 0, err
	}
	hashes := make([]chain.Hash, len(recs))
	for i, r := range recs {
		hashes[i] = r.Hash
	}
	next := t.tree.Clone()
	nodes, err := next.Append(hashes...)
	if err != nil {
		return 0, fmt.Errorf("pgstore: append: %w", err)
	}
	var (
		idx, seq, num        = make([]int64, len(recs)), make([]int64, len(recs)), make([]*int64, len(recs))
		hs, envs             = make([][]byte, len(recs)), make([][]byte, len(recs))
		chains, inis, cases_ = make([]string, len(recs)), make([]*string, len(recs)), make([]*string, len(recs))
	)
	for i, r := range recs {
		p := &r.Statement.Predicate
		idx[i], hs[i], chains[i], seq[i], envs[i] = int64(first)+int64(i), r.Hash[:], p.Chain, int64(p.Seq), r.Envelope
		if p.Seq == 1 && p.Exhibit != nil {
			ini, n, err := chain.ParseRef(p.Exhibit.Ref)
			if err != nil {
				return 0, fmt.Errorf("pgstore: record %s: %w", r.Hash, err)
			}
			n64, c := int64(n), p.Exhibit.Case
			inis[i], num[i], cases_[i] = &ini, &n64, &c
		}
	}
	var nidx []int64
	var nhash [][]byte
	for _, n := range nodes {
		if level, _ := xtlog.SplitStoredHashIndex(n.Index); level > 0 {
			nidx = append(nidx, n.Index) // leaves are derived from records.hash
			nhash = append(nhash, n.Hash[:])
		}
	}
	// One round trip, all or nothing even if the caller goes on after an
	// error: the rows and the new size inside a savepoint.
	b := &pgx.Batch{}
	b.Queue(`SAVEPOINT a`)
	b.Queue(insertRecords, idx, hs, chains, seq, envs, inis, num, cases_)
	if len(nidx) > 0 {
		b.Queue(insertNodes, nidx, nhash)
	}
	nr := next.Root()
	b.Queue(`UPDATE log_head SET size = $1, root = $2 WHERE id = 1`, int64(next.Size()), nr[:])
	b.Queue(`RELEASE SAVEPOINT a`)
	if err := t.tx.SendBatch(t.ctx, b).Close(); err != nil {
		if _, rerr := t.tx.Exec(t.ctx, `ROLLBACK TO SAVEPOINT a; RELEASE SAVEPOINT a`); rerr != nil {
			return 0, fmt.Errorf("pgstore: append: %w (rolling back: %w)", err, rerr)
		}
		return 0, t.explain(recs, err)
	}
	t.tree = next
	return first, nil
}

// explain maps the failure of an Append's insert, already rolled back, to
// the store's errors: a second record at a (chain, seq) is ErrDuplicate if
// it is the same record and ErrBrokenChain if not; a reference in use is
// ErrBrokenChain.
func (t *txn) explain(recs []*chain.Record, err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "23505" { // unique_violation
		return fmt.Errorf("pgstore: append: %w", err)
	}
	switch pe.ConstraintName {
	case "records_chain":
		seen := map[[2]any]bool{}
		for _, r := range recs {
			p := &r.Statement.Predicate
			k := [2]any{p.Chain, p.Seq}
			if seen[k] {
				return fmt.Errorf("%w: chain %s has two records #%d in one append", store.ErrBrokenChain, p.Chain, p.Seq)
			}
			seen[k] = true
			var existing []byte
			qerr := t.tx.QueryRow(t.ctx, `SELECT hash FROM records WHERE chain = $1 AND seq = $2`, p.Chain, int64(p.Seq)).Scan(&existing)
			switch {
			case errors.Is(qerr, pgx.ErrNoRows):
				continue
			case qerr != nil:
				return fmt.Errorf("pgstore: append: %w (finding why: %w)", err, qerr)
			case string(existing) == string(r.Hash[:]):
				return fmt.Errorf("%w: %s", store.ErrDuplicate, r.Hash)
			default:
				return fmt.Errorf("%w: chain %s already has a record #%d", store.ErrBrokenChain, p.Chain, p.Seq)
			}
		}
		return fmt.Errorf("%w: %s", store.ErrBrokenChain, pe.Detail)
	case "records_ref":
		return fmt.Errorf("%w: exhibit reference already in use (%s)", store.ErrBrokenChain, pe.Detail)
	}
	return fmt.Errorf("pgstore: append: %w", err)
}

func (t *txn) PutInlineBlob(h chain.Hash, b []byte) error {
	if err := store.CheckInlineBlob(h, b); err != nil {
		return fmt.Errorf("pgstore: %w", err)
	}
	if b == nil {
		b = []byte{} // NOT NULL: an empty blob is zero bytes
	}
	if _, err := t.tx.Exec(t.ctx, `INSERT INTO blobs (hash, data) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING`, h[:], b); err != nil {
		return fmt.Errorf("pgstore: inline blob %s: %w", h, err)
	}
	return nil
}

func (t *txn) Claim(key string, index uint64) (uint64, error) {
	if err := store.CheckClaim(key, index, t.tree.Size()); err != nil {
		return 0, fmt.Errorf("pgstore: %w", err)
	}
	var held int64
	switch err := t.tx.QueryRow(t.ctx, `SELECT idx FROM claims WHERE key = $1`, []byte(key)).Scan(&held); {
	case err == nil:
		return uint64(held), fmt.Errorf("%w: %q is held by the record at log index %d", store.ErrClaimed, key, held)
	case !errors.Is(err, pgx.ErrNoRows):
		return 0, fmt.Errorf("pgstore: claim: %w", err)
	}
	if _, err := t.tx.Exec(t.ctx, `INSERT INTO claims (key, idx) VALUES ($1, $2)`, []byte(key), int64(index)); err != nil {
		return 0, fmt.Errorf("pgstore: claim: %w", err)
	}
	return index, nil
}

func (t *txn) AddCheckpoint(c store.Checkpoint) error {
	var prev []byte
	err := t.tx.QueryRow(t.ctx, `SELECT note FROM checkpoints WHERE size = $1`, int64(c.Size)).Scan(&prev)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("pgstore: checkpoint: %w", err)
	}
	isNew, err := store.CheckCheckpoint(c, t.tree.Size(), prev, err == nil)
	if err != nil {
		return fmt.Errorf("pgstore: %w", err)
	}
	if !isNew {
		return nil
	}
	note := c.Note
	if note == nil {
		note = []byte{}
	}
	if _, err := t.tx.Exec(t.ctx, `INSERT INTO checkpoints (size, note, issued) VALUES ($1, $2, $3)`,
		int64(c.Size), note, c.Issued.UTC().Format(time.RFC3339Nano)); err != nil {
		return fmt.Errorf("pgstore: checkpoint: %w", err)
	}
	return nil
}
