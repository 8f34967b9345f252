package pgstore

import (
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// OpenDB returns a database/sql handle on the PostgreSQL database at url
// (pgx's database/sql driver), whose connections commit durably as the
// Store's do (synchronous_commit on where it was off). It is for packages
// that keep tables of their own next to the store's (the hub's registry, the ingest's alarms),
// so that the driver stays in this package, as sqlitestore.OpenDB does for
// SQLite. It does not connect: the first query does.
func OpenDB(url string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	return stdlib.OpenDB(*cfg, stdlib.OptionAfterConnect(durableCommits)), nil
}
