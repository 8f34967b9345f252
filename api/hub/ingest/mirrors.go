package ingest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/store/memstore"
	"github.com/exhibit-forensics/exhibit/chain/store/pgstore"
	"github.com/exhibit-forensics/exhibit/chain/store/sqlitestore"
)

// checkID refuses a device id that is not a UUID, before it names a file
// or a schema.
func checkID(id string) error {
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		return fmt.Errorf("ingest: device id %q is not a UUID", id)
	}
	return nil
}

// alarmKey is what makes an alarm the same as one recorded before.
func alarmKey(a Alarm) string {
	return fmt.Sprintf("%s|%s|%d|%s", a.DeviceID, a.Kind, a.Index, a.Got)
}

// MemMirrors keeps mirrors (chain/store/memstore) and alarms in memory:
// for tests. A mirror opened again after Close is the same log.
type MemMirrors struct {
	mu     sync.Mutex
	dbs    map[string]*memstore.DB
	alarms []Alarm
	keys   map[string]bool
}

// NewMemMirrors returns empty in-memory mirrors.
func NewMemMirrors() *MemMirrors {
	return &MemMirrors{dbs: map[string]*memstore.DB{}, keys: map[string]bool{}}
}

// Open opens (creating) the device's mirror.
func (m *MemMirrors) Open(_ context.Context, deviceID string) (store.Store, error) {
	if err := checkID(deviceID); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	db, ok := m.dbs[deviceID]
	if !ok {
		db = memstore.NewDB()
		m.dbs[deviceID] = db
	}
	return db.Open(), nil
}

// Add records an alarm.
func (m *MemMirrors) Add(_ context.Context, a Alarm) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := alarmKey(a)
	if m.keys[k] {
		return false, nil
	}
	m.keys[k] = true
	m.alarms = append(m.alarms, a)
	return true, nil
}

// List lists the alarms in the order recorded.
func (m *MemMirrors) List(context.Context) ([]Alarm, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Alarm(nil), m.alarms...), nil
}

// Quarantined reports whether the device has an alarm.
func (m *MemMirrors) Quarantined(_ context.Context, deviceID string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range m.alarms {
		if a.DeviceID == deviceID {
			return true, nil
		}
	}
	return false, nil
}

// SQLite keeps each device's mirror in DIR/<device-id>.db
// (chain/store/sqlitestore) and the alarms in DIR/alarms.db.
type SQLite struct {
	dir string

	once sync.Once
	db   *sql.DB
	err  error
}

// SQLiteMirrors returns the mirrors kept in dir (created if missing).
func SQLiteMirrors(dir string) *SQLite { return &SQLite{dir: dir} }

// Open opens (creating) the device's mirror.
func (s *SQLite) Open(ctx context.Context, deviceID string) (store.Store, error) {
	if err := checkID(deviceID); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	return sqlitestore.Open(ctx, filepath.Join(s.dir, deviceID+".db"))
}

const sqliteAlarms = `CREATE TABLE IF NOT EXISTS alarms (
	seq      INTEGER PRIMARY KEY AUTOINCREMENT,
	key      TEXT NOT NULL UNIQUE,   -- device|kind|index|got: recorded once
	device   TEXT NOT NULL,
	origin   TEXT NOT NULL,
	kind     TEXT NOT NULL,
	idx      INTEGER NOT NULL,
	held     BLOB NOT NULL,
	got      BLOB NOT NULL,
	evidence BLOB NOT NULL,
	at       INTEGER NOT NULL        -- Unix nanoseconds
);
CREATE INDEX IF NOT EXISTS alarms_device ON alarms (device);`

func (s *SQLite) alarmDB(ctx context.Context) (*sql.DB, error) {
	s.once.Do(func() {
		if s.err = os.MkdirAll(s.dir, 0o700); s.err != nil {
			return
		}
		s.db = sqlitestore.OpenDB(filepath.Join(s.dir, "alarms.db"))
		if _, s.err = s.db.ExecContext(ctx, sqliteAlarms); s.err != nil {
			s.db.Close()
		}
	})
	if s.err != nil {
		return nil, fmt.Errorf("ingest: alarms database: %w", s.err)
	}
	return s.db, nil
}

// Add records an alarm durably.
func (s *SQLite) Add(ctx context.Context, a Alarm) (bool, error) {
	db, err := s.alarmDB(ctx)
	if err != nil {
		return false, err
	}
	res, err := db.ExecContext(ctx, `INSERT INTO alarms (key, device, origin, kind, idx, held, got, evidence, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING`,
		alarmKey(a), a.DeviceID, a.Origin, a.Kind, int64(a.Index), a.Held[:], a.Got[:], nonNil(a.Evidence), a.At.UnixNano())
	if err != nil {
		return false, fmt.Errorf("ingest: record alarm: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// List lists the alarms in the order recorded.
func (s *SQLite) List(ctx context.Context) ([]Alarm, error) {
	db, err := s.alarmDB(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT device, origin, kind, idx, held, got, evidence, at FROM alarms ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("ingest: alarms: %w", err)
	}
	defer rows.Close()
	var out []Alarm
	for rows.Next() {
		var a Alarm
		var idx, at int64
		var held, got []byte
		if err := rows.Scan(&a.DeviceID, &a.Origin, &a.Kind, &idx, &held, &got, &a.Evidence, &at); err != nil {
			return nil, fmt.Errorf("ingest: alarms: %w", err)
		}
		a.Index, a.At = uint64(idx), time.Unix(0, at).UTC()
		copy(a.Held[:], held)
		copy(a.Got[:], got)
		out = append(out, a)
	}
	return out, rows.Err()
}

// Quarantined reports whether the device has an alarm.
func (s *SQLite) Quarantined(ctx context.Context, deviceID string) (bool, error) {
	db, err := s.alarmDB(ctx)
	if err != nil {
		return false, err
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM alarms WHERE device = ?`, deviceID).Scan(&n); err != nil {
		return false, fmt.Errorf("ingest: alarms: %w", err)
	}
	return n > 0, nil
}

// Close closes the alarms database.
func (s *SQLite) Close() error {
	if s.db != nil {
		return s.db.Close()
	}
	return nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// Postgres keeps each device's mirror in a PostgreSQL schema of its own,
// dev_ and the device's UUID without dashes (chain/store/pgstore, with
// that schema as the connections' search_path), and the alarms in the
// table ingest_alarms of the database's default schema.
type Postgres struct {
	url string
	// MaxConns is the connection pool size of each mirror (2 if zero).
	MaxConns int

	mu sync.Mutex
	db *sql.DB // schemas and alarms (pgstore.OpenDB)
}

// PostgresMirrors returns the mirrors kept in the database at url (a
// postgres:// URL).
func PostgresMirrors(url string) *Postgres { return &Postgres{url: url} }

// SchemaFor is the schema of a device's mirror.
func SchemaFor(deviceID string) string { return "dev_" + strings.ReplaceAll(deviceID, "-", "") }

// quoteIdent quotes a PostgreSQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// ddlLock is the advisory lock key held while the alarms table or a
// mirror's schema is created ("ingA"): concurrent CREATE … IF NOT EXISTS
// can still collide in the catalogue.
const ddlLock = 0x696e6741

const pgAlarms = `CREATE TABLE IF NOT EXISTS ingest_alarms (
	seq      bigserial PRIMARY KEY,
	key      text NOT NULL UNIQUE,   -- device|kind|index|got: recorded once
	device   text NOT NULL,
	origin   text NOT NULL,
	kind     text NOT NULL,
	idx      bigint NOT NULL,
	held     bytea NOT NULL,
	got      bytea NOT NULL,
	evidence bytea NOT NULL,
	at       timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS ingest_alarms_device ON ingest_alarms (device)`

// ddl runs stmts in one transaction holding ddlLock.
func ddl(ctx context.Context, db *sql.DB, stmts ...string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(ddlLock)); err != nil {
		return err
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (p *Postgres) admin(ctx context.Context) (*sql.DB, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.db != nil {
		return p.db, nil
	}
	db, err := pgstore.OpenDB(p.url)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	db.SetMaxOpenConns(2)
	if err := ddl(ctx, db, strings.Split(pgAlarms, ";\n")...); err != nil {
		db.Close()
		return nil, fmt.Errorf("ingest: alarms table: %w", err)
	}
	p.db = db
	return db, nil
}

// Open opens (creating) the device's mirror.
func (p *Postgres) Open(ctx context.Context, deviceID string) (store.Store, error) {
	if err := checkID(deviceID); err != nil {
		return nil, err
	}
	u, err := url.Parse(p.url)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("ingest: the database must be given as a postgres:// URL (%v)", err)
	}
	db, err := p.admin(ctx)
	if err != nil {
		return nil, err
	}
	schema := SchemaFor(deviceID)
	if err := ddl(ctx, db, `CREATE SCHEMA IF NOT EXISTS `+quoteIdent(schema)); err != nil {
		return nil, fmt.Errorf("ingest: schema %s: %w", schema, err)
	}
	q := u.Query()
	q.Set("search_path", schema) // a run-time parameter of every connection
	n := p.MaxConns
	if n <= 0 {
		n = 2
	}
	q.Set("pool_max_conns", fmt.Sprint(n))
	u.RawQuery = q.Encode()
	return pgstore.Open(ctx, u.String())
}

// Add records an alarm durably.
func (p *Postgres) Add(ctx context.Context, a Alarm) (bool, error) {
	db, err := p.admin(ctx)
	if err != nil {
		return false, err
	}
	res, err := db.ExecContext(ctx, `INSERT INTO ingest_alarms (key, device, origin, kind, idx, held, got, evidence, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (key) DO NOTHING`,
		alarmKey(a), a.DeviceID, a.Origin, a.Kind, int64(a.Index), a.Held[:], a.Got[:], nonNil(a.Evidence), a.At)
	if err != nil {
		return false, fmt.Errorf("ingest: record alarm: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// List lists the alarms in the order recorded.
func (p *Postgres) List(ctx context.Context) ([]Alarm, error) {
	db, err := p.admin(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT device, origin, kind, idx, held, got, evidence, at FROM ingest_alarms ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("ingest: alarms: %w", err)
	}
	defer rows.Close()
	var out []Alarm
	for rows.Next() {
		var a Alarm
		var idx int64
		var held, got []byte
		if err := rows.Scan(&a.DeviceID, &a.Origin, &a.Kind, &idx, &held, &got, &a.Evidence, &a.At); err != nil {
			return nil, fmt.Errorf("ingest: alarms: %w", err)
		}
		a.Index, a.At = uint64(idx), a.At.UTC()
		copy(a.Held[:], held)
		copy(a.Got[:], got)
		out = append(out, a)
	}
	return out, rows.Err()
}

// Quarantined reports whether the device has an alarm.
func (p *Postgres) Quarantined(ctx context.Context, deviceID string) (bool, error) {
	db, err := p.admin(ctx)
	if err != nil {
		return false, err
	}
	var yes bool
	if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM ingest_alarms WHERE device = $1)`, deviceID).Scan(&yes); err != nil {
		return false, fmt.Errorf("ingest: alarms: %w", err)
	}
	return yes, nil
}

// Close closes the administrative connections.
func (p *Postgres) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.db != nil {
		err := p.db.Close()
		p.db = nil
		return err
	}
	return nil
}

var (
	_ Opener   = (*MemMirrors)(nil)
	_ AlarmLog = (*MemMirrors)(nil)
	_ Opener   = (*SQLite)(nil)
	_ AlarmLog = (*SQLite)(nil)
	_ Opener   = (*Postgres)(nil)
	_ AlarmLog = (*Postgres)(nil)
)
