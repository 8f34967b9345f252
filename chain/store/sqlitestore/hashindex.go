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

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
)

// The derived hash index: finding a record by its hash without an index
// over random keys in the log database (see the package doc).

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
		hx := openDB(path, hq, nil)
		hx.SetMaxOpenConns(2)
		var check string
		err := hx.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&check)
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
