package pgstore

import (
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// OpenDB returns a database/sql pool of connections to the database at
// url, each committing durably as the store's do (synchronous_commit on
// where it is off). It is for the other tables Exhibit keeps in PostgreSQL
// beside its stores (the hub's ingest alarms, api/hub/ingest), so that the
// driver stays in this package, as sqlitestore.OpenDB does for SQLite.
// Arguments may be any type pgx encodes (slices for arrays too). No
// connection is made yet.
func OpenDB(url string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	return stdlib.OpenDB(*cfg, stdlib.OptionAfterConnect(durableCommits)), nil
}
