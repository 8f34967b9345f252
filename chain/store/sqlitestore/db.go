package sqlitestore

import (
	"database/sql"
	"net/url"
)

// OpenDB returns a pool of connections to the SQLite database at path,
// with the settings of the record store's writer: WAL, synchronous=FULL,
// a 30 s busy timeout, foreign keys on, and write transactions begun
// IMMEDIATE (so that a transaction that reads then writes is serialised
// with the others, not failed at its first write). It is for the other
// tables Exhibit keeps in SQLite (the hub's registry, api/hub/enrol), so
// that the driver stays in this package. No connection is made yet.
func OpenDB(path string) *sql.DB {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL")
	q.Set("_busy_timeout", "30000")
	q.Set("_foreign_keys", "on")
	q.Set("_txlock", "immediate")
	return openDB(path, q, nil)
}
