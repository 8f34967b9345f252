package hublog

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"

	"golang.org/x/mod/sumdb/note"

	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/store/pgstore"
)

// Schema is the PostgreSQL schema the hub's log is kept in (OpenPostgres).
const Schema = "hublog"

// ddlLock is the advisory lock key held while the schema is created
// ("hubL").
const ddlLock = 0x6875624c

// OpenPostgres opens the hub's log kept in the PostgreSQL database at
// dbURL (schema Schema, chain/store/pgstore), so that hub processes on
// several hosts sharing the database share one log. Its key is the file
// dataDir/hublog/keys/device.key, which every process's data directory
// holds (as it holds the CA's and the witness's); files are the hub's blob
// store (not closed by the Log). With create set (exhibit hub init) a log
// is made if the database has none; without, a database without one is
// an error: a log is made once, by one process, never by two racing.
func OpenPostgres(ctx context.Context, dataDir, dbURL string, files ledger.Blobs, cosigner note.Signer, verifier note.Verifier, opt Options, create bool) (*Log, error) {
	u, err := url.Parse(dbURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("hublog: the database must be given as a postgres:// URL (%v)", err)
	}
	db, err := pgstore.OpenDB(dbURL)
	if err != nil {
		return nil, fmt.Errorf("hublog: %w", err)
	}
	err = func() error {
		defer db.Close()
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(ddlLock)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS `+Schema); err != nil {
			return err
		}
		return tx.Commit()
	}()
	if err != nil {
		return nil, fmt.Errorf("hublog: schema %s: %w", Schema, err)
	}
	q := u.Query()
	q.Set("search_path", Schema)
	q.Set("pool_max_conns", "4")
	u.RawQuery = q.Encode()
	st, err := pgstore.Open(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("hublog: %w", err)
	}
	cfg := ledger.Config{Store: st, Files: unclosed{files}, Keys: datadir.Keys(filepath.Join(dataDir, Dir, datadir.KeyFile)),
		Now: opt.Now, Operator: opt.Operator}
	var l *ledger.Ledger
	_, err = st.Identity(ctx)
	switch {
	case errors.Is(err, store.ErrNotInit) && create:
		l, err = ledger.Create(ctx, cfg, Producer, "HUB")
	case errors.Is(err, store.ErrNotInit):
		err = fmt.Errorf("the database holds no hub log: was this hub initialised with this --db (exhibit hub init --db)?")
	case err == nil:
		l, err = ledger.New(ctx, cfg)
	}
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("hublog: %w", err)
	}
	g, err := New(l, cosigner, verifier)
	if err != nil {
		l.Close()
		return nil, err
	}
	return g, nil
}

// unclosed is a blob store the Log uses but does not own.
type unclosed struct{ ledger.Blobs }
