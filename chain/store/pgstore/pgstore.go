// Package pgstore is the PostgreSQL storage engine (github.com/jackc/pgx/v5),
// for a hub that outgrows one machine: several processes, or several Store
// values, opened on one database behave as one store.
//
// # Writers: one log head, locked
//
// Every Update is one PostgreSQL transaction (READ COMMITTED, the server's
// default) that first locks the single row of log_head:
//
//	SELECT size, root FROM log_head WHERE id = 1 FOR UPDATE
//
// so writers, in this process or any other, take turns: the one holding the
// row appends at log index size, size+1, … and sets size past its last
// record before it commits; the next writer's SELECT … FOR UPDATE returns
// only after that commit (or rollback), and reads the new size. So no two
// records get the same log index and no index is skipped (a rolled-back
// Update leaves size as it was). With the turn held, the chain rules
// (store.Link's head lookups, the first-record and reference checks, claims,
// checkpoints) are checked against a database no other writer changes
// before this transaction commits, and the unique indexes below are a
// second line: a constraint failure is mapped to the store's error.
//
// The rejected alternative is SERIALIZABLE isolation with a retry loop.
// Every append touches the log's tail, so concurrent writers would nearly
// always conflict and all but one abort; and a retry would run the
// caller's fn again, which store.Store does not allow (fn may sign records
// against the head it read, or have effects outside the store). A
// PostgreSQL sequence for the log index was rejected too: nextval is not
// transactional, so a rolled-back Update would leave a gap.
//
// The lock makes writers run one at a time, which is what a single
// Merkle log requires anyway (each append's tree nodes depend on the
// previous one's). There is no group commit: each Update is one commit, so
// throughput is bounded by commit latency (the server's WAL flush). See
// BenchmarkUpdateBatch for the figures, against sqlitestore.
//
// Within one Store, Updates also take turns before they take a connection
// from the pool (a one-token channel, waited for with the caller's
// context): otherwise Updates waiting for the row lock could hold every
// connection of the pool, and an fn that reads the store (Record,
// Exhibit, …) while its Update holds the lock would wait for a connection
// forever. So one Update per Store holds a connection, and reads always
// find one. Across Stores and processes the row lock orders them.
//
// The Merkle tree's frontier is cached per Store; an Update whose locked
// size and root differ from the cache's (another writer appended) reloads
// it from the tree table (tlog.Load) inside its transaction, and checks the
// loaded tree's root against log_head.root. Comparing the root, not only
// the size, means a database restored to another log of the same size is
// never extended from a stale frontier.
//
// # Durability
//
// A transaction is durable when COMMIT returns if synchronous_commit is on
// (PostgreSQL's default). Each connection the store opens reads the
// setting and sets it to on where it finds it off; every other value
// (local, remote_write, on, remote_apply) flushes the commit's WAL on the
// server before COMMIT returns, and is kept. (fsync=off on the server
// cannot be undone by a client; it is the operator's to leave on.)
// Statements after the log head is locked run without the caller's
// cancellation, so that a cancelled context cannot leave the outcome of a
// COMMIT unknown to the store; a connection lost during COMMIT still can:
// the error is returned, and the records may or may not be in the log (a
// caller appending them again is refused with store.ErrDuplicate or
// store.ErrBrokenChain if they are; a Claim made with them finds its key
// held).
//
// # Writes and reads
//
// Tx.Append checks the links (store.Link) and sends, in one pipelined
// round trip, SAVEPOINT a; the records as one INSERT … SELECT FROM
// unnest(arrays); the new interior tree nodes likewise; UPDATE log_head
// SET size, root; RELEASE SAVEPOINT a. On an error it rolls back to the
// savepoint, so a failed Append leaves nothing even if fn goes on; a
// unique violation of records_chain is store.ErrDuplicate when the stored
// record at that (chain, seq) has the same hash and store.ErrBrokenChain
// otherwise, and of records_ref store.ErrBrokenChain. Reads outside a
// transaction are single statements on the pool: at READ COMMITTED each
// sees a snapshot in which an Update is wholly committed or absent, and
// the log only grows, so a later read never sees less than an earlier one.
//
// # Schema (version 1)
//
// Open creates the tables in the connection's search_path (by default
// public) inside one transaction holding a transaction-scoped advisory lock
// (pg_advisory_xact_lock(0x65786869)), so concurrent Opens do not race to
// create them; it is idempotent, and refuses a database whose
// exhibit_schema.version is not 1.
//
//	exhibit_schema (id int PK = 1, version int)
//	log_head       (id int PK = 1, size bigint,  -- the log's size; locked by writers
//	                root bytea)                  -- the Merkle root at size (32 bytes)
//	identity       (id int PK = 1, device_id, origin, producer, initials text,
//	                created text)                -- RFC 3339 with nanoseconds, UTC
//	records        (idx bigint PK,               -- log index, 0-based, gapless
//	                hash bytea,                  -- SHA-256 record hash, 32 bytes
//	                chain text, seq bigint,      -- chain id, 1-based position
//	                envelope bytea,              -- exact DSSE envelope bytes
//	                ex_initials text, ex_num bigint, ex_case text)
//	                -- the last three set on an exhibit's first record only
//	                -- (seq 1 with an exhibit): its reference INITIALS/NUM and case
//	  records_chain UNIQUE (chain, seq)
//	  records_ref   UNIQUE (ex_initials, ex_num) WHERE ex_num IS NOT NULL
//	  records_case  (ex_case, ex_initials, ex_num) WHERE ex_case IS NOT NULL
//	  records_hash  (hash)                       -- RecordByHash
//	tree           (idx bigint PK, hash bytea)   -- interior Merkle nodes by
//	                                             -- chain/tlog storage index
//	blobs          (hash bytea PK, data bytea)   -- inline blobs, ≤ store.MaxInlineBlob
//	claims         (key bytea PK, idx bigint)    -- Tx.Claim; the key's bytes as given
//	checkpoints    (size bigint PK, note bytea, issued text)  -- issued as identity.created
//
// log_head starts as size 0 with root tlog.EmptyRoot() (SHA-256 of no
// bytes). Leaves of the Merkle tree are not stored: leaf i is
// SHA-256(0x00 || records.hash of idx i). An exhibit is its chain's first
// record (there is no exhibits table); its head is the chain's record with
// the highest seq. log_head.size always equals the number of records (one
// more than the highest idx) and log_head.root the Merkle root of those
// records; both are changed only in the transaction that appends them.
//
// Unlike sqlitestore, the index of records by hash is an ordinary index on
// the records table: PostgreSQL's B-tree absorbs random keys well enough,
// and a derived index outside the commit path would be one more thing
// several processes must agree on.
//
// # Tests
//
// The tests need a PostgreSQL server, reached at
// postgres://postgres@127.0.0.1:5432/postgres unless the environment
// variable EXHIBIT_TEST_POSTGRES gives another URL. That connection (a
// role allowed to CREATE DATABASE) only creates and drops databases: each
// test creates its own, exhibit_test_ and 12 random hex digits, on the
// same server, uses it through the same URL with the database name
// replaced, and drops it at the end. Where no server answers, the tests
// skip, saying so.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

// Store is a PostgreSQL storage engine.
type Store struct {
	pool *pgxpool.Pool
	turn chan struct{} // one token: held by the Update using a connection

	mu   sync.Mutex
	tree *tlog.Tree      // committed frontier, as this Store last saw it
	id   *store.Identity // cached once read

	closed atomic.Bool
}

var _ store.Store = (*Store)(nil)

// schemaVersion is exhibit_schema.version.
const schemaVersion = 1

// schemaLock is the advisory lock key Open holds while it creates the
// schema ("exhi").
const schemaLock = 0x65786869

const schema = `
CREATE TABLE IF NOT EXISTS exhibit_schema (
	id integer PRIMARY KEY CHECK (id = 1),
	version integer NOT NULL
);
CREATE TABLE IF NOT EXISTS log_head (
	id integer PRIMARY KEY CHECK (id = 1),
	size bigint NOT NULL CHECK (size >= 0),
	root bytea NOT NULL CHECK (length(root) = 32)
);
CREATE TABLE IF NOT EXISTS identity (
	id integer PRIMARY KEY CHECK (id = 1),
	device_id text NOT NULL,
	origin text NOT NULL,
	producer text NOT NULL,
	initials text NOT NULL,
	created text NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
	idx bigint NOT NULL CONSTRAINT records_pkey PRIMARY KEY CHECK (idx >= 0),
	hash bytea NOT NULL CHECK (length(hash) = 32),
	chain text NOT NULL,
	seq bigint NOT NULL CHECK (seq >= 1),
	envelope bytea NOT NULL,
	ex_initials text,
	ex_num bigint,
	ex_case text
);
CREATE UNIQUE INDEX IF NOT EXISTS records_chain ON records (chain, seq);
CREATE UNIQUE INDEX IF NOT EXISTS records_ref ON records (ex_initials, ex_num) WHERE ex_num IS NOT NULL;
CREATE INDEX IF NOT EXISTS records_case ON records (ex_case, ex_initials, ex_num) WHERE ex_case IS NOT NULL;
CREATE INDEX IF NOT EXISTS records_hash ON records (hash);
CREATE TABLE IF NOT EXISTS tree (
	idx bigint PRIMARY KEY,
	hash bytea NOT NULL CHECK (length(hash) = 32)
);
CREATE TABLE IF NOT EXISTS blobs (
	hash bytea PRIMARY KEY,
	data bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS claims (
	key bytea PRIMARY KEY,
	idx bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
	size bigint PRIMARY KEY,
	note bytea NOT NULL,
	issued text NOT NULL
);
`

// Open connects to the database at url (a PostgreSQL connection URL or
// keyword/value string, as pgx accepts) and creates the schema if it is
// not there.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	cfg.AfterConnect = durableCommits
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	if err := createSchema(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: open: %w", err)
	}
	s := &Store{pool: pool, tree: tlog.New(), turn: make(chan struct{}, 1)}
	s.turn <- struct{}{}
	return s, nil
}

// durableCommits makes sure a connection commits durably: it sets
// synchronous_commit to on where the server or role has it off (see the
// package doc).
func durableCommits(ctx context.Context, c *pgx.Conn) error {
	var sc string
	if err := c.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&sc); err != nil {
		return fmt.Errorf("synchronous_commit: %w", err)
	}
	if sc == "off" {
		if _, err := c.Exec(ctx, `SET synchronous_commit = on`); err != nil {
			return fmt.Errorf("synchronous_commit: %w", err)
		}
	}
	return nil
}

// createSchema creates the tables of a new database, or checks that an
// existing one has this version's schema.
func createSchema(ctx context.Context, pool *pgxpool.Pool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(schemaLock)); err != nil {
			return fmt.Errorf("schema lock: %w", err)
		}
		if _, err := tx.Exec(ctx, schema); err != nil {
			return fmt.Errorf("schema: %w", err)
		}
		empty := tlog.EmptyRoot()
		if _, err := tx.Exec(ctx, `INSERT INTO log_head (id, size, root) VALUES (1, 0, $1) ON CONFLICT (id) DO NOTHING`, empty[:]); err != nil {
			return fmt.Errorf("schema: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO exhibit_schema (id, version) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`, schemaVersion); err != nil {
			return fmt.Errorf("schema: %w", err)
		}
		var v int
		if err := tx.QueryRow(ctx, `SELECT version FROM exhibit_schema WHERE id = 1`).Scan(&v); err != nil {
			return fmt.Errorf("schema: %w", err)
		}
		if v != schemaVersion {
			return fmt.Errorf("database schema version %d is not %d: made by another version of Exhibit", v, schemaVersion)
		}
		return nil
	})
}

// errClosed is returned by Update on a closed store.
var errClosed = errors.New("pgstore: store closed")

// Close closes the store's connections, waiting for Updates in progress.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.pool.Close()
	return nil
}
