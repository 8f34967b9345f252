package tesserabench

// An ablation of Exhibit's SQLite append path, to show which changes to
// chain/store/sqlitestore would buy how much. RunAblation writes the same
// rows as the store (same schema, same records/exhibits/tree rows, the same
// group commit with one SAVEPOINT per Update, WAL + synchronous=FULL) but
// can switch on, one at a time, changes the store does not (yet) make. With
// every switch off it should run at about the store's own rate: compare it
// with RunExhibit in the same run before trusting the other rows.
//
// It is an experiment for this benchmark, not a storage engine: it keeps no
// identity, serves no reads, and maps no constraint errors to store errors.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	sumdbtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

// Variant selects the changes RunAblation makes to the store's append path.
type Variant struct {
	// PlainCtx runs statements with a context that cannot be cancelled
	// (context.WithoutCancel). With a cancellable one, database/sql starts
	// a goroutine per query and go-sqlite3 one per statement to watch it.
	PlainCtx bool
	// Prepared prepares each statement once per transaction instead of
	// letting every ExecContext/QueryRowContext call sqlite3_prepare_v2.
	Prepared bool
	// SkipNewHead skips the chain-head SELECT for a record with seq 1: the
	// UNIQUE (chain, seq) index already refuses a second first record.
	SkipNewHead bool
	// MultiRow inserts each Append's records, exhibits and tree nodes with
	// one multi-row INSERT per table (in pieces of at most multiRowMax rows)
	// instead of one statement per row.
	MultiRow bool
	// BackgroundCheckpoint turns off SQLite's automatic WAL checkpoint,
	// which otherwise runs inside the COMMIT that crosses 1000 WAL pages
	// (copying pages into the database file and fsyncing it on the commit
	// path), and instead runs PRAGMA wal_checkpoint(PASSIVE) from another
	// connection whenever a commit has grown the WAL by 1000+ pages. Its
	// cost stays inside the measured time, but off the committer.
	BackgroundCheckpoint bool
	// LeanExhibits keys the exhibits table by id WITHOUT ROWID (one B-tree
	// instead of a rowid table plus the id index) and drops the UNIQUE
	// index on ref, which (initials, num) already makes unique: a reference
	// is INITIALS/NUMBER with no leading zeros, so it is a function of the
	// pair and the pair of it.
	LeanExhibits bool
	// NoLeafNodes does not store level-0 tree nodes: a leaf hash is
	// SHA-256(0x00 || record hash), derivable from records.hash, so a
	// reader could compute it instead (that reader is not written here).
	NoLeafNodes bool
}

func (v Variant) String() string {
	var on []string
	for _, f := range []struct {
		set  bool
		name string
	}{{v.PlainCtx, "plainctx"}, {v.Prepared, "prepared"}, {v.SkipNewHead, "skiphead"}, {v.MultiRow, "multirow"},
		{v.BackgroundCheckpoint, "bgckpt"}, {v.LeanExhibits, "leanexhibits"}, {v.NoLeafNodes, "noleaves"}} {
		if f.set {
			on = append(on, f.name)
		}
	}
	if len(on) == 0 {
		return "as-store"
	}
	return strings.Join(on, "+")
}

// AblationLadder is the cumulative sequence of variants measured.
var AblationLadder = []Variant{
	{},
	{PlainCtx: true},
	{PlainCtx: true, Prepared: true},
	{PlainCtx: true, Prepared: true, SkipNewHead: true},
	{PlainCtx: true, Prepared: true, SkipNewHead: true, MultiRow: true},
	{PlainCtx: true, Prepared: true, SkipNewHead: true, MultiRow: true, BackgroundCheckpoint: true},
	{PlainCtx: true, Prepared: true, SkipNewHead: true, MultiRow: true, BackgroundCheckpoint: true, LeanExhibits: true},
	{PlainCtx: true, Prepared: true, SkipNewHead: true, MultiRow: true, BackgroundCheckpoint: true, LeanExhibits: true, NoLeafNodes: true},
}

// ablationSchema is chain/store/sqlitestore's schema for the tables an
// append writes.
const ablationSchema = `
CREATE TABLE records (
	idx INTEGER PRIMARY KEY,
	hash BLOB NOT NULL UNIQUE,
	chain TEXT NOT NULL,
	seq INTEGER NOT NULL,
	envelope BLOB NOT NULL
);
CREATE UNIQUE INDEX records_chain ON records (chain, seq);
CREATE TABLE exhibits (
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
CREATE UNIQUE INDEX exhibits_num ON exhibits (initials, num);
CREATE INDEX exhibits_case ON exhibits (case_ref, initials, num);
CREATE TABLE tree (
	idx INTEGER PRIMARY KEY,
	hash BLOB NOT NULL
);
`

// leanExhibits replaces the exhibits table for Variant.LeanExhibits.
const leanExhibits = `
DROP TABLE exhibits;
CREATE TABLE exhibits (
	id TEXT PRIMARY KEY,
	ref TEXT NOT NULL,
	initials TEXT NOT NULL,
	num INTEGER NOT NULL,
	case_ref TEXT NOT NULL,
	info TEXT NOT NULL,
	blobs TEXT NOT NULL,
	created TEXT NOT NULL,
	first_idx INTEGER NOT NULL
) WITHOUT ROWID;
CREATE UNIQUE INDEX exhibits_num ON exhibits (initials, num);
CREATE INDEX exhibits_case ON exhibits (case_ref, initials, num);
`

const (
	insRecord  = `INSERT INTO records (idx, hash, chain, seq, envelope) VALUES `
	insExhibit = `INSERT INTO exhibits (id, ref, initials, num, case_ref, info, blobs, created, first_idx) VALUES `
	insTree    = `INSERT INTO tree (idx, hash) VALUES `
	selHead    = `SELECT idx, hash, seq FROM records WHERE chain = ? ORDER BY seq DESC LIMIT 1`
	// multiRowMax bounds the rows of one multi-row INSERT (9 columns x 64
	// rows stays far below SQLite's variable limit).
	multiRowMax = 64
)

func values(cols, rows int) string {
	one := "(?" + strings.Repeat(",?", cols-1) + ")"
	return strings.Repeat(one+",", rows-1) + one
}

type ablationReq struct {
	recs []*chain.Record
	done chan error
}

// RunAblation appends recs under load to a new database at path with the
// store's append path changed as v says, and returns the time until every
// append has committed.
func RunAblation(ctx context.Context, path string, recs []*chain.Record, load Load, v Variant) (Result, error) {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL")
	q.Set("_busy_timeout", "30000")
	q.Set("_foreign_keys", "on")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite3", "file:"+path+"?"+q.Encode())
	if err != nil {
		return Result{}, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, ablationSchema); err != nil {
		return Result{}, fmt.Errorf("ablation: schema: %w", err)
	}
	if v.LeanExhibits {
		if _, err := db.ExecContext(ctx, leanExhibits); err != nil {
			return Result{}, fmt.Errorf("ablation: schema: %w", err)
		}
	}
	a := &ablation{db: db, v: v, tree: tlog.New()}
	if v.BackgroundCheckpoint {
		if _, err := db.ExecContext(ctx, "PRAGMA wal_autocheckpoint = 0"); err != nil {
			return Result{}, err
		}
		cdb, err := sql.Open("sqlite3", "file:"+path+"?"+q.Encode())
		if err != nil {
			return Result{}, err
		}
		defer cdb.Close()
		cdb.SetMaxOpenConns(1)
		a.kick = make(chan struct{}, 1)
		ckptDone := make(chan error, 1)
		go func() {
			var err error
			for range a.kick {
				if err == nil {
					_, err = cdb.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
				}
			}
			ckptDone <- err
		}()
		defer func() {
			close(a.kick)
			if err := <-ckptDone; err != nil {
				panic(fmt.Sprintf("ablation: background checkpoint: %v", err))
			}
		}()
	}
	reqs := make(chan *ablationReq)
	stopped := make(chan struct{})
	go func() { // the store's committer: up to 256 queued Updates per transaction
		defer close(stopped)
		for r := range reqs {
			batch := []*ablationReq{r}
		more:
			for len(batch) < 256 {
				select {
				case r, ok := <-reqs:
					if !ok {
						break more
					}
					batch = append(batch, r)
				default:
					break more
				}
			}
			a.commit(batch)
		}
	}()
	elapsed, err := fanOut(ctx, len(recs), load, func(ctx context.Context, lo, hi int) error {
		r := &ablationReq{recs: recs[lo:hi], done: make(chan error, 1)}
		reqs <- r
		return <-r.done
	})
	close(reqs)
	<-stopped
	if err != nil {
		return Result{}, fmt.Errorf("ablation %v: %w", v, err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM records`).Scan(&n); err != nil {
		return Result{}, err
	}
	if n != len(recs) || a.tree.Size() != uint64(len(recs)) {
		return Result{}, fmt.Errorf("ablation %v: %d rows, tree size %d after appending %d", v, n, a.tree.Size(), len(recs))
	}
	return Result{Entries: len(recs), Elapsed: elapsed}, db.Close()
}

type ablation struct {
	db   *sql.DB
	v    Variant
	tree *tlog.Tree

	kick     chan struct{} // wakes the background checkpointer
	walPages int           // WAL pages written since the last kick
}

// ablationTx is one transaction; stmts caches prepared statements by SQL
// text when Variant.Prepared is set.
type ablationTx struct {
	ctx   context.Context
	tx    *sql.Tx
	v     Variant
	stmts map[string]*sql.Stmt
	tree  *tlog.Tree
}

func (a *ablation) commit(batch []*ablationReq) {
	ctx := context.Background()
	fail := func(err error) {
		for _, r := range batch {
			r.done <- err
		}
	}
	tx, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		fail(err)
		return
	}
	t := &ablationTx{tx: tx, v: a.v, stmts: map[string]*sql.Stmt{}, tree: a.tree.Clone()}
	results := make([]error, len(batch))
	for i, r := range batch {
		// The store runs each Update with its caller's context; fanOut's
		// is cancellable, as a server request's would be.
		rctx, cancel := context.WithCancel(ctx)
		t.ctx = rctx
		if a.v.PlainCtx {
			t.ctx = context.WithoutCancel(rctx)
		}
		if _, err := tx.ExecContext(ctx, `SAVEPOINT u`); err != nil {
			cancel()
			tx.Rollback()
			fail(err)
			return
		}
		saved := t.tree.Clone()
		if results[i] = t.append(r.recs); results[i] != nil {
			t.tree = saved
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO u; RELEASE u`); err != nil {
				cancel()
				tx.Rollback()
				fail(err)
				return
			}
		} else if _, err := tx.ExecContext(ctx, `RELEASE u`); err != nil {
			cancel()
			tx.Rollback()
			fail(err)
			return
		}
		cancel()
	}
	if err := tx.Commit(); err != nil {
		fail(err)
		return
	}
	a.tree = t.tree
	if a.kick != nil {
		// Kick the checkpointer about every 1000 WAL pages, as SQLite's
		// own autocheckpoint would, judging pages by records: with four
		// Updates of 256 records per commit, a record costs about 0.6 WAL
		// pages (measured: 20.6 MB of WAL for 8192 records).
		for _, r := range batch {
			a.walPages += len(r.recs) * 3 / 5
		}
		if a.walPages >= 1000 {
			a.walPages = 0
			select {
			case a.kick <- struct{}{}:
			default:
			}
		}
	}
	for i, r := range batch {
		r.done <- results[i]
	}
}

func (t *ablationTx) exec(query string, args ...any) error {
	if !t.v.Prepared {
		_, err := t.tx.ExecContext(t.ctx, query, args...)
		return err
	}
	st, err := t.stmt(query)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(t.ctx, args...)
	return err
}

func (t *ablationTx) stmt(query string) (*sql.Stmt, error) {
	if st, ok := t.stmts[query]; ok {
		return st, nil
	}
	st, err := t.tx.PrepareContext(t.ctx, query)
	if err != nil {
		return nil, err
	}
	t.stmts[query] = st
	return st, nil
}

func (t *ablationTx) head(chainID string) (store.ChainHead, bool, error) {
	var row *sql.Row
	if t.v.Prepared {
		st, err := t.stmt(selHead)
		if err != nil {
			return store.ChainHead{}, false, err
		}
		row = st.QueryRowContext(t.ctx, chainID)
	} else {
		row = t.tx.QueryRowContext(t.ctx, selHead, chainID)
	}
	var h store.ChainHead
	var idx, seq int64
	var hh []byte
	err := row.Scan(&idx, &hh, &seq)
	if errors.Is(err, sql.ErrNoRows) {
		return h, false, nil
	}
	if err != nil {
		return h, false, err
	}
	h.Index, h.Seq = uint64(idx), uint64(seq)
	copy(h.Hash[:], hh)
	return h, true, nil
}

// rowWriter inserts rows of one table, one statement per row or several
// rows per statement.
type rowWriter struct {
	t      *ablationTx
	prefix string
	one    string // the single-row statement
	cols   int
	args   []any
}

func newRowWriter(t *ablationTx, prefix string, cols int) *rowWriter {
	return &rowWriter{t: t, prefix: prefix, one: prefix + values(cols, 1), cols: cols}
}

func (w *rowWriter) add(args ...any) error {
	if !w.t.v.MultiRow {
		return w.t.exec(w.one, args...)
	}
	w.args = append(w.args, args...)
	if len(w.args) == w.cols*multiRowMax {
		return w.flush()
	}
	return nil
}

func (w *rowWriter) flush() error {
	if len(w.args) == 0 {
		return nil
	}
	err := w.t.exec(w.prefix+values(w.cols, len(w.args)/w.cols), w.args...)
	w.args = w.args[:0]
	return err
}

// append does what sqlitestore's txn.Append does, changed as t.v says.
func (t *ablationTx) append(recs []*chain.Record) error {
	first := t.tree.Size()
	heads := map[string]store.ChainHead{}
	hashes := make([]chain.Hash, len(recs))
	for i, r := range recs {
		p := &r.Statement.Predicate
		h, ok := heads[p.Chain]
		if !ok && !(t.v.SkipNewHead && p.Seq == 1) {
			var err error
			if h, _, err = t.head(p.Chain); err != nil {
				return err
			}
		}
		if p.Seq != h.Seq+1 || p.Prev != h.Hash {
			return fmt.Errorf("%w: record %s", store.ErrBrokenChain, r.Hash)
		}
		heads[p.Chain] = store.ChainHead{Seq: p.Seq, Hash: r.Hash, Index: first + uint64(i)}
		hashes[i] = r.Hash
	}
	nodes, err := t.tree.Append(hashes...)
	if err != nil {
		return err
	}
	rw := newRowWriter(t, insRecord, 5)
	ew := newRowWriter(t, insExhibit, 9)
	tw := newRowWriter(t, insTree, 2)
	for i, r := range recs {
		p := &r.Statement.Predicate
		idx := int64(first) + int64(i)
		if err := rw.add(idx, r.Hash[:], p.Chain, int64(p.Seq), r.Envelope); err != nil {
			return err
		}
		if p.Seq == 1 && p.Exhibit != nil {
			args, err := exhibitRow(r, idx)
			if err != nil {
				return err
			}
			if err := ew.add(args...); err != nil {
				return err
			}
		}
	}
	for _, n := range nodes {
		if level, _ := sumdbtlog.SplitStoredHashIndex(n.Index); level == 0 && t.v.NoLeafNodes {
			continue
		}
		if err := tw.add(n.Index, n.Hash[:]); err != nil {
			return err
		}
	}
	return errors.Join(rw.flush(), ew.flush(), tw.flush())
}

// exhibitRow is the exhibits row sqlitestore's indexExhibit writes.
func exhibitRow(r *chain.Record, idx int64) ([]any, error) {
	p := &r.Statement.Predicate
	ini, num, err := chain.ParseRef(p.Exhibit.Ref)
	if err != nil {
		return nil, err
	}
	info, err := json.Marshal(p.Exhibit)
	if err != nil {
		return nil, err
	}
	blobs := make([]store.BlobRef, 0, len(r.Statement.Subject))
	for _, sub := range r.Statement.Subject {
		h, err := sub.SHA256()
		if err != nil {
			return nil, err
		}
		blobs = append(blobs, store.BlobRef{Name: sub.Name, Hash: h})
	}
	bj, err := json.Marshal(blobs)
	if err != nil {
		return nil, err
	}
	return []any{p.Exhibit.ID, p.Exhibit.Ref, ini, int64(num), p.Exhibit.Case, string(info), string(bj),
		p.Time.UTC().Format(time.RFC3339Nano), idx}, nil
}
