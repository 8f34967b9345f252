package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
)

// Reads outside a transaction, on the pool of read-only connections, and
// the scans and queries the transaction shares with them (through querier).

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

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

func treeSize(ctx context.Context, q querier) (uint64, error) {
	var n int64
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(idx) + 1, 0) FROM records`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlitestore: tree size: %w", err)
	}
	return uint64(n), nil
}

// TreeSize returns the number of records in the log.
func (s *Store) TreeSize(ctx context.Context) (uint64, error) { return treeSize(ctx, s.r) }

// scanner is what both *sql.Row and *sql.Rows offer.
type scanner interface{ Scan(...any) error }

// collect scans every row of rows with scan, then closes rows.
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		x, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

func scanRecord(row scanner) (store.StoredRecord, error) {
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
	return collect(rows, scanRecord)
}

// exhibitQuery selects an exhibit's first record and its chain's head.
const exhibitQuery = `SELECT f.idx, f.hash, f.envelope, h.idx, h.hash, h.seq
	FROM records f JOIN records h ON h.chain = f.chain
	  AND h.seq = (SELECT MAX(seq) FROM records m WHERE m.chain = f.chain)
	WHERE f.ex_num IS NOT NULL AND `

func scanExhibit(row scanner) (store.Exhibit, error) {
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
	e, err := store.ExhibitFrom(first, head)
	if err != nil {
		return store.Exhibit{}, fmt.Errorf("sqlitestore: %w", err)
	}
	return e, nil
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
	return collect(rows, scanExhibit)
}

func scanCheckpoint(row scanner) (store.Checkpoint, error) {
	var c store.Checkpoint
	var size int64
	var issued string
	if err := row.Scan(&size, &c.Note, &issued); err != nil {
		return c, fmt.Errorf("sqlitestore: checkpoints: %w", err)
	}
	c.Size = uint64(size)
	var err error
	if c.Issued, err = time.Parse(time.RFC3339Nano, issued); err != nil {
		return c, fmt.Errorf("sqlitestore: checkpoint %d: %w", size, err)
	}
	return c, nil
}

// Checkpoints returns every checkpoint issued, by size.
func (s *Store) Checkpoints(ctx context.Context) ([]store.Checkpoint, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT size, note, issued FROM checkpoints ORDER BY size`)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: checkpoints: %w", err)
	}
	return collect(rows, scanCheckpoint)
}

// LatestCheckpoint returns the largest checkpoint issued.
func (s *Store) LatestCheckpoint(ctx context.Context) (store.Checkpoint, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT size, note, issued FROM checkpoints ORDER BY size DESC LIMIT 1`)
	if err != nil {
		return store.Checkpoint{}, fmt.Errorf("sqlitestore: checkpoints: %w", err)
	}
	cs, err := collect(rows, scanCheckpoint)
	if err != nil {
		return store.Checkpoint{}, err
	}
	if len(cs) == 0 {
		return store.Checkpoint{}, store.ErrNotFound
	}
	return cs[0], nil
}
