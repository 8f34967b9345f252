package enrol

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/exhibit-forensics/exhibit/chain/store/pgstore"
	"github.com/exhibit-forensics/exhibit/chain/witness"
)

// PGRegistry is the Registry, and the witness's State, in a PostgreSQL
// database (pgx's database/sql driver, opened by chain/store/pgstore.OpenDB
// so that the driver stays in its store package), for several hub processes sharing
// one database: what one process writes, every other reads at its next
// query (nothing is cached). docs/hub-enrolment.md gives the schema and the
// concurrency rules, precise enough for another implementation to share
// the database.
type PGRegistry struct{ db *sql.DB }

var (
	_ Registry      = (*PGRegistry)(nil)
	_ witness.State = (*PGRegistry)(nil)
)

// pgMaxConns bounds each PGRegistry's connections.
const pgMaxConns = 8

// pgSchemaVersion is registry_schema.version.
const pgSchemaVersion = 1

// pgSchemaLock is the advisory lock key OpenPostgres holds while it
// creates the tables ("hubr"; chain/store/pgstore uses another key).
const pgSchemaLock = 0x68756272

const pgSchema = `
CREATE TABLE IF NOT EXISTS registry_schema (
	id      integer PRIMARY KEY CHECK (id = 1),
	version integer NOT NULL,
	hub     text,               -- the hub id Init bound the database to; NULL: not yet
	ca      text                -- that hub's CA fingerprint, hex SHA-256 of its SubjectPublicKeyInfo
);
CREATE TABLE IF NOT EXISTS codes (
	hash    bytea PRIMARY KEY CHECK (length(hash) = 32),
	created timestamptz NOT NULL,
	expires timestamptz NOT NULL,
	used    timestamptz,
	device  text
);
CREATE TABLE IF NOT EXISTS devices (
	id       text PRIMARY KEY,
	origin   text NOT NULL UNIQUE,
	public   bytea NOT NULL CHECK (length(public) = 32),
	enrolled timestamptz NOT NULL,
	revoked  timestamptz,
	reason   text NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS certs (
	serial    text PRIMARY KEY,
	device    text NOT NULL REFERENCES devices (id),
	issued    timestamptz NOT NULL,
	not_after timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS witnessed (
	origin text PRIMARY KEY,
	size   bigint NOT NULL CHECK (size >= 0),
	root   bytea NOT NULL CHECK (length(root) = 32),
	note   bytea NOT NULL
);`

// IsPostgresURL reports whether s names a PostgreSQL database
// (postgres:// or postgresql://).
func IsPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// OpenPostgres connects to the database at dbURL (postgres://…) and creates
// the registry's tables if they are not there: idempotently, in one
// transaction holding an advisory lock, so that hub processes starting
// together do not race. A database whose registry_schema.version is not
// this one's is refused.
func OpenPostgres(ctx context.Context, dbURL string) (*PGRegistry, error) {
	if !IsPostgresURL(dbURL) {
		return nil, fmt.Errorf("registry: %q is not a postgres:// URL", RedactDB(dbURL))
	}
	db, err := pgstore.OpenDB(dbURL)
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", RedactDB(dbURL), err)
	}
	// A bound on this process's connections, so that several hub
	// processes stay well inside the server's max_connections (100 by
	// default). No method uses a second connection while it holds one.
	db.SetMaxOpenConns(pgMaxConns)
	db.SetMaxIdleConns(pgMaxConns)
	err = inTx(ctx, db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(pgSchemaLock)); err != nil {
			return fmt.Errorf("schema lock: %w", err)
		}
		if _, err := tx.ExecContext(ctx, pgSchema); err != nil {
			return fmt.Errorf("schema: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO registry_schema (id, version) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`, pgSchemaVersion); err != nil {
			return fmt.Errorf("schema: %w", err)
		}
		var v int
		if err := tx.QueryRowContext(ctx, `SELECT version FROM registry_schema WHERE id = 1`).Scan(&v); err != nil {
			return fmt.Errorf("schema: %w", err)
		}
		if v != pgSchemaVersion {
			return fmt.Errorf("registry schema version %d is not %d: made by another version of Exhibit", v, pgSchemaVersion)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("registry %s: %w", RedactDB(dbURL), err)
	}
	return &PGRegistry{db: db}, nil
}

// inTx runs fn in a transaction (READ COMMITTED, the server's default),
// committed if fn returns nil and rolled back otherwise.
func inTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// RedactDB returns a database URL fit for logs and hub.json: without the
// password (in the user part, or a password or sslpassword parameter).
// A string that is not a URL is replaced by a placeholder.
func RedactDB(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return "(a database address that is not a URL; not shown)"
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	q := u.Query()
	for _, k := range []string{"password", "sslpassword"} {
		q.Del(k)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Close closes the connections.
func (p *PGRegistry) Close() error {
	return p.db.Close()
}

// pgErr wraps a database error with the registry's context.
func pgErr(what string, err error) error { return fmt.Errorf("registry: %s: %w", what, err) }

func (p *PGRegistry) AddCode(ctx context.Context, hash [32]byte, created, expires time.Time) error {
	if _, err := p.db.ExecContext(ctx, `INSERT INTO codes (hash, created, expires) VALUES ($1, $2, $3)`, hash[:], created, expires); err != nil {
		return pgErr("add code", err)
	}
	return nil
}

// Enrol takes the code first, with an UPDATE that only an unused, unexpired
// code matches: a concurrent Enrol with the same code waits on the row's
// lock and then, at READ COMMITTED, finds it used (or usable again if the
// first rolled back). The device row is then locked (SELECT … FOR UPDATE)
// so a revocation waits for, or is seen by, the enrolment.
func (p *PGRegistry) Enrol(ctx context.Context, e Enrolment) error {
	return inTx(ctx, p.db, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE codes SET used = $1, device = $2 WHERE hash = $3 AND used IS NULL AND expires > $1`,
			e.At, e.Device.ID, e.CodeHash[:])
		if err != nil {
			return pgErr("enrol", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return pgErr("enrol", err)
		} else if n != 1 {
			return codeRefusal(ctx, tx, e.CodeHash)
		}
		d, err := scanPGDevice(tx.QueryRowContext(ctx, pgDeviceQuery+` WHERE id = $1 FOR UPDATE`, e.Device.ID))
		if errors.Is(err, ErrUnknown) {
			ins, ierr := tx.ExecContext(ctx, `INSERT INTO devices (id, origin, public, enrolled) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
				e.Device.ID, e.Device.Origin, []byte(e.Device.Public), e.At)
			if ierr != nil {
				return pgErr("enrol", ierr)
			}
			if n, ierr := ins.RowsAffected(); ierr != nil {
				return pgErr("enrol", ierr)
			} else if n == 1 {
				d, err = nil, nil
			} else {
				// Another transaction took the id or the origin
				// meanwhile: judge against what it committed.
				d, err = scanPGDevice(tx.QueryRowContext(ctx, pgDeviceQuery+` WHERE id = $1 FOR UPDATE`, e.Device.ID))
				if errors.Is(err, ErrUnknown) {
					var other string
					if err := tx.QueryRowContext(ctx, `SELECT id FROM devices WHERE origin = $1`, e.Device.Origin).Scan(&other); err != nil {
						return pgErr("enrol", err)
					}
					return fmt.Errorf("%w: %s", ErrOriginInUse, other)
				}
			}
		}
		switch {
		case err != nil:
			return err
		case d == nil: // inserted
		case d.IsRevoked():
			return fmt.Errorf("%w at %s: %s", ErrRevoked, d.Revoked.Format(time.RFC3339), d.Reason)
		case !d.Public.Equal(e.Device.Public):
			return fmt.Errorf("%w: %s", ErrKeyMismatch, d.ID)
		case d.Origin != e.Device.Origin:
			return fmt.Errorf("%w: %s has origin %s", ErrOriginInUse, d.ID, d.Origin)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO certs (serial, device, issued, not_after) VALUES ($1, $2, $3, $4)`,
			e.Serial, e.Device.ID, e.At, e.NotAfter); err != nil {
			return pgErr("enrol", err)
		}
		return nil
	})
}

// codeRefusal says why a code could not be used.
func codeRefusal(ctx context.Context, tx *sql.Tx, hash [32]byte) error {
	var expires time.Time
	var used sql.NullTime
	err := tx.QueryRowContext(ctx, `SELECT expires, used FROM codes WHERE hash = $1`, hash[:]).Scan(&expires, &used)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return ErrCodeUnknown
	case err != nil:
		return pgErr("enrol", err)
	case used.Valid:
		return fmt.Errorf("%w (at %s)", ErrCodeUsed, used.Time.UTC().Format(time.RFC3339))
	default:
		return fmt.Errorf("%w (at %s)", ErrCodeExpired, expires.UTC().Format(time.RFC3339))
	}
}

const pgDeviceQuery = `SELECT id, origin, public, enrolled, revoked, reason FROM devices`

func scanPGDevice(r row) (*Device, error) {
	var d Device
	var pub []byte
	var enrolled time.Time
	var revoked sql.NullTime
	if err := r.Scan(&d.ID, &d.Origin, &pub, &enrolled, &revoked, &d.Reason); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrUnknown
		}
		return nil, pgErr("device", err)
	}
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("registry: device %s has a %d-byte key", d.ID, len(pub))
	}
	d.Public = ed25519.PublicKey(pub)
	d.Enrolled = enrolled.UTC()
	if revoked.Valid {
		d.Revoked = revoked.Time.UTC()
	}
	return &d, nil
}

func (p *PGRegistry) Device(ctx context.Context, id string) (*Device, error) {
	d, err := scanPGDevice(p.db.QueryRowContext(ctx, pgDeviceQuery+` WHERE id = $1`, id))
	if errors.Is(err, ErrUnknown) {
		return nil, fmt.Errorf("%w: %s", ErrUnknown, clip(id))
	}
	return d, err
}

func (p *PGRegistry) DeviceByOrigin(ctx context.Context, origin string) (*Device, error) {
	d, err := scanPGDevice(p.db.QueryRowContext(ctx, pgDeviceQuery+` WHERE origin = $1`, origin))
	if errors.Is(err, ErrUnknown) {
		return nil, fmt.Errorf("%w: no device has log %s", ErrUnknown, clip(origin))
	}
	return d, err
}

func (p *PGRegistry) CertDevice(ctx context.Context, serial string) (*Device, error) {
	d, err := scanPGDevice(p.db.QueryRowContext(ctx, pgDeviceQuery+` WHERE id = (SELECT device FROM certs WHERE serial = $1)`, serial))
	if errors.Is(err, ErrUnknown) {
		return nil, fmt.Errorf("%w: serial %s", ErrUnknownCert, clip(serial))
	}
	return d, err
}

// Revoke is one UPDATE that only a device not yet revoked matches, so two
// revocations racing leave the first's time and reason.
func (p *PGRegistry) Revoke(ctx context.Context, id, reason string, at time.Time) (*Device, error) {
	d, err := scanPGDevice(p.db.QueryRowContext(ctx, `UPDATE devices SET revoked = $2, reason = $3 WHERE id = $1 AND revoked IS NULL
		RETURNING id, origin, public, enrolled, revoked, reason`, id, at, reason))
	if errors.Is(err, ErrUnknown) {
		// Unknown, or revoked already: as it is.
		return p.Device(ctx, id)
	}
	return d, err
}

func (p *PGRegistry) Devices(ctx context.Context) ([]Device, error) {
	rows, err := p.db.QueryContext(ctx, pgDeviceQuery+` ORDER BY enrolled, id`)
	if err != nil {
		return nil, pgErr("devices", err)
	}
	defer rows.Close()
	var out []Device
	for rows.Next() {
		d, err := scanPGDevice(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *d)
	}
	if err := rows.Err(); err != nil {
		return nil, pgErr("devices", err)
	}
	return out, nil
}

// Latest is witness.State's: the latest checkpoint co-signed for origin.
func (p *PGRegistry) Latest(ctx context.Context, origin string) (*witness.Witnessed, error) {
	var w witness.Witnessed
	var size int64
	var root []byte
	err := p.db.QueryRowContext(ctx, `SELECT size, root, note FROM witnessed WHERE origin = $1`, origin).Scan(&size, &root, &w.Note)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, pgErr("witnessed "+clip(origin), err)
	}
	if len(root) != len(w.Root) || size < 0 {
		return nil, fmt.Errorf("witnessed %s: a %d-byte root at size %d", clip(origin), len(root), size)
	}
	w.Size = uint64(size)
	copy(w.Root[:], root)
	return &w, nil
}

// Swap is witness.State's compare-and-swap, one statement: an INSERT that
// does nothing if the log has a row (old nil), or an UPDATE that matches
// only the old size and root. Two Swaps from one old state, in any
// processes, serialise on the row (or on the primary key) and the second
// changes no row: witness.ErrStale.
func (p *PGRegistry) Swap(ctx context.Context, origin string, old, new *witness.Witnessed) error {
	if new == nil || new.Size > math.MaxInt64 || (old != nil && old.Size > math.MaxInt64) {
		return fmt.Errorf("witnessed %s: a size beyond 2^63-1, or no new state", clip(origin))
	}
	var res sql.Result
	var err error
	if old == nil {
		res, err = p.db.ExecContext(ctx, `INSERT INTO witnessed (origin, size, root, note) VALUES ($1, $2, $3, $4) ON CONFLICT (origin) DO NOTHING`,
			origin, int64(new.Size), new.Root[:], new.Note)
	} else {
		res, err = p.db.ExecContext(ctx, `UPDATE witnessed SET size = $2, root = $3, note = $4 WHERE origin = $1 AND size = $5 AND root = $6`,
			origin, int64(new.Size), new.Root[:], new.Note, int64(old.Size), old.Root[:])
	}
	if err != nil {
		return pgErr("witnessed "+clip(origin), err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return pgErr("witnessed "+clip(origin), err)
	} else if n != 1 {
		return witness.ErrStale
	}
	return nil
}

// ErrOtherHub: a database bound to another hub (another CA).
var ErrOtherHub = errors.New("the database holds another hub's state")

// bind ties the database to a hub (Init): the hub id and CA fingerprint go
// into registry_schema. A database already bound to another CA is refused
// unless it holds no codes, devices or witnessed checkpoints (an Init that
// crashed before hub.json was written).
func (p *PGRegistry) bind(ctx context.Context, hubID, ca string) error {
	return inTx(ctx, p.db, func(tx *sql.Tx) error {
		var hub, fp sql.NullString
		if err := tx.QueryRowContext(ctx, `SELECT hub, ca FROM registry_schema WHERE id = 1 FOR UPDATE`).Scan(&hub, &fp); err != nil {
			return pgErr("bind", err)
		}
		if fp.Valid && fp.String != ca {
			var used bool
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM codes) OR EXISTS (SELECT 1 FROM devices) OR EXISTS (SELECT 1 FROM witnessed)`).Scan(&used); err != nil {
				return pgErr("bind", err)
			}
			if used {
				return fmt.Errorf("%w: hub %s, CA sha256:%s (a database serves one hub: give this one its own)", ErrOtherHub, hub.String, fp.String)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE registry_schema SET hub = $1, ca = $2 WHERE id = 1`, hubID, ca); err != nil {
			return pgErr("bind", err)
		}
		return nil
	})
}

// checkBound refuses a database that Init did not bind to this hub's CA.
func (p *PGRegistry) checkBound(ctx context.Context, hubID, ca string) error {
	var hub, fp sql.NullString
	if err := p.db.QueryRowContext(ctx, `SELECT hub, ca FROM registry_schema WHERE id = 1`).Scan(&hub, &fp); err != nil {
		return pgErr("open", err)
	}
	switch {
	case !fp.Valid:
		return fmt.Errorf("%w: the database was not made by `exhibit hub init` for hub %s (it holds no hub's state)", ErrNotInitialised, hubID)
	case fp.String != ca:
		return fmt.Errorf("%w: hub %s, CA sha256:%s, not this hub %s", ErrOtherHub, hub.String, fp.String, hubID)
	}
	return nil
}
