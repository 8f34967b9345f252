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
//
// Every pool is opened with sql.OpenDB and a connector holding its own
// driver value (the writer's with a connect hook), so the package
// registers no driver name and has no init-time side effects.
//
// The files follow the seams: schema.go (tables and the writer's prepared
// statements), committer.go (Update, group commit, the checkpointer),
// txn.go (the write transaction, store.Tx), reads.go (store.Reader),
// tree.go (Merkle tree nodes, leaves derived from records) and
// hashindex.go (the derived hash index).
package sqlitestore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mattn/go-sqlite3"

	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

// Store is a SQLite storage engine.
type Store struct {
	w, r, ckpt *sql.DB
	hx         *sql.DB     // the derived hash index
	stmts      *statements // prepared on w
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
	maxBatch  = 256     // concurrent Updates sharing one transaction
	maxHeads  = 1 << 16 // chain heads cached before the cache is dropped
	ckptEvery = 4096    // records between WAL checkpoints
)

// Open opens or creates the database at path.
func Open(ctx context.Context, path string) (*Store, error) {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL")
	q.Set("_busy_timeout", "30000")
	q.Set("_foreign_keys", "on")
	q.Set("_txlock", "immediate")
	// The writer's connections run their WAL checkpoints on a separate
	// connection (see checkpointer), not inside COMMIT.
	w := openDB(path, q, func(c *sqlite3.SQLiteConn) error {
		_, err := c.Exec("PRAGMA wal_autocheckpoint = 0", nil)
		return err
	})
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	fail := func(err error, dbs ...*sql.DB) (*Store, error) {
		for _, db := range dbs {
			db.Close()
		}
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	if err := createSchema(ctx, w); err != nil {
		return fail(err, w)
	}
	stmts, err := prepareStatements(ctx, w)
	if err != nil {
		return fail(err, w)
	}
	// Every connection to the log database is opened with
	// synchronous=FULL, the readers and the checkpointer too: they commit
	// nothing today, and none of them must ever commit at less (the
	// driver's default in WAL mode is NORMAL).
	rq := url.Values{}
	rq.Set("_synchronous", "FULL")
	rq.Set("_busy_timeout", "30000")
	rq.Set("_query_only", "1")
	r := openDB(path, rq, nil)
	r.SetMaxOpenConns(4)
	cq := url.Values{}
	cq.Set("_synchronous", "FULL")
	cq.Set("_busy_timeout", "30000")
	ck := openDB(path, cq, nil)
	ck.SetMaxOpenConns(1)
	hx, err := openHashIndex(ctx, strings.TrimSuffix(path, ".db")+"-hashes.db")
	if err != nil {
		stmts.close()
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

// connector opens connections to one database with a driver value of its
// own, for sql.OpenDB: nothing is registered under a name in
// database/sql, so opening a store has no effect on the process beyond its
// own connections.
type connector struct {
	dsn string
	drv *sqlite3.SQLiteDriver
}

// Connect opens a connection. As with sql.Open's connector, ctx is not
// used: go-sqlite3 opens a connection without one.
func (c connector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }

// Driver returns the connector's driver.
func (c connector) Driver() driver.Driver { return c.drv }

// openDB returns a pool of connections to the SQLite database at path,
// opened with the go-sqlite3 DSN parameters q and, if hook is not nil,
// set up by hook as each connection is made. No connection is made yet.
func openDB(path string, q url.Values, hook func(*sqlite3.SQLiteConn) error) *sql.DB {
	return sql.OpenDB(connector{dsn: "file:" + path + "?" + q.Encode(), drv: &sqlite3.SQLiteDriver{ConnectHook: hook}})
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
	s.stmts.close()
	s.ckpt.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	return errors.Join(s.w.Close(), s.r.Close(), s.ckpt.Close(), s.hx.Close())
}
