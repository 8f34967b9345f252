// Package sqlitestore is the embedded storage engine: one SQLite database
// (github.com/mattn/go-sqlite3) in WAL mode with synchronous=FULL, so a
// committed transaction survives a crash or power cut.
//
// Tables (see schema below): records (the log: exact envelopes by log
// index), exhibits (an index derived from first records), tree (Merkle nodes
// by chain/tlog storage index), checkpoints, identity. Writes go through one
// connection and a committer goroutine that runs concurrent Updates in a
// single transaction, each inside its own SAVEPOINT (group commit: one fsync
// for many updates, each succeeding or failing alone). Reads use a separate
// pool of read-only connections.
//
// Several processes may open the same database: a write transaction starts
// with BEGIN IMMEDIATE and reloads the in-memory tree frontier if another
// process has appended since.
package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

const schema = `
CREATE TABLE IF NOT EXISTS identity (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	device_id TEXT NOT NULL,
	origin TEXT NOT NULL,
	producer TEXT NOT NULL,
	initials TEXT NOT NULL,
	created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
	idx INTEGER PRIMARY KEY,
	hash BLOB NOT NULL UNIQUE,
	chain TEXT NOT NULL,
	seq INTEGER NOT NULL,
	envelope BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS records_chain ON records (chain, seq);
CREATE TABLE IF NOT EXISTS exhibits (
	id TEXT PRIMARY KEY,
	ref TEXT NOT NULL UNIQUE,
	initials TEXT NOT NULL,
	num INTEGER NOT NULL,
	case_ref TEXT NOT NULL,
	info TEXT NOT NULL,
	blobs TEXT NOT NULL,
	created TEXT NOT NULL,
	first_idx INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS exhibits_num ON exhibits (initials, num);
CREATE INDEX IF NOT EXISTS exhibits_case ON exhibits (case_ref, initials, num);
CREATE TABLE IF NOT EXISTS tree (
	idx INTEGER PRIMARY KEY,
	hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
	size INTEGER PRIMARY KEY,
	note BLOB NOT NULL,
	issued TEXT NOT NULL
);
`

// Store is a SQLite storage engine.
type Store struct {
	w, r *sql.DB
	reqs chan *request
	quit chan struct{}
	done chan struct{}

	mu   sync.Mutex // guards tree and closed
	tree *tlog.Tree // committed frontier; touched only by the committer
	id   *store.Identity
}

var _ store.Store = (*Store)(nil)

// maxBatch bounds how many concurrent Updates share one transaction.
const maxBatch = 256

// Open opens or creates the database at path.
func Open(ctx context.Context, path string) (*Store, error) {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL")
	q.Set("_busy_timeout", "30000")
	q.Set("_foreign_keys", "on")
	q.Set("_txlock", "immediate")
	w, err := sql.Open("sqlite3", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	if _, err := w.ExecContext(ctx, schema); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: schema: %w", path, err)
	}
	rq := url.Values{}
	rq.Set("_busy_timeout", "30000")
	rq.Set("_query_only", "1")
	r, err := sql.Open("sqlite3", "file:"+path+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	s := &Store{w: w, r: r, reqs: make(chan *request), quit: make(chan struct{}), done: make(chan struct{}), tree: tlog.New()}
	go s.committer()
	return s, nil
}

// Close stops the committer and closes the database.
func (s *Store) Close() error {
	select {
	case <-s.quit:
		return nil
	default:
	}
	close(s.quit)
	<-s.done
	return errors.Join(s.w.Close(), s.r.Close())
}

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// ---- Init and identity ----

func readIdentity(ctx context.Context, q querier) (store.Identity, error) {
	var id store.Identity
	var created string
	err := q.QueryRowContext(ctx, `SELECT device_id, origin, producer, initials, created FROM identity WHERE id = 1`).
		Scan(&id.DeviceID, &id.Origin, &id.Producer, &id.Initials, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return id, store.ErrNotInit
	}
	if err != nil {
		return id, fmt.Errorf("sqlitestore: identity: %w", err)
	}
	id.Created, err = time.Parse(time.RFC3339Nano, created)
	return id, err
}

// Identity returns the store's identity.
func (s *Store) Identity(ctx context.Context) (store.Identity, error) {
	s.mu.Lock()
	cached := s.id
	s.mu.Unlock()
	if cached != nil {
		return *cached, nil
	}
	id, err := readIdentity(ctx, s.r)
	if err != nil {
		return id, err
	}
	s.mu.Lock()
	s.id = &id
	s.mu.Unlock()
	return id, nil
}

// ---- reads ----

func treeSize(ctx context.Context, q querier) (uint64, error) {
	var n int64
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(idx) + 1, 0) FROM records`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlitestore: tree size: %w", err)
	}
	return uint64(n), nil
}

// TreeSize returns the number of records in the log.
func (s *Store) TreeSize(ctx context.Context) (uint64, error) { return treeSize(ctx, s.r) }

func scanRecord(row interface{ Scan(...any) error }) (store.StoredRecord, error) {
	var r store.StoredRecord
	var idx int64
	var h []byte
	if err := row.Scan(&idx, &h, &r.Envelope); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return r, store.ErrNotFound
		}
		return r, fmt.Errorf("sqlitestore: record: %w", err)
	}
	if len(h) != chain.HashSize {
		return r, fmt.Errorf("sqlitestore: record %d: stored hash has %d bytes", idx, len(h))
	}
	r.Index = uint64(idx)
	copy(r.Hash[:], h)
	return r, nil
}

// Record returns the record at a log index.
func (s *Store) Record(ctx context.Context, index uint64) (store.StoredRecord, error) {
	return scanRecord(s.r.QueryRowContext(ctx, `SELECT idx, hash, envelope FROM records WHERE idx = ?`, int64(index)))
}

// RecordByHash returns the record with hash h.
func (s *Store) RecordByHash(ctx context.Context, h chain.Hash) (store.StoredRecord, error) {
	return scanRecord(s.r.QueryRowContext(ctx, `SELECT idx, hash, envelope FROM records WHERE hash = ?`, h[:]))
}

// Records calls fn for records with index in [from, to), in log order.
func (s *Store) Records(ctx context.Context, from, to uint64, fn func(store.StoredRecord) error) error {
	const page = 1024
	for from < to {
		end := min(to, from+page)
		rows, err := s.r.QueryContext(ctx, `SELECT idx, hash, envelope FROM records WHERE idx >= ? AND idx < ? ORDER BY idx`, int64(from), int64(end))
		if err != nil {
			return fmt.Errorf("sqlitestore: records: %w", err)
		}
		var got []store.StoredRecord
		for rows.Next() {
			r, err := scanRecord(rows)
			if err != nil {
				rows.Close()
				return err
			}
			got = append(got, r)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fmt.Errorf("sqlitestore: records: %w", err)
		}
		for _, r := range got {
			if r.Index != from {
				return fmt.Errorf("sqlitestore: records: log index %d is missing", from)
			}
			if err := fn(r); err != nil {
				return err
			}
			from++
		}
		if len(got) == 0 {
			return fmt.Errorf("sqlitestore: records: log index %d is missing", from)
		}
	}
	return nil
}

// ChainRecords returns a chain's records in order.
func (s *Store) ChainRecords(ctx context.Context, chainID string) ([]store.StoredRecord, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT idx, hash, envelope FROM records WHERE chain = ? ORDER BY seq`, chainID)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: chain %s: %w", chainID, err)
	}
	defer rows.Close()
	var out []store.StoredRecord
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

const exhibitCols = `e.id, e.info, e.blobs, e.created, e.first_idx,
	(SELECT r.idx FROM records r WHERE r.chain = e.id ORDER BY r.seq DESC LIMIT 1),
	(SELECT r.hash FROM records r WHERE r.chain = e.id ORDER BY r.seq DESC LIMIT 1),
	(SELECT r.seq FROM records r WHERE r.chain = e.id ORDER BY r.seq DESC LIMIT 1)`

func scanExhibit(row interface{ Scan(...any) error }) (store.Exhibit, error) {
	var e store.Exhibit
	var id, info, blobs, created string
	var first, head, seq int64
	var hh []byte
	if err := row.Scan(&id, &info, &blobs, &created, &first, &head, &hh, &seq); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return e, store.ErrNotFound
		}
		return e, fmt.Errorf("sqlitestore: exhibit: %w", err)
	}
	if err := json.Unmarshal([]byte(info), &e.ExhibitInfo); err != nil {
		return e, fmt.Errorf("sqlitestore: exhibit %s: %w", id, err)
	}
	if err := json.Unmarshal([]byte(blobs), &e.Blobs); err != nil {
		return e, fmt.Errorf("sqlitestore: exhibit %s: %w", id, err)
	}
	var err error
	if e.Created, err = time.Parse(time.RFC3339Nano, created); err != nil {
		return e, fmt.Errorf("sqlitestore: exhibit %s: %w", id, err)
	}
	e.FirstIndex, e.HeadIndex, e.Seq = uint64(first), uint64(head), uint64(seq)
	copy(e.Head[:], hh)
	return e, nil
}

func getExhibit(ctx context.Context, q querier, where string, arg any) (store.Exhibit, error) {
	return scanExhibit(q.QueryRowContext(ctx, `SELECT `+exhibitCols+` FROM exhibits e WHERE `+where, arg))
}

// Exhibit returns an exhibit by id.
func (s *Store) Exhibit(ctx context.Context, id string) (store.Exhibit, error) {
	return getExhibit(ctx, s.r, `e.id = ?`, id)
}

// ExhibitByRef returns an exhibit by reference.
func (s *Store) ExhibitByRef(ctx context.Context, ref string) (store.Exhibit, error) {
	return getExhibit(ctx, s.r, `e.ref = ?`, ref)
}

// Exhibits lists a case's exhibits in reference order.
func (s *Store) Exhibits(ctx context.Context, caseRef string) ([]store.Exhibit, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+exhibitCols+` FROM exhibits e WHERE e.case_ref = ? ORDER BY e.initials, e.num`, caseRef)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: exhibits: %w", err)
	}
	defer rows.Close()
	var out []store.Exhibit
	for rows.Next() {
		e, err := scanExhibit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func readHashes(ctx context.Context, q querier, indexes []int64) ([]chain.Hash, error) {
	out := make([]chain.Hash, len(indexes))
	if len(indexes) == 0 {
		return out, nil
	}
	want := make(map[int64][]int, len(indexes))
	args := make([]any, 0, len(indexes))
	for i, x := range indexes {
		if _, dup := want[x]; !dup {
			args = append(args, x)
		}
		want[x] = append(want[x], i)
	}
	const chunk = 500
	found := 0
	for lo := 0; lo < len(args); lo += chunk {
		part := args[lo:min(len(args), lo+chunk)]
		qs := `SELECT idx, hash FROM tree WHERE idx IN (?` + strings.Repeat(",?", len(part)-1) + `)`
		rows, err := q.QueryContext(ctx, qs, part...)
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: tree: %w", err)
		}
		for rows.Next() {
			var idx int64
			var h []byte
			if err := rows.Scan(&idx, &h); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlitestore: tree: %w", err)
			}
			if len(h) != chain.HashSize {
				rows.Close()
				return nil, fmt.Errorf("sqlitestore: tree node %d has %d bytes", idx, len(h))
			}
			for _, i := range want[idx] {
				copy(out[i][:], h)
			}
			found++
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, fmt.Errorf("sqlitestore: tree: %w", err)
		}
	}
	if found != len(args) {
		return nil, fmt.Errorf("sqlitestore: tree: %d of %d requested nodes: %w (%w)", len(args)-found, len(args), tlog.ErrMissingNode, store.ErrNotFound)
	}
	return out, nil
}

// ReadHashes returns stored tree nodes by storage index.
func (s *Store) ReadHashes(ctx context.Context, indexes []int64) ([]chain.Hash, error) {
	return readHashes(ctx, s.r, indexes)
}

func scanCheckpoints(rows *sql.Rows) ([]store.Checkpoint, error) {
	defer rows.Close()
	var out []store.Checkpoint
	for rows.Next() {
		var c store.Checkpoint
		var size int64
		var issued string
		if err := rows.Scan(&size, &c.Note, &issued); err != nil {
			return nil, fmt.Errorf("sqlitestore: checkpoints: %w", err)
		}
		c.Size = uint64(size)
		var err error
		if c.Issued, err = time.Parse(time.RFC3339Nano, issued); err != nil {
			return nil, fmt.Errorf("sqlitestore: checkpoint %d: %w", size, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Checkpoints returns every checkpoint issued, by size.
func (s *Store) Checkpoints(ctx context.Context) ([]store.Checkpoint, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT size, note, issued FROM checkpoints ORDER BY size`)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: checkpoints: %w", err)
	}
	return scanCheckpoints(rows)
}

// LatestCheckpoint returns the largest checkpoint issued.
func (s *Store) LatestCheckpoint(ctx context.Context) (store.Checkpoint, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT size, note, issued FROM checkpoints ORDER BY size DESC LIMIT 1`)
	if err != nil {
		return store.Checkpoint{}, fmt.Errorf("sqlitestore: checkpoints: %w", err)
	}
	cs, err := scanCheckpoints(rows)
	if err != nil {
		return store.Checkpoint{}, err
	}
	if len(cs) == 0 {
		return store.Checkpoint{}, store.ErrNotFound
	}
	return cs[0], nil
}

// ---- writes ----

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
	return <-req.done
}

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

// commit runs a batch of requests in one transaction.
func (s *Store) commit(batch []*request) {
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
	size, err := treeSize(ctx, tx)
	if err == nil && size != s.tree.Size() {
		// Another process appended since we last wrote: reload the frontier.
		var t *tlog.Tree
		t, err = tlog.Load(ctx, tlog.HashReaderFunc(func(ctx context.Context, idx []int64) ([]chain.Hash, error) {
			return readHashes(ctx, tx, idx)
		}), size)
		if err == nil {
			s.tree = t
		}
	}
	if err != nil {
		tx.Rollback()
		fail(fmt.Errorf("sqlitestore: begin: %w", err))
		return
	}
	t := &txn{s: s, tx: tx, tree: s.tree.Clone()}
	ok := 0
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		t.ctx = r.ctx
		if _, err := tx.ExecContext(ctx, `SAVEPOINT u`); err != nil {
			results[i] = fmt.Errorf("sqlitestore: savepoint: %w", err)
			continue
		}
		saved := t.tree.Clone()
		err := r.fn(t)
		if err != nil {
			t.tree = saved
			if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO u; RELEASE u`); rerr != nil {
				// The transaction is in an unknown state: give it up.
				tx.Rollback()
				fail(fmt.Errorf("sqlitestore: rollback to savepoint: %w (after %v)", rerr, err))
				return
			}
			results[i] = err
			continue
		}
		if _, err := tx.ExecContext(ctx, `RELEASE u`); err != nil {
			tx.Rollback()
			fail(fmt.Errorf("sqlitestore: release savepoint: %w", err))
			return
		}
		ok++
	}
	if ok == 0 {
		tx.Rollback()
	} else if err := tx.Commit(); err != nil {
		// Nothing of this batch is committed; the tree stays as it was.
		fail(fmt.Errorf("sqlitestore: commit: %w", err))
		return
	} else {
		s.tree = t.tree
	}
	for i, r := range batch {
		r.done <- results[i]
	}
}

// txn implements store.Tx.
type txn struct {
	s    *Store
	ctx  context.Context
	tx   *sql.Tx
	tree *tlog.Tree
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

func (t *txn) TreeSize() uint64 { return t.tree.Size() }
func (t *txn) Root() chain.Hash { return t.tree.Root() }

func (t *txn) Head(chainID string) (store.ChainHead, bool, error) {
	var h store.ChainHead
	var idx, seq int64
	var hh []byte
	err := t.tx.QueryRowContext(t.ctx, `SELECT idx, hash, seq FROM records WHERE chain = ? ORDER BY seq DESC LIMIT 1`, chainID).Scan(&idx, &hh, &seq)
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
	return getExhibit(t.ctx, t.tx, `e.id = ?`, id)
}

func (t *txn) ExhibitByRef(ref string) (store.Exhibit, error) {
	return getExhibit(t.ctx, t.tx, `e.ref = ?`, ref)
}

func (t *txn) NextRefNumber(initials string) (uint64, error) {
	var n int64
	if err := t.tx.QueryRowContext(t.ctx, `SELECT COALESCE(MAX(num), 0) + 1 FROM exhibits WHERE initials = ?`, initials).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlitestore: next reference: %w", err)
	}
	return uint64(n), nil
}

func (t *txn) Append(recs ...*chain.Record) (uint64, error) {
	first := t.tree.Size()
	if len(recs) == 0 {
		return first, nil
	}
	// Chain heads as this batch extends them.
	heads := map[string]store.ChainHead{}
	hashes := make([]chain.Hash, len(recs))
	for i, r := range recs {
		p := &r.Statement.Predicate
		h, ok := heads[p.Chain]
		if !ok {
			var err error
			var found bool
			h, found, err = t.Head(p.Chain)
			if err != nil {
				return 0, err
			}
			if !found {
				h = store.ChainHead{}
			}
		}
		if p.Seq != h.Seq+1 || p.Prev != h.Hash {
			return 0, fmt.Errorf("%w: %s record %s is #%d of chain %s linking %s, but the chain's head is #%d %s",
				store.ErrBrokenChain, r.Kind, r.Hash, p.Seq, p.Chain, p.Prev, h.Seq, h.Hash)
		}
		idx := first + uint64(i)
		heads[p.Chain] = store.ChainHead{Seq: p.Seq, Hash: r.Hash, Index: idx}
		hashes[i] = r.Hash
	}
	nodes, err := t.tree.Append(hashes...)
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: append: %w", err)
	}
	for i, r := range recs {
		p := &r.Statement.Predicate
		idx := int64(first) + int64(i)
		if _, err := t.tx.ExecContext(t.ctx, `INSERT INTO records (idx, hash, chain, seq, envelope) VALUES (?, ?, ?, ?, ?)`,
			idx, r.Hash[:], p.Chain, int64(p.Seq), r.Envelope); err != nil {
			var se sqlite3.Error
			if errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique && strings.Contains(se.Error(), "records.hash") {
				return 0, fmt.Errorf("%w: %s", store.ErrDuplicate, r.Hash)
			}
			return 0, fmt.Errorf("sqlitestore: append record %s: %w", r.Hash, err)
		}
		if p.Seq == 1 && p.Exhibit != nil {
			if err := t.indexExhibit(r, uint64(idx)); err != nil {
				return 0, err
			}
		}
	}
	for _, n := range nodes {
		if _, err := t.tx.ExecContext(t.ctx, `INSERT INTO tree (idx, hash) VALUES (?, ?)`, n.Index, n.Hash[:]); err != nil {
			return 0, fmt.Errorf("sqlitestore: append tree node %d: %w", n.Index, err)
		}
	}
	return first, nil
}

// indexExhibit adds the exhibit a chain's first record describes.
func (t *txn) indexExhibit(r *chain.Record, idx uint64) error {
	p := &r.Statement.Predicate
	ini, num, err := chain.ParseRef(p.Exhibit.Ref)
	if err != nil {
		return fmt.Errorf("sqlitestore: record %s: %w", r.Hash, err)
	}
	info, err := json.Marshal(p.Exhibit)
	if err != nil {
		return err
	}
	blobs := make([]store.BlobRef, 0, len(r.Statement.Subject))
	for _, sub := range r.Statement.Subject {
		h, err := sub.SHA256()
		if err != nil {
			return fmt.Errorf("sqlitestore: record %s: %w", r.Hash, err)
		}
		blobs = append(blobs, store.BlobRef{Name: sub.Name, Hash: h})
	}
	bj, err := json.Marshal(blobs)
	if err != nil {
		return err
	}
	_, err = t.tx.ExecContext(t.ctx, `INSERT INTO exhibits (id, ref, initials, num, case_ref, info, blobs, created, first_idx) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.Exhibit.ID, p.Exhibit.Ref, ini, int64(num), p.Exhibit.Case, string(info), string(bj), p.Time.UTC().Format(time.RFC3339Nano), int64(idx))
	if err != nil {
		var se sqlite3.Error
		if errors.As(err, &se) && se.Code == sqlite3.ErrConstraint {
			return fmt.Errorf("%w: exhibit %s (%s) already exists", store.ErrBrokenChain, p.Exhibit.ID, p.Exhibit.Ref)
		}
		return fmt.Errorf("sqlitestore: index exhibit %s: %w", p.Exhibit.Ref, err)
	}
	return nil
}

func (t *txn) AddCheckpoint(c store.Checkpoint) error {
	if c.Size > t.tree.Size() {
		return fmt.Errorf("sqlitestore: checkpoint of size %d is beyond the log's %d records", c.Size, t.tree.Size())
	}
	var old []byte
	err := t.tx.QueryRowContext(t.ctx, `SELECT note FROM checkpoints WHERE size = ?`, int64(c.Size)).Scan(&old)
	switch {
	case err == nil:
		if string(old) == string(c.Note) {
			return nil
		}
		return fmt.Errorf("sqlitestore: a different checkpoint of size %d was already issued", c.Size)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("sqlitestore: checkpoint: %w", err)
	}
	_, err = t.tx.ExecContext(t.ctx, `INSERT INTO checkpoints (size, note, issued) VALUES (?, ?, ?)`,
		int64(c.Size), c.Note, c.Issued.UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("sqlitestore: checkpoint: %w", err)
	}
	return nil
}
