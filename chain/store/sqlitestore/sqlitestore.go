// Package sqlitestore is the embedded storage engine: one SQLite database
// (github.com/mattn/go-sqlite3) in WAL mode with synchronous=FULL on every
// connection, so a committed transaction survives a crash or power cut.
// (The derived hash index, a second database, runs at synchronous=NORMAL:
// it is rebuilt from the log if lost.) TestDurabilitySettings reads these
// back from each connection of each pool the store opens.
//
// The records table is the log: each record's exact envelope at its log
// index. An exhibit is its chain's first record, so there is no exhibits
// table: partial indexes on the first records' reference and case find
// exhibits, and an exhibit's details are read from its first record. The
// tree table holds the Merkle tree's interior nodes by chain/tlog storage
// index; leaf nodes are not stored, since each is SHA-256(0x00 || record
// hash) of a record in the log.
//
// Finding a record by its hash needs an index over random keys, which would
// make every commit rewrite pages all over that index. So the hash index is
// derived data kept in a second database (PATH-hashes.db), filled by a
// background indexer in large batches off the commit path; a lookup checks
// it and then scans the few records appended since the indexer last ran.
// An exact duplicate is still refused at commit: it would be a second record
// at the same (chain, seq).
//
// Writes go through one connection and a committer goroutine that runs
// concurrent Updates in a single transaction, each inside its own SAVEPOINT
// (group commit: one fsync for many updates, each succeeding or failing
// alone). Statements are prepared once. WAL checkpoints run on their own
// connection, off the commit path. Reads use a pool of read-only
// connections.
//
// Several processes may open the same database: a write transaction starts
// with BEGIN IMMEDIATE and, if another process has appended since, reloads
// the in-memory tree frontier and forgets its cached chain heads.
package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-sqlite3"
	xtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

// schemaVersion is stored in PRAGMA user_version.
const schemaVersion = 1

// hashSchema is the derived hash index: records by the first 8 bytes of
// their hash, and how far into the log it reaches.
const hashSchema = `
CREATE TABLE IF NOT EXISTS hashes (
	hkey INTEGER NOT NULL,
	idx INTEGER NOT NULL,
	PRIMARY KEY (hkey, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS progress (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	upto INTEGER NOT NULL
);
INSERT OR IGNORE INTO progress (id, upto) VALUES (1, 0);
`

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
	hash BLOB NOT NULL,
	chain TEXT NOT NULL,
	seq INTEGER NOT NULL,
	envelope BLOB NOT NULL,
	-- set on an exhibit's first record only:
	ex_initials TEXT,
	ex_num INTEGER,
	ex_case TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS records_chain ON records (chain, seq);
CREATE UNIQUE INDEX IF NOT EXISTS records_ref ON records (ex_initials, ex_num) WHERE ex_num IS NOT NULL;
CREATE INDEX IF NOT EXISTS records_case ON records (ex_case, ex_initials, ex_num) WHERE ex_case IS NOT NULL;
CREATE TABLE IF NOT EXISTS tree (
	idx INTEGER PRIMARY KEY,
	hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS blobs (
	hash BLOB PRIMARY KEY,
	data BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS claims (
	key TEXT PRIMARY KEY,
	idx INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
	size INTEGER PRIMARY KEY,
	note BLOB NOT NULL,
	issued TEXT NOT NULL
);
`

// Store is a SQLite storage engine.
type Store struct {
	w, r, ckpt *sql.DB
	hx         *sql.DB              // the derived hash index
	stmts      map[string]*sql.Stmt // prepared on w
	reqs       chan *request
	quit       chan struct{}
	done       chan struct{}
	ckptReq    chan struct{}
	ckptDone   chan struct{}

	// Touched only by the committer goroutine:
	tree    *tlog.Tree                 // committed frontier
	heads   map[string]store.ChainHead // cache of chain heads this process committed
	pending int                        // records appended since the last WAL checkpoint

	mu sync.Mutex // guards id
	id *store.Identity

	closed atomic.Bool
}

var _ store.Store = (*Store)(nil)

const (
	maxBatch     = 256     // concurrent Updates sharing one transaction
	maxHeads     = 1 << 16 // chain heads cached before the cache is dropped
	ckptEvery    = 4096    // records between WAL checkpoints
	driverNoCkpt = "sqlite3_exhibit_writer"
)

func init() {
	// The writer's connections run their WAL checkpoints on a separate
	// connection (see checkpointer), not inside COMMIT.
	sql.Register(driverNoCkpt, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		_, err := c.Exec("PRAGMA wal_autocheckpoint = 0", nil)
		return err
	}})
}

// statements are prepared once on the writer connection.
var statements = map[string]string{
	"insertExhibit":  `INSERT INTO records (idx, hash, chain, seq, envelope, ex_initials, ex_num, ex_case) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
	"insertNode":     `INSERT INTO tree (idx, hash) VALUES (?, ?)`,
	"head":           `SELECT idx, hash, seq FROM records WHERE chain = ? ORDER BY seq DESC LIMIT 1`,
	"size":           `SELECT COALESCE(MAX(idx) + 1, 0) FROM records`,
	"savepoint":      `SAVEPOINT u`,
	"release":        `RELEASE u`,
	"rollbackTo":     `ROLLBACK TO u`,
	"savepointA":     `SAVEPOINT a`,
	"releaseA":       `RELEASE a`,
	"rollbackToA":    `ROLLBACK TO a`,
	"nextRef":        `SELECT COALESCE((SELECT ex_num FROM records WHERE ex_initials = ? AND ex_num IS NOT NULL ORDER BY ex_num DESC LIMIT 1), 0) + 1`,
	"checkpointSize": `SELECT note FROM checkpoints WHERE size = ?`,
	"claimed":        `SELECT idx FROM claims WHERE key = ?`,
	"putBlob":        `INSERT OR IGNORE INTO blobs (hash, data) VALUES (?, COALESCE(?, x''))`,
	"claim":          `INSERT INTO claims (key, idx) VALUES (?, ?)`,
	"addCheckpoint":  `INSERT INTO checkpoints (size, note, issued) VALUES (?, ?, ?)`,
}

// rowsPerInsert is how many rows one multi-row INSERT carries.
const rowsPerInsert = 32

func init() {
	values := func(n, cols int) string {
		row := "(?" + strings.Repeat(", ?", cols-1) + ")"
		return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
	}
	statements["insertRecords"] = `INSERT INTO records (idx, hash, chain, seq, envelope, ex_initials, ex_num, ex_case) VALUES ` + values(rowsPerInsert, 8)
	statements["insertNodes"] = `INSERT INTO tree (idx, hash) VALUES ` + values(rowsPerInsert, 2)
}

// Open opens or creates the database at path.
func Open(ctx context.Context, path string) (*Store, error) {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL")
	q.Set("_busy_timeout", "30000")
	q.Set("_foreign_keys", "on")
	q.Set("_txlock", "immediate")
	w, err := sql.Open(driverNoCkpt, "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	fail := func(err error, dbs ...*sql.DB) (*Store, error) {
		for _, db := range dbs {
			db.Close()
		}
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	var version int
	if err := w.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return fail(err, w)
	}
	switch version {
	case 0:
		if _, err := w.ExecContext(ctx, schema+fmt.Sprintf("PRAGMA user_version = %d;", schemaVersion)); err != nil {
			return fail(fmt.Errorf("schema: %w", err), w)
		}
	case schemaVersion:
	default:
		return fail(fmt.Errorf("database schema version %d is not %d: made by another version of Exhibit", version, schemaVersion), w)
	}
	stmts := map[string]*sql.Stmt{}
	for name, text := range statements {
		st, err := w.PrepareContext(ctx, text)
		if err != nil {
			return fail(fmt.Errorf("prepare %s: %w", name, err), w)
		}
		stmts[name] = st
	}
	// Every connection to the log database is opened with
	// synchronous=FULL, the readers and the checkpointer too: they commit
	// nothing today, and none of them must ever commit at less (the
	// driver's default in WAL mode is NORMAL).
	rq := url.Values{}
	rq.Set("_synchronous", "FULL")
	rq.Set("_busy_timeout", "30000")
	rq.Set("_query_only", "1")
	r, err := sql.Open("sqlite3", "file:"+path+"?"+rq.Encode())
	if err != nil {
		return fail(err, w)
	}
	r.SetMaxOpenConns(4)
	cq := url.Values{}
	cq.Set("_synchronous", "FULL")
	cq.Set("_busy_timeout", "30000")
	ck, err := sql.Open("sqlite3", "file:"+path+"?"+cq.Encode())
	if err != nil {
		return fail(err, w, r)
	}
	ck.SetMaxOpenConns(1)
	hx, err := openHashIndex(ctx, strings.TrimSuffix(path, ".db")+"-hashes.db")
	if err != nil {
		return fail(err, w, r, ck)
	}
	s := &Store{
		w: w, r: r, ckpt: ck, hx: hx, stmts: stmts,
		reqs: make(chan *request), quit: make(chan struct{}), done: make(chan struct{}),
		ckptReq: make(chan struct{}, 1), ckptDone: make(chan struct{}),
		tree: tlog.New(), heads: map[string]store.ChainHead{},
	}
	go s.committer()
	go s.checkpointer()
	return s, nil
}

// openHashIndex opens the derived hash index at path. The index holds
// nothing that is not in the log, so one that cannot be opened, fails
// SQLite's quick check or lacks its tables is deleted and started again
// (the checkpointer refills it), exactly as when it is missing.
func openHashIndex(ctx context.Context, path string) (*sql.DB, error) {
	hq := url.Values{}
	hq.Set("_journal_mode", "WAL")
	hq.Set("_synchronous", "NORMAL") // derived data: rebuilt from the log if lost
	hq.Set("_busy_timeout", "30000")
	open := func() (*sql.DB, error) {
		hx, err := sql.Open("sqlite3", "file:"+path+"?"+hq.Encode())
		if err != nil {
			return nil, err
		}
		hx.SetMaxOpenConns(2)
		var check string
		err = hx.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&check)
		if err == nil && check != "ok" {
			err = fmt.Errorf("quick check: %s", check)
		}
		if err == nil {
			_, err = hx.ExecContext(ctx, hashSchema)
		}
		if err == nil {
			var upto int64
			err = hx.QueryRowContext(ctx, `SELECT upto FROM progress WHERE id = 1`).Scan(&upto)
		}
		if err != nil {
			hx.Close()
			return nil, err
		}
		return hx, nil
	}
	hx, err := open()
	if err == nil {
		return hx, nil
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if rerr := os.Remove(p); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return nil, fmt.Errorf("hash index %s is unreadable (%v) and cannot be removed: %w", path, err, rerr)
		}
	}
	if hx, err = open(); err != nil {
		return nil, fmt.Errorf("hash index %s: %w", path, err)
	}
	return hx, nil
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

// hkey is the hash index's key for h: its first 8 bytes.
func hkey(h []byte) int64 { return int64(binary.BigEndian.Uint64(h[:8])) }

// indexHashes adds the records appended since it last ran to the hash
// index, in batches. Errors are left for the next run: lookups scan
// whatever the index does not cover.
func (s *Store) indexHashes(ctx context.Context) {
	const batch = 16384
	for {
		var upto int64
		if err := s.hx.QueryRowContext(ctx, `SELECT upto FROM progress WHERE id = 1`).Scan(&upto); err != nil {
			return
		}
		size, err := treeSize(ctx, s.r)
		if err != nil {
			return
		}
		if upto > int64(size) {
			// The log is not the one indexed (restored from a backup, say):
			// start again.
			if _, err := s.hx.ExecContext(ctx, `DELETE FROM hashes; UPDATE progress SET upto = 0`); err != nil {
				return
			}
			continue
		}
		if upto == int64(size) {
			return
		}
		rows, err := s.r.QueryContext(ctx, `SELECT idx, hash FROM records WHERE idx >= ? ORDER BY idx LIMIT ?`, upto, batch)
		if err != nil {
			return
		}
		type kv struct{ k, idx int64 }
		var got []kv
		next := upto
		for rows.Next() {
			var idx int64
			var h []byte
			if rows.Scan(&idx, &h) != nil || len(h) != chain.HashSize || idx != next {
				break
			}
			got = append(got, kv{hkey(h), idx})
			next++
		}
		rows.Close()
		if len(got) == 0 {
			return
		}
		sort.Slice(got, func(i, j int) bool { return got[i].k < got[j].k })
		tx, err := s.hx.BeginTx(ctx, nil)
		if err != nil {
			return
		}
		st, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO hashes (hkey, idx) VALUES (?, ?)`)
		if err != nil {
			tx.Rollback()
			return
		}
		for _, e := range got {
			if _, err := st.ExecContext(ctx, e.k, e.idx); err != nil {
				tx.Rollback()
				return
			}
		}
		st.Close()
		if _, err := tx.ExecContext(ctx, `UPDATE progress SET upto = ? WHERE id = 1 AND upto = ?`, next, upto); err != nil {
			tx.Rollback()
			return
		}
		if tx.Commit() != nil {
			return
		}
	}
}

// Close stops the committer and closes the database, leaving the WAL
// checkpointed into the database file.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	close(s.quit)
	<-s.done
	<-s.ckptDone
	for _, st := range s.stmts {
		st.Close()
	}
	s.ckpt.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	return errors.Join(s.w.Close(), s.r.Close(), s.ckpt.Close(), s.hx.Close())
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

// InlineBlob returns a blob kept inline.
func (s *Store) InlineBlob(ctx context.Context, h chain.Hash) ([]byte, error) {
	var b []byte
	err := s.r.QueryRowContext(ctx, `SELECT data FROM blobs WHERE hash = ?`, h[:]).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("inline blob %s: %w", h, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: inline blob %s: %w", h, err)
	}
	return b, nil
}

// InlineBlobs lists the inline blobs in hash order.
func (s *Store) InlineBlobs(ctx context.Context, fn func(chain.Hash, int64) error) error {
	rows, err := s.r.QueryContext(ctx, `SELECT hash, length(data) FROM blobs ORDER BY hash`)
	if err != nil {
		return fmt.Errorf("sqlitestore: inline blobs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var hb []byte
		var n int64
		if err := rows.Scan(&hb, &n); err != nil {
			return fmt.Errorf("sqlitestore: inline blobs: %w", err)
		}
		var h chain.Hash
		copy(h[:], hb)
		if err := fn(h, n); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Claimed returns the log index of the record that claimed key.
func (s *Store) Claimed(ctx context.Context, key string) (uint64, error) {
	var idx int64
	err := s.r.QueryRowContext(ctx, `SELECT idx FROM claims WHERE key = ?`, key).Scan(&idx)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("claim %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: claim %q: %w", key, err)
	}
	return uint64(idx), nil
}

// RecordByHash returns the record with hash h: candidates from the hash
// index, then a scan of the records it does not yet cover.
func (s *Store) RecordByHash(ctx context.Context, h chain.Hash) (store.StoredRecord, error) {
	upto, cands, err := s.hashCandidates(ctx, h)
	if err == nil {
		for _, idx := range cands {
			r, err := s.Record(ctx, uint64(idx))
			if err == nil && r.Hash == h {
				return r, nil
			}
		}
		r, err := scanRecord(s.r.QueryRowContext(ctx, `SELECT idx, hash, envelope FROM records WHERE idx >= ? AND hash = ?`, upto, h[:]))
		if !errors.Is(err, store.ErrNotFound) {
			return r, err
		}
	}
	// The index is derived data: one that went bad, or that misses a
	// record it claims to cover, never makes a record unfindable. The
	// log answers by a scan (paid only by lookups that find nothing).
	return scanRecord(s.r.QueryRowContext(ctx, `SELECT idx, hash, envelope FROM records WHERE hash = ?`, h[:]))
}

// hashCandidates returns the log indexes the hash index gives for h, and
// how far into the log the index reaches.
func (s *Store) hashCandidates(ctx context.Context, h chain.Hash) (upto int64, cands []int64, err error) {
	if err := s.hx.QueryRowContext(ctx, `SELECT upto FROM progress WHERE id = 1`).Scan(&upto); err != nil {
		return 0, nil, fmt.Errorf("sqlitestore: hash index: %w", err)
	}
	rows, err := s.hx.QueryContext(ctx, `SELECT idx FROM hashes WHERE hkey = ?`, hkey(h[:]))
	if err != nil {
		return 0, nil, fmt.Errorf("sqlitestore: hash index: %w", err)
	}
	for rows.Next() {
		var idx int64
		if err := rows.Scan(&idx); err == nil {
			cands = append(cands, idx)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, nil, fmt.Errorf("sqlitestore: hash index: %w", err)
	}
	return upto, cands, nil
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

// RecordHashes calls fn with the hashes of records with index in [from,
// to), in log order.
func (s *Store) RecordHashes(ctx context.Context, from, to uint64, fn func(uint64, chain.Hash) error) error {
	const page = 16384
	for from < to {
		end := min(to, from+page)
		rows, err := s.r.QueryContext(ctx, `SELECT idx, hash FROM records WHERE idx >= ? AND idx < ? ORDER BY idx`, int64(from), int64(end))
		if err != nil {
			return fmt.Errorf("sqlitestore: record hashes: %w", err)
		}
		type ih struct {
			idx uint64
			h   chain.Hash
		}
		got := make([]ih, 0, end-from)
		for rows.Next() {
			var idx int64
			var h []byte
			if err := rows.Scan(&idx, &h); err != nil {
				rows.Close()
				return fmt.Errorf("sqlitestore: record hashes: %w", err)
			}
			if len(h) != chain.HashSize {
				rows.Close()
				return fmt.Errorf("sqlitestore: record %d: stored hash has %d bytes", idx, len(h))
			}
			var v chain.Hash
			copy(v[:], h)
			got = append(got, ih{uint64(idx), v})
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fmt.Errorf("sqlitestore: record hashes: %w", err)
		}
		if len(got) == 0 {
			return fmt.Errorf("sqlitestore: record hashes: log index %d is missing", from)
		}
		for _, g := range got {
			if g.idx != from {
				return fmt.Errorf("sqlitestore: record hashes: log index %d is missing", from)
			}
			if err := fn(g.idx, g.h); err != nil {
				return err
			}
			from++
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

// exhibitFrom builds an exhibit's index entry from its first record and
// its chain's head.
func exhibitFrom(first store.StoredRecord, head store.ChainHead) (store.Exhibit, error) {
	// The index covers every exhibit the log holds, including one whose
	// first record was signed over the size limit before the limit was
	// enforced: those bytes are this store's own, checked at append.
	r, err := chain.DecodeOversizedRecord(first.Envelope)
	if err != nil {
		return store.Exhibit{}, fmt.Errorf("sqlitestore: exhibit record %d: %w", first.Index, err)
	}
	p := r.Statement.Predicate
	if p.Exhibit == nil {
		return store.Exhibit{}, fmt.Errorf("sqlitestore: record %d is not an exhibit's first record", first.Index)
	}
	e := store.Exhibit{ExhibitInfo: *p.Exhibit, Created: p.Time, FirstIndex: first.Index,
		HeadIndex: head.Index, Head: head.Hash, Seq: head.Seq, Oversized: first.Oversized()}
	for _, sub := range r.Statement.Subject {
		h, err := sub.SHA256()
		if err != nil {
			return store.Exhibit{}, err
		}
		e.Blobs = append(e.Blobs, store.BlobRef{Name: sub.Name, Hash: h})
	}
	return e, nil
}

// exhibitQuery selects an exhibit's first record and its chain's head.
const exhibitQuery = `SELECT f.idx, f.hash, f.envelope, h.idx, h.hash, h.seq
	FROM records f JOIN records h ON h.chain = f.chain
	  AND h.seq = (SELECT MAX(seq) FROM records m WHERE m.chain = f.chain)
	WHERE f.ex_num IS NOT NULL AND `

func scanExhibit(row interface{ Scan(...any) error }) (store.Exhibit, error) {
	var first store.StoredRecord
	var head store.ChainHead
	var fi, hi, hs int64
	var fh, hh []byte
	if err := row.Scan(&fi, &fh, &first.Envelope, &hi, &hh, &hs); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return store.Exhibit{}, store.ErrNotFound
		}
		return store.Exhibit{}, fmt.Errorf("sqlitestore: exhibit: %w", err)
	}
	first.Index, head.Index, head.Seq = uint64(fi), uint64(hi), uint64(hs)
	copy(first.Hash[:], fh)
	copy(head.Hash[:], hh)
	return exhibitFrom(first, head)
}

func getExhibit(ctx context.Context, q querier, where string, args ...any) (store.Exhibit, error) {
	return scanExhibit(q.QueryRowContext(ctx, exhibitQuery+where, args...))
}

func exhibitByRef(ctx context.Context, q querier, ref string) (store.Exhibit, error) {
	ini, num, err := chain.ParseRef(ref)
	if err != nil {
		return store.Exhibit{}, fmt.Errorf("%w: %v", store.ErrNotFound, err)
	}
	return getExhibit(ctx, q, `f.ex_initials = ? AND f.ex_num = ?`, ini, int64(num))
}

// Exhibit returns an exhibit by id.
func (s *Store) Exhibit(ctx context.Context, id string) (store.Exhibit, error) {
	return getExhibit(ctx, s.r, `f.chain = ? AND f.seq = 1`, id)
}

// ExhibitByRef returns an exhibit by reference.
func (s *Store) ExhibitByRef(ctx context.Context, ref string) (store.Exhibit, error) {
	return exhibitByRef(ctx, s.r, ref)
}

// Exhibits lists a case's exhibits in reference order.
func (s *Store) Exhibits(ctx context.Context, caseRef string) ([]store.Exhibit, error) {
	rows, err := s.r.QueryContext(ctx, exhibitQuery+`f.ex_case = ? ORDER BY f.ex_initials, f.ex_num`, caseRef)
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

// readHashes reads tree nodes by storage index. Interior nodes come from
// the tree table; a leaf (level 0) is computed from its record's hash.
func readHashes(ctx context.Context, q querier, indexes []int64) ([]chain.Hash, error) {
	out := make([]chain.Hash, len(indexes))
	if len(indexes) == 0 {
		return out, nil
	}
	type want struct {
		table string
		key   int64
	}
	wants := make(map[want][]int, len(indexes))
	var nodeArgs, leafArgs []any
	for i, x := range indexes {
		if x < 0 {
			return nil, fmt.Errorf("sqlitestore: tree: negative index %d: %w", x, tlog.ErrMissingNode)
		}
		level, n := xtlog.SplitStoredHashIndex(x)
		w := want{"tree", x}
		if level == 0 {
			w = want{"records", n}
		}
		if _, dup := wants[w]; !dup {
			if level == 0 {
				leafArgs = append(leafArgs, n)
			} else {
				nodeArgs = append(nodeArgs, x)
			}
		}
		wants[w] = append(wants[w], i)
	}
	// One statement for both kinds, in chunks: interior nodes from tree,
	// leaves from records.
	found := 0
	const chunk = 400
	for lo := 0; lo < max(len(nodeArgs), len(leafArgs)); lo += chunk {
		nodes := nodeArgs[min(lo, len(nodeArgs)):min(len(nodeArgs), lo+chunk)]
		leaves := leafArgs[min(lo, len(leafArgs)):min(len(leafArgs), lo+chunk)]
		var parts []string
		var args []any
		if len(nodes) > 0 {
			parts = append(parts, `SELECT 0, idx, hash FROM tree WHERE idx IN (?`+strings.Repeat(",?", len(nodes)-1)+`)`)
			args = append(args, nodes...)
		}
		if len(leaves) > 0 {
			parts = append(parts, `SELECT 1, idx, hash FROM records WHERE idx IN (?`+strings.Repeat(",?", len(leaves)-1)+`)`)
			args = append(args, leaves...)
		}
		rows, err := q.QueryContext(ctx, strings.Join(parts, " UNION ALL "), args...)
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: tree: %w", err)
		}
		for rows.Next() {
			var leaf bool
			var idx int64
			var h []byte
			if err := rows.Scan(&leaf, &idx, &h); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlitestore: tree: %w", err)
			}
			if len(h) != chain.HashSize {
				rows.Close()
				return nil, fmt.Errorf("sqlitestore: node %d holds a %d-byte hash", idx, len(h))
			}
			var v chain.Hash
			copy(v[:], h)
			w := want{"tree", idx}
			if leaf {
				v = tlog.LeafHash(v)
				w = want{"records", idx}
			}
			for _, i := range wants[w] {
				out[i] = v
			}
			found++
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, fmt.Errorf("sqlitestore: tree: %w", err)
		}
	}
	if total := len(nodeArgs) + len(leafArgs); found != total {
		return nil, fmt.Errorf("sqlitestore: tree: %d of %d requested nodes: %w (%w)", total-found, total, tlog.ErrMissingNode, store.ErrNotFound)
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

// exec runs a prepared statement in tx.
func (t *txn) exec(name string, args ...any) (sql.Result, error) {
	return t.tx.StmtContext(t.ctx, t.s.stmts[name]).ExecContext(t.ctx, args...)
}

func (t *txn) queryRow(name string, args ...any) *sql.Row {
	return t.tx.StmtContext(t.ctx, t.s.stmts[name]).QueryRowContext(t.ctx, args...)
}

// commit runs a batch of requests in one transaction.
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
	err = t.queryRow("size").Scan(&size)
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
		if _, err := t.exec("savepoint"); err != nil {
			results[i] = fmt.Errorf("sqlitestore: savepoint: %w", err)
			continue
		}
		savedTree := t.tree.Clone()
		t.pending = map[string]store.ChainHead{}
		err := r.fn(t)
		if err != nil {
			t.tree = savedTree
			_, rerr := t.exec("rollbackTo")
			if rerr == nil {
				_, rerr = t.exec("release")
			}
			if rerr != nil {
				// The transaction is in an unknown state: give it up.
				tx.Rollback()
				fail(fmt.Errorf("sqlitestore: rollback to savepoint: %w (after %v)", rerr, err))
				return
			}
			results[i] = err
			continue
		}
		if _, err := t.exec("release"); err != nil {
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

// txn implements store.Tx.
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
	err := t.queryRow("head", chainID).Scan(&idx, &hh, &seq)
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
	if err := t.queryRow("nextRef", initials).Scan(&n); err != nil {
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
	// (chain, seq) index refuses a second one.
	heads := map[string]store.ChainHead{}
	hashes := make([]chain.Hash, len(recs))
	for i, r := range recs {
		p := &r.Statement.Predicate
		h, ok := heads[p.Chain]
		if !ok && p.Seq > 1 {
			var err error
			if h, _, err = t.Head(p.Chain); err != nil {
				return 0, err
			}
		}
		if p.Seq != h.Seq+1 || p.Prev != h.Hash {
			return 0, fmt.Errorf("%w: %s record %s is #%d of chain %s linking %s, but the chain's head is #%d %s",
				store.ErrBrokenChain, r.Kind, r.Hash, p.Seq, p.Chain, p.Prev, h.Seq, h.Hash)
		}
		heads[p.Chain] = store.ChainHead{Seq: p.Seq, Hash: r.Hash, Index: first + uint64(i)}
		hashes[i] = r.Hash
	}
	next := t.tree.Clone()
	nodes, err := next.Append(hashes...)
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: append: %w", err)
	}
	// Append is all or nothing even if the caller goes on after an error.
	if _, err := t.exec("savepointA"); err != nil {
		return 0, fmt.Errorf("sqlitestore: append: %w", err)
	}
	undo := func(err error) (uint64, error) {
		if _, rerr := t.exec("rollbackToA"); rerr != nil {
			return 0, errors.Join(err, rerr)
		}
		t.exec("releaseA")
		return 0, err
	}
	if err := t.insertAll(int64(first), recs, nodes); err != nil {
		// Find which row failed, and why, one row at a time.
		if _, rerr := t.exec("rollbackToA"); rerr != nil {
			return undo(errors.Join(err, rerr))
		}
		for i, r := range recs {
			if err := t.insertRecord(int64(first)+int64(i), r); err != nil {
				return undo(err)
			}
		}
		return undo(fmt.Errorf("sqlitestore: append: %w", err))
	}
	if _, err := t.exec("releaseA"); err != nil {
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
		if _, err := t.exec("insertRecords", args...); err != nil {
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
		if _, err := t.exec("insertNodes", args...); err != nil {
			return err
		}
	}
	for _, n := range interior[j:] {
		if _, err := t.exec("insertNode", n.Index, n.Hash[:]); err != nil {
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
	if _, err = t.exec("insertExhibit", args...); err == nil {
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
	if len(b) > store.MaxInlineBlob {
		return fmt.Errorf("%w: %d bytes", store.ErrTooLarge, len(b))
	}
	if chain.Sum(b) != h {
		return fmt.Errorf("sqlitestore: inline blob: bytes hash to %s, not %s", chain.Sum(b), h)
	}
	if _, err := t.exec("putBlob", h[:], b); err != nil {
		return fmt.Errorf("sqlitestore: inline blob %s: %w", h, err)
	}
	return nil
}

func (t *txn) Claim(key string, index uint64) (uint64, error) {
	if key == "" {
		return 0, errors.New("sqlitestore: claim: empty key")
	}
	if index >= t.tree.Size() {
		return 0, fmt.Errorf("sqlitestore: claim %q: log index %d is beyond the log's %d records", key, index, t.tree.Size())
	}
	var held int64
	switch err := t.queryRow("claimed", key).Scan(&held); {
	case err == nil:
		return uint64(held), fmt.Errorf("%w: %q is held by the record at log index %d", store.ErrClaimed, key, held)
	case !errors.Is(err, sql.ErrNoRows):
		return 0, fmt.Errorf("sqlitestore: claim: %w", err)
	}
	if _, err := t.exec("claim", key, int64(index)); err != nil {
		return 0, fmt.Errorf("sqlitestore: claim: %w", err)
	}
	return index, nil
}

func (t *txn) AddCheckpoint(c store.Checkpoint) error {
	if c.Size > t.tree.Size() {
		return fmt.Errorf("sqlitestore: checkpoint of size %d is beyond the log's %d records", c.Size, t.tree.Size())
	}
	var old []byte
	err := t.queryRow("checkpointSize", int64(c.Size)).Scan(&old)
	switch {
	case err == nil:
		if string(old) == string(c.Note) {
			return nil
		}
		return fmt.Errorf("sqlitestore: a different checkpoint of size %d was already issued", c.Size)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("sqlitestore: checkpoint: %w", err)
	}
	if _, err := t.exec("addCheckpoint", int64(c.Size), c.Note, c.Issued.UTC().Format(time.RFC3339Nano)); err != nil {
		return fmt.Errorf("sqlitestore: checkpoint: %w", err)
	}
	return nil
}
