package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	xtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

// Reads outside a transaction, on the pool, and the queries the write
// transaction shares with them (through querier). Each read is one
// statement, so it sees committed Updates whole.

// querier is what both *pgxpool.Pool and pgx.Tx offer.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func readIdentity(ctx context.Context, q querier) (store.Identity, error) {
	var id store.Identity
	var created string
	err := q.QueryRow(ctx, `SELECT device_id, origin, producer, initials, created FROM identity WHERE id = 1`).
		Scan(&id.DeviceID, &id.Origin, &id.Producer, &id.Initials, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return id, store.ErrNotInit
	}
	if err != nil {
		return id, fmt.Errorf("pgstore: identity: %w", err)
	}
	if id.Created, err = time.Parse(time.RFC3339Nano, created); err != nil {
		return id, fmt.Errorf("pgstore: identity: %w", err)
	}
	return id, nil
}

// Identity returns the store's identity.
func (s *Store) Identity(ctx context.Context) (store.Identity, error) {
	s.mu.Lock()
	cached := s.id
	s.mu.Unlock()
	if cached != nil {
		return *cached, nil
	}
	id, err := readIdentity(ctx, s.pool)
	if err != nil {
		return id, err
	}
	s.mu.Lock()
	s.id = &id
	s.mu.Unlock()
	return id, nil
}

// TreeSize returns the number of records in the log.
func (s *Store) TreeSize(ctx context.Context) (uint64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT size FROM log_head WHERE id = 1`).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgstore: tree size: %w", err)
	}
	return uint64(n), nil
}

// hashFrom copies a stored 32-byte hash.
func hashFrom(b []byte, what string, idx int64) (chain.Hash, error) {
	var h chain.Hash
	if len(b) != chain.HashSize {
		return h, fmt.Errorf("pgstore: %s %d: stored hash has %d bytes", what, idx, len(b))
	}
	copy(h[:], b)
	return h, nil
}

func scanRecord(row pgx.Row) (store.StoredRecord, error) {
	var r store.StoredRecord
	var idx int64
	var h []byte
	if err := row.Scan(&idx, &h, &r.Envelope); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return r, store.ErrNotFound
		}
		return r, fmt.Errorf("pgstore: record: %w", err)
	}
	var err error
	r.Index = uint64(idx)
	r.Hash, err = hashFrom(h, "record", idx)
	return r, err
}

// Record returns the record at a log index.
func (s *Store) Record(ctx context.Context, index uint64) (store.StoredRecord, error) {
	return scanRecord(s.pool.QueryRow(ctx, `SELECT idx, hash, envelope FROM records WHERE idx = $1`, int64(index)))
}

// RecordByHash returns the record with hash h (the lowest log index, were
// there two).
func (s *Store) RecordByHash(ctx context.Context, h chain.Hash) (store.StoredRecord, error) {
	return scanRecord(s.pool.QueryRow(ctx, `SELECT idx, hash, envelope FROM records WHERE hash = $1 ORDER BY idx LIMIT 1`, h[:]))
}

// Records calls fn for records with index in [from, to), in log order.
func (s *Store) Records(ctx context.Context, from, to uint64, fn func(store.StoredRecord) error) error {
	const page = 1024
	for from < to {
		end := min(to, from+page)
		rows, err := s.pool.Query(ctx, `SELECT idx, hash, envelope FROM records WHERE idx >= $1 AND idx < $2 ORDER BY idx`, int64(from), int64(end))
		if err != nil {
			return fmt.Errorf("pgstore: records: %w", err)
		}
		got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.StoredRecord, error) { return scanRecord(r) })
		if err != nil {
			return fmt.Errorf("pgstore: records: %w", err)
		}
		if len(got) == 0 {
			return fmt.Errorf("pgstore: records: log index %d is missing", from)
		}
		for _, r := range got {
			if r.Index != from {
				return fmt.Errorf("pgstore: records: log index %d is missing", from)
			}
			if err := fn(r); err != nil {
				return err
			}
			from++
		}
	}
	return nil
}

// RecordHashes calls fn with the hashes of records with index in [from,
// to), in log order.
func (s *Store) RecordHashes(ctx context.Context, from, to uint64, fn func(uint64, chain.Hash) error) error {
	const page = 16384
	type ih struct {
		idx uint64
		h   chain.Hash
	}
	for from < to {
		end := min(to, from+page)
		rows, err := s.pool.Query(ctx, `SELECT idx, hash FROM records WHERE idx >= $1 AND idx < $2 ORDER BY idx`, int64(from), int64(end))
		if err != nil {
			return fmt.Errorf("pgstore: record hashes: %w", err)
		}
		got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ih, error) {
			var idx int64
			var b []byte
			if err := r.Scan(&idx, &b); err != nil {
				return ih{}, err
			}
			h, err := hashFrom(b, "record", idx)
			return ih{uint64(idx), h}, err
		})
		if err != nil {
			return fmt.Errorf("pgstore: record hashes: %w", err)
		}
		if len(got) == 0 {
			return fmt.Errorf("pgstore: record hashes: log index %d is missing", from)
		}
		for _, g := range got {
			if g.idx != from {
				return fmt.Errorf("pgstore: record hashes: log index %d is missing", from)
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
	rows, err := s.pool.Query(ctx, `SELECT idx, hash, envelope FROM records WHERE chain = $1 ORDER BY seq`, chainID)
	if err != nil {
		return nil, fmt.Errorf("pgstore: chain %s: %w", chainID, err)
	}
	recs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.StoredRecord, error) { return scanRecord(r) })
	if err != nil {
		return nil, fmt.Errorf("pgstore: chain %s: %w", chainID, err)
	}
	return recs, nil
}

// exhibitQuery selects an exhibit's first record and its chain's head.
const exhibitQuery = `SELECT f.idx, f.hash, f.envelope, h.idx, h.hash, h.seq
	FROM records f JOIN LATERAL (
	  SELECT idx, hash, seq FROM records m WHERE m.chain = f.chain ORDER BY m.seq DESC LIMIT 1
	) h ON true
	WHERE f.ex_num IS NOT NULL AND `

func scanExhibit(row pgx.Row) (store.Exhibit, error) {
	var fi, hi, hs int64
	var fh, hh, env []byte
	if err := row.Scan(&fi, &fh, &env, &hi, &hh, &hs); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return store.Exhibit{}, store.ErrNotFound
		}
		return store.Exhibit{}, fmt.Errorf("pgstore: exhibit: %w", err)
	}
	first := store.StoredRecord{Index: uint64(fi), Envelope: env}
	head := store.ChainHead{Index: uint64(hi), Seq: uint64(hs)}
	var err error
	if first.Hash, err = hashFrom(fh, "record", fi); err != nil {
		return store.Exhibit{}, err
	}
	if head.Hash, err = hashFrom(hh, "record", hi); err != nil {
		return store.Exhibit{}, err
	}
	e, err := store.ExhibitFrom(first, head)
	if err != nil {
		return store.Exhibit{}, fmt.Errorf("pgstore: %w", err)
	}
	return e, nil
}

func exhibitByID(ctx context.Context, q querier, id string) (store.Exhibit, error) {
	return scanExhibit(q.QueryRow(ctx, exhibitQuery+`f.chain = $1 AND f.seq = 1`, id))
}

func exhibitByRef(ctx context.Context, q querier, ref string) (store.Exhibit, error) {
	ini, num, err := chain.ParseRef(ref)
	if err != nil {
		return store.Exhibit{}, fmt.Errorf("%w: %v", store.ErrNotFound, err)
	}
	return scanExhibit(q.QueryRow(ctx, exhibitQuery+`f.ex_initials = $1 AND f.ex_num = $2`, ini, int64(num)))
}

// Exhibit returns an exhibit by id.
func (s *Store) Exhibit(ctx context.Context, id string) (store.Exhibit, error) {
	return exhibitByID(ctx, s.pool, id)
}

// ExhibitByRef returns an exhibit by reference.
func (s *Store) ExhibitByRef(ctx context.Context, ref string) (store.Exhibit, error) {
	return exhibitByRef(ctx, s.pool, ref)
}

// Exhibits lists a case's exhibits in reference order (initials by their
// bytes, as in every engine, whatever the database's collation).
func (s *Store) Exhibits(ctx context.Context, caseRef string) ([]store.Exhibit, error) {
	rows, err := s.pool.Query(ctx, exhibitQuery+`f.ex_case = $1 ORDER BY f.ex_initials COLLATE "C", f.ex_num`, caseRef)
	if err != nil {
		return nil, fmt.Errorf("pgstore: exhibits: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Exhibit, error) { return scanExhibit(r) })
	if err != nil {
		return nil, fmt.Errorf("pgstore: exhibits: %w", err)
	}
	return list, nil
}

func scanCheckpoint(row pgx.CollectableRow) (store.Checkpoint, error) {
	var c store.Checkpoint
	var size int64
	var issued string
	if err := row.Scan(&size, &c.Note, &issued); err != nil {
		return c, err
	}
	c.Size = uint64(size)
	var err error
	if c.Issued, err = time.Parse(time.RFC3339Nano, issued); err != nil {
		return c, fmt.Errorf("checkpoint %d: %w", size, err)
	}
	return c, nil
}

// Checkpoints returns every checkpoint issued, by size.
func (s *Store) Checkpoints(ctx context.Context) ([]store.Checkpoint, error) {
	rows, err := s.pool.Query(ctx, `SELECT size, note, issued FROM checkpoints ORDER BY size`)
	if err != nil {
		return nil, fmt.Errorf("pgstore: checkpoints: %w", err)
	}
	cs, err := pgx.CollectRows(rows, scanCheckpoint)
	if err != nil {
		return nil, fmt.Errorf("pgstore: checkpoints: %w", err)
	}
	return cs, nil
}

// LatestCheckpoint returns the largest checkpoint issued.
func (s *Store) LatestCheckpoint(ctx context.Context) (store.Checkpoint, error) {
	rows, err := s.pool.Query(ctx, `SELECT size, note, issued FROM checkpoints ORDER BY size DESC LIMIT 1`)
	if err != nil {
		return store.Checkpoint{}, fmt.Errorf("pgstore: checkpoints: %w", err)
	}
	cs, err := pgx.CollectRows(rows, scanCheckpoint)
	if err != nil {
		return store.Checkpoint{}, fmt.Errorf("pgstore: checkpoints: %w", err)
	}
	if len(cs) == 0 {
		return store.Checkpoint{}, store.ErrNotFound
	}
	return cs[0], nil
}

// InlineBlob returns a blob kept inline.
func (s *Store) InlineBlob(ctx context.Context, h chain.Hash) ([]byte, error) {
	var b []byte
	err := s.pool.QueryRow(ctx, `SELECT data FROM blobs WHERE hash = $1`, h[:]).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("inline blob %s: %w", h, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: inline blob %s: %w", h, err)
	}
	return b, nil
}

// InlineBlobs lists the inline blobs in hash order.
func (s *Store) InlineBlobs(ctx context.Context, fn func(chain.Hash, int64) error) error {
	rows, err := s.pool.Query(ctx, `SELECT hash, length(data) FROM blobs ORDER BY hash`)
	if err != nil {
		return fmt.Errorf("pgstore: inline blobs: %w", err)
	}
	type hn struct {
		h chain.Hash
		n int64
	}
	// Collected first: fn may read the store, and must not hold this
	// query's connection while it does.
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (hn, error) {
		var b []byte
		var n int64
		if err := r.Scan(&b, &n); err != nil {
			return hn{}, err
		}
		h, err := hashFrom(b, "inline blob", 0)
		return hn{h, n}, err
	})
	if err != nil {
		return fmt.Errorf("pgstore: inline blobs: %w", err)
	}
	for _, x := range list {
		if err := fn(x.h, x.n); err != nil {
			return err
		}
	}
	return nil
}

// Claimed returns the log index of the record that claimed key.
func (s *Store) Claimed(ctx context.Context, key string) (uint64, error) {
	var idx int64
	err := s.pool.QueryRow(ctx, `SELECT idx FROM claims WHERE key = $1`, []byte(key)).Scan(&idx)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("claim %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("pgstore: claim %q: %w", key, err)
	}
	return uint64(idx), nil
}

// readHashes reads tree nodes by storage index in one statement: interior
// nodes from the tree table, a leaf (level 0) computed from its record's
// hash.
func readHashes(ctx context.Context, q querier, indexes []int64) ([]chain.Hash, error) {
	out := make([]chain.Hash, len(indexes))
	if len(indexes) == 0 {
		return out, nil
	}
	type want struct {
		leaf bool
		key  int64
	}
	wants := make(map[want][]int, len(indexes))
	var nodeKeys, leafKeys []int64
	for i, x := range indexes {
		if x < 0 {
			return nil, fmt.Errorf("pgstore: tree: negative index %d: %w", x, tlog.ErrMissingNode)
		}
		level, n := xtlog.SplitStoredHashIndex(x)
		w := want{false, x}
		if level == 0 {
			w = want{true, n}
		}
		if _, dup := wants[w]; !dup {
			if w.leaf {
				leafKeys = append(leafKeys, n)
			} else {
				nodeKeys = append(nodeKeys, x)
			}
		}
		wants[w] = append(wants[w], i)
	}
	rows, err := q.Query(ctx, `SELECT false, idx, hash FROM tree WHERE idx = ANY($1::bigint[])
		UNION ALL SELECT true, idx, hash FROM records WHERE idx = ANY($2::bigint[])`, nodeKeys, leafKeys)
	if err != nil {
		return nil, fmt.Errorf("pgstore: tree: %w", err)
	}
	found := 0
	var leaf bool
	var idx int64
	var b []byte
	_, err = pgx.ForEachRow(rows, []any{&leaf, &idx, &b}, func() error {
		h, err := hashFrom(b, "tree node", idx)
		if err != nil {
			return err
		}
		if leaf {
			h = tlog.LeafHash(h)
		}
		for _, i := range wants[want{leaf, idx}] {
			out[i] = h
		}
		found++
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: tree: %w", err)
	}
	if total := len(nodeKeys) + len(leafKeys); found != total {
		return nil, fmt.Errorf("pgstore: tree: %d of %d requested nodes: %w (%w)", total-found, total, tlog.ErrMissingNode, store.ErrNotFound)
	}
	return out, nil
}

// ReadHashes returns stored tree nodes by storage index.
func (s *Store) ReadHashes(ctx context.Context, indexes []int64) ([]chain.Hash, error) {
	return readHashes(ctx, s.pool, indexes)
}
