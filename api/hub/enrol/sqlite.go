package enrol

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/exhibit-forensics/exhibit/chain/store/sqlitestore"
	"github.com/exhibit-forensics/exhibit/chain/witness"
)

// SQLite is the Registry, and the witness's State, in one SQLite database
// opened by chain/store/sqlitestore.OpenDB (WAL, synchronous=FULL, write
// transactions begun IMMEDIATE, so that two enrolments with one code are
// serialised, not both read it as unused).
type SQLite struct{ db *sql.DB }

var (
	_ Registry      = (*SQLite)(nil)
	_ witness.State = (*SQLite)(nil)
)

const schema = `
CREATE TABLE IF NOT EXISTS codes (
	hash    BLOB PRIMARY KEY,     -- SHA-256 of the code's 25 bytes
	created INTEGER NOT NULL,     -- Unix nanoseconds
	expires INTEGER NOT NULL,
	used    INTEGER,              -- when it was used; NULL: not yet
	device  TEXT                  -- the device that used it
);
CREATE TABLE IF NOT EXISTS devices (
	id       TEXT PRIMARY KEY,
	origin   TEXT NOT NULL UNIQUE,
	public   BLOB NOT NULL,       -- Ed25519 public key, 32 bytes
	enrolled INTEGER NOT NULL,
	revoked  INTEGER,             -- NULL: not revoked
	reason   TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS certs (
	serial    TEXT PRIMARY KEY,   -- lower-case hex
	device    TEXT NOT NULL REFERENCES devices(id),
	issued    INTEGER NOT NULL,
	not_after INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS witnessed (
	origin TEXT PRIMARY KEY,
	size   INTEGER NOT NULL,
	root   BLOB NOT NULL,
	note   BLOB NOT NULL
);`

// OpenSQLite opens or creates the registry database at path.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	db := sqlitestore.OpenDB(path)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("registry %s: %w", path, err)
	}
	return &SQLite{db: db}, nil
}

func (s *SQLite) Close() error { return s.db.Close() }

func nanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

func (s *SQLite) AddCode(ctx context.Context, hash [32]byte, created, expires time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO codes (hash, created, expires) VALUES (?, ?, ?)`, hash[:], nanos(created), nanos(expires))
	return err
}

func (s *SQLite) Enrol(ctx context.Context, e Enrolment) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var expires int64
	var used sql.NullInt64
	err = tx.QueryRowContext(ctx, `SELECT expires, used FROM codes WHERE hash = ?`, e.CodeHash[:]).Scan(&expires, &used)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return ErrCodeUnknown
	case err != nil:
		return err
	case used.Valid:
		return fmt.Errorf("%w (at %s)", ErrCodeUsed, fromNanos(used).Format(time.RFC3339))
	case nanos(e.At) >= expires:
		return fmt.Errorf("%w (at %s)", ErrCodeExpired, time.Unix(0, expires).UTC().Format(time.RFC3339))
	}
	d, err := scanDevice(tx.QueryRowContext(ctx, deviceQuery+` WHERE id = ?`, e.Device.ID))
	switch {
	case errors.Is(err, ErrUnknown):
		var other string
		if err := tx.QueryRowContext(ctx, `SELECT id FROM devices WHERE origin = ?`, e.Device.Origin).Scan(&other); err == nil {
			return fmt.Errorf("%w: %s", ErrOriginInUse, other)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO devices (id, origin, public, enrolled) VALUES (?, ?, ?, ?)`,
			e.Device.ID, e.Device.Origin, []byte(e.Device.Public), nanos(e.At)); err != nil {
			return err
		}
	case err != nil:
		return err
	case d.IsRevoked():
		return fmt.Errorf("%w at %s: %s", ErrRevoked, d.Revoked.Format(time.RFC3339), d.Reason)
	case !d.Public.Equal(e.Device.Public):
		return fmt.Errorf("%w: %s", ErrKeyMismatch, d.ID)
	case d.Origin != e.Device.Origin:
		return fmt.Errorf("%w: %s has origin %s", ErrOriginInUse, d.ID, d.Origin)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO certs (serial, device, issued, not_after) VALUES (?, ?, ?, ?)`,
		e.Serial, e.Device.ID, nanos(e.At), nanos(e.NotAfter)); err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `UPDATE codes SET used = ?, device = ? WHERE hash = ? AND used IS NULL`, nanos(e.At), e.Device.ID, e.CodeHash[:])
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("%w (meanwhile)", ErrCodeUsed)
	}
	return tx.Commit()
}

const deviceQuery = `SELECT id, origin, public, enrolled, revoked, reason FROM devices`

type row interface{ Scan(...any) error }

func scanDevice(r row) (*Device, error) {
	var d Device
	var pub []byte
	var enrolled int64
	var revoked sql.NullInt64
	if err := r.Scan(&d.ID, &d.Origin, &pub, &enrolled, &revoked, &d.Reason); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrUnknown
		}
		return nil, err
	}
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("registry: device %s has a %d-byte key", d.ID, len(pub))
	}
	d.Public = ed25519.PublicKey(pub)
	d.Enrolled = time.Unix(0, enrolled).UTC()
	d.Revoked = fromNanos(revoked)
	return &d, nil
}

func (s *SQLite) Device(ctx context.Context, id string) (*Device, error) {
	d, err := scanDevice(s.db.QueryRowContext(ctx, deviceQuery+` WHERE id = ?`, id))
	if errors.Is(err, ErrUnknown) {
		return nil, fmt.Errorf("%w: %s", ErrUnknown, clip(id))
	}
	return d, err
}

func (s *SQLite) DeviceByOrigin(ctx context.Context, origin string) (*Device, error) {
	d, err := scanDevice(s.db.QueryRowContext(ctx, deviceQuery+` WHERE origin = ?`, origin))
	if errors.Is(err, ErrUnknown) {
		return nil, fmt.Errorf("%w: no device has log %s", ErrUnknown, clip(origin))
	}
	return d, err
}

func (s *SQLite) CertDevice(ctx context.Context, serial string) (*Device, error) {
	d, err := scanDevice(s.db.QueryRowContext(ctx, deviceQuery+` WHERE id = (SELECT device FROM certs WHERE serial = ?)`, serial))
	if errors.Is(err, ErrUnknown) {
		return nil, fmt.Errorf("%w: serial %s", ErrUnknownCert, clip(serial))
	}
	return d, err
}

func (s *SQLite) Revoke(ctx context.Context, id, reason string, at time.Time) (*Device, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	d, err := scanDevice(tx.QueryRowContext(ctx, deviceQuery+` WHERE id = ?`, id))
	if errors.Is(err, ErrUnknown) {
		return nil, fmt.Errorf("%w: %s", ErrUnknown, clip(id))
	}
	if err != nil || d.IsRevoked() {
		return d, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE devices SET revoked = ?, reason = ? WHERE id = ?`, nanos(at), reason, id); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	d.Revoked, d.Reason = at.UTC(), reason
	return d, nil
}

func (s *SQLite) Devices(ctx context.Context) ([]Device, error) {
	rows, err := s.db.QueryContext(ctx, deviceQuery+` ORDER BY enrolled, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *d)
	}
	return out, rows.Err()
}

// Latest is witness.State's: the latest checkpoint co-signed for origin.
func (s *SQLite) Latest(ctx context.Context, origin string) (*witness.Witnessed, error) {
	var w witness.Witnessed
	var root []byte
	err := s.db.QueryRowContext(ctx, `SELECT size, root, note FROM witnessed WHERE origin = ?`, origin).Scan(&w.Size, &root, &w.Note)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(root) != len(w.Root) {
		return nil, fmt.Errorf("witnessed %s: a %d-byte root", origin, len(root))
	}
	copy(w.Root[:], root)
	return &w, nil
}

// Swap is witness.State's: it replaces old with new atomically.
func (s *SQLite) Swap(ctx context.Context, origin string, old, new *witness.Witnessed) error {
	var res sql.Result
	var err error
	if old == nil {
		res, err = s.db.ExecContext(ctx, `INSERT INTO witnessed (origin, size, root, note) VALUES (?, ?, ?, ?) ON CONFLICT (origin) DO NOTHING`,
			origin, new.Size, new.Root[:], new.Note)
	} else {
		res, err = s.db.ExecContext(ctx, `UPDATE witnessed SET size = ?, root = ?, note = ? WHERE origin = ? AND size = ? AND root = ?`,
			new.Size, new.Root[:], new.Note, origin, old.Size, old.Root[:])
	}
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return witness.ErrStale
	}
	return nil
}
