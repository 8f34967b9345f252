package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// schemaVersion is stored in PRAGMA user_version.
const schemaVersion = 1

// schema is the log database. The records table is the log; the partial
// indexes on an exhibit's first record find exhibits (see the package doc).
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

// createSchema creates the tables of a new database on w, or checks that
// an existing one has this version's schema.
func createSchema(ctx context.Context, w *sql.DB) error {
	var version int
	if err := w.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return err
	}
	switch version {
	case 0:
		if _, err := w.ExecContext(ctx, schema+fmt.Sprintf("PRAGMA user_version = %d;", schemaVersion)); err != nil {
			return fmt.Errorf("schema: %w", err)
		}
	case schemaVersion:
	default:
		return fmt.Errorf("database schema version %d is not %d: made by another version of Exhibit", version, schemaVersion)
	}
	return nil
}

// rowsPerInsert is how many rows one multi-row INSERT carries.
const rowsPerInsert = 32

// statements are the writer's statements, prepared once on its connection
// at Open. Savepoint u is one Update's, savepoint a one Append's (see
// commit and txn.Append).
type statements struct {
	insertRecord, insertRecords       *sql.Stmt // one row, rowsPerInsert rows
	insertNode, insertNodes           *sql.Stmt // one row, rowsPerInsert rows
	head, size, nextRef               *sql.Stmt
	checkpointSize, claimed           *sql.Stmt
	putBlob, claim, addCheckpoint     *sql.Stmt
	savepoint, release, rollbackTo    *sql.Stmt
	savepointA, releaseA, rollbackToA *sql.Stmt
	all                               []*sql.Stmt // every one prepared, to close
}

// prepareStatements prepares the writer's statements on w.
func prepareStatements(ctx context.Context, w *sql.DB) (*statements, error) {
	values := func(n, cols int) string {
		row := "(?" + strings.Repeat(", ?", cols-1) + ")"
		return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
	}
	const insertRecords = `INSERT INTO records (idx, hash, chain, seq, envelope, ex_initials, ex_num, ex_case) VALUES `
	const insertNodes = `INSERT INTO tree (idx, hash) VALUES `
	s := &statements{}
	for _, p := range []struct {
		st   **sql.Stmt
		text string
	}{
		{&s.insertRecord, insertRecords + values(1, 8)},
		{&s.insertRecords, insertRecords + values(rowsPerInsert, 8)},
		{&s.insertNode, insertNodes + values(1, 2)},
		{&s.insertNodes, insertNodes + values(rowsPerInsert, 2)},
		{&s.head, `SELECT idx, hash, seq FROM records WHERE chain = ? ORDER BY seq DESC LIMIT 1`},
		{&s.size, `SELECT COALESCE(MAX(idx) + 1, 0) FROM records`},
		{&s.nextRef, `SELECT COALESCE((SELECT ex_num FROM records WHERE ex_initials = ? AND ex_num IS NOT NULL ORDER BY ex_num DESC LIMIT 1), 0) + 1`},
		{&s.checkpointSize, `SELECT note FROM checkpoints WHERE size = ?`},
		{&s.claimed, `SELECT idx FROM claims WHERE key = ?`},
		{&s.putBlob, `INSERT OR IGNORE INTO blobs (hash, data) VALUES (?, COALESCE(?, x''))`},
		{&s.claim, `INSERT INTO claims (key, idx) VALUES (?, ?)`},
		{&s.addCheckpoint, `INSERT INTO checkpoints (size, note, issued) VALUES (?, ?, ?)`},
		{&s.savepoint, `SAVEPOINT u`},
		{&s.release, `RELEASE u`},
		{&s.rollbackTo, `ROLLBACK TO u`},
		{&s.savepointA, `SAVEPOINT a`},
		{&s.releaseA, `RELEASE a`},
		{&s.rollbackToA, `ROLLBACK TO a`},
	} {
		st, err := w.PrepareContext(ctx, p.text)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("prepare %q: %w", p.text, err)
		}
		*p.st = st
		s.all = append(s.all, st)
	}
	return s, nil
}

// close closes every statement prepared.
func (s *statements) close() {
	for _, st := range s.all {
		st.Close()
	}
}
