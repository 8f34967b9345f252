package enrol_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/api/hub/enrol"
	"github.com/exhibit-forensics/exhibit/api/hub/enrol/registrytest"
	"github.com/exhibit-forensics/exhibit/chain/store/pgstore"
)

// The conformance suite on SQLite: each handle is another *sql.DB on one
// file.
func TestConformanceSQLite(t *testing.T) {
	registrytest.Run(t, func(t *testing.T) func(t *testing.T) registrytest.Store {
		path := filepath.Join(t.TempDir(), enrol.DBFile)
		return func(t *testing.T) registrytest.Store {
			s, err := enrol.OpenSQLite(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
	})
}

// The conformance suite on PostgreSQL: each handle is another pool on one
// database.
func TestConformancePostgres(t *testing.T) {
	registrytest.Run(t, func(t *testing.T) func(t *testing.T) registrytest.Store {
		url := registrytest.PostgresURL(t)
		return func(t *testing.T) registrytest.Store {
			s, err := enrol.OpenPostgres(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
	})
}

// Opens of one new database at once all succeed (the schema is made once,
// under the advisory lock); a database of another schema version is
// refused; a URL that is not postgres:// is refused.
func TestOpenPostgres(t *testing.T) {
	ctx := context.Background()
	url := registrytest.PostgresURL(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := enrol.OpenPostgres(ctx, url)
			if err == nil {
				r.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent open: %v", err)
		}
	}
	c, err := pgstore.OpenDB(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, `UPDATE registry_schema SET version = 99`); err != nil {
		t.Fatal(err)
	}
	if _, err := enrol.OpenPostgres(ctx, url); err == nil || !strings.Contains(err.Error(), "version 99") {
		t.Fatalf("another schema version: %v", err)
	}
	for _, bad := range []string{"host=127.0.0.1 user=postgres", "mysql://x/y", ""} {
		if _, err := enrol.OpenPostgres(ctx, bad); err == nil || !strings.Contains(err.Error(), "not a postgres:// URL") {
			t.Fatalf("OpenPostgres(%q): %v", bad, err)
		}
	}
}

// Init with a database: the keys and hub.json in the directory, the state
// in PostgreSQL; hub.json names the database without its password. Open
// needs the database URL, refuses one for a SQLite hub, and refuses a
// database bound to another hub.
func TestInitOpenPostgres(t *testing.T) {
	ctx := context.Background()
	url := registrytest.PostgresURL(t)
	withPassword := strings.Replace(url, "postgres@", "postgres:not-checked-by-trust-auth@", 1)
	dir := t.TempDir()
	if err := enrol.Init(ctx, dir, "hub-pg", enrol.Options{DB: withPassword}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, enrol.DBFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a hub on PostgreSQL made %s: %v", enrol.DBFile, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, enrol.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct{ DB string }
	if err := json.Unmarshal(b, &cfg); err != nil || cfg.DB != url || strings.Contains(string(b), "not-checked") {
		t.Fatalf("hub.json: %s (%v)", b, err)
	}
	h, err := enrol.Open(ctx, dir, enrol.Options{DB: url})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := h.Registry.(*enrol.PGRegistry); !ok {
		t.Fatalf("registry %T", h.Registry)
	}
	if _, _, err := h.NewCode(ctx, enrol.CodeTTL); err != nil {
		t.Fatal(err)
	}
	h.Close()
	if _, err := enrol.Open(ctx, dir, enrol.Options{}); err == nil || !strings.Contains(err.Error(), "give the database's URL") {
		t.Fatalf("open without --db: %v", err)
	}

	// A SQLite hub given a database.
	sq := t.TempDir()
	if err := enrol.Init(ctx, sq, "hub-sq", enrol.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := enrol.Open(ctx, sq, enrol.Options{DB: url}); err == nil || !strings.Contains(err.Error(), "(SQLite)") {
		t.Fatalf("a SQLite hub opened on PostgreSQL: %v", err)
	}

	// Another hub on the same database: Init refuses (it holds codes), and
	// so does Open of a copy of that hub's directory with the database.
	other := t.TempDir()
	if err := enrol.Init(ctx, other, "hub-other", enrol.Options{DB: url}); !errors.Is(err, enrol.ErrOtherHub) || !strings.Contains(err.Error(), "hub-pg") {
		t.Fatalf("a second hub on one database: %v", err)
	}
	fresh := registrytest.PostgresURL(t)
	if err := enrol.Init(ctx, other, "hub-other", enrol.Options{DB: fresh}); err != nil {
		t.Fatal(err)
	}
	if _, err := enrol.Open(ctx, other, enrol.Options{DB: url}); !errors.Is(err, enrol.ErrOtherHub) {
		t.Fatalf("a hub opened on another hub's database: %v", err)
	}
	// A database no Init bound.
	unbound := registrytest.PostgresURL(t)
	r, err := enrol.OpenPostgres(ctx, unbound)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if _, err := enrol.Open(ctx, other, enrol.Options{DB: unbound}); !errors.Is(err, enrol.ErrNotInitialised) {
		t.Fatalf("a hub opened on an empty database: %v", err)
	}
	if err := enrol.Init(ctx, t.TempDir(), "hub-x", enrol.Options{DB: "mysql://db/x"}); err == nil || !strings.Contains(err.Error(), "postgres://") {
		t.Fatalf("Init with a mysql URL: %v", err)
	}

	// An Init that crashed before hub.json left the database bound but
	// empty: the next Init (a new CA) takes it.
	crashed := registrytest.PostgresURL(t)
	d1 := t.TempDir()
	if err := enrol.Init(ctx, d1, "hub-c", enrol.Options{DB: crashed}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(d1, enrol.ConfigFile)); err != nil {
		t.Fatal(err)
	}
	if err := enrol.Init(ctx, d1, "hub-c", enrol.Options{DB: crashed}); err != nil {
		t.Fatalf("Init again after a crash: %v", err)
	}
	h, err = enrol.Open(ctx, d1, enrol.Options{DB: crashed})
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
}

// BenchmarkCertDevice is the registry read every authorised request makes
// (Authorise: CertDevice), on SQLite and on PostgreSQL over loopback;
// compare the two sub-benchmarks' ns/op from one run.
func BenchmarkCertDevice(b *testing.B) {
	ctx := context.Background()
	open := map[string]func(b *testing.B) registrytest.Store{
		"sqlite": func(b *testing.B) registrytest.Store {
			s, err := enrol.OpenSQLite(ctx, filepath.Join(b.TempDir(), enrol.DBFile))
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
		"postgres": func(b *testing.B) registrytest.Store {
			s, err := enrol.OpenPostgres(ctx, registrytest.PostgresURL(b))
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
	}
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			s := open[name](b)
			defer s.Close()
			h := [32]byte{1}
			t0 := registrytest.T0
			if err := s.AddCode(ctx, h, t0, t0.Add(time.Hour)); err != nil {
				b.Fatal(err)
			}
			e := enrol.Enrolment{CodeHash: h, At: t0, Serial: "0a0b", NotAfter: t0.Add(time.Hour),
				Device: enrol.Device{ID: "0193a000-0000-7000-8000-000000000001", Origin: enrol.Origin("0193a000-0000-7000-8000-000000000001"), Public: make([]byte, 32)}}
			if err := s.Enrol(ctx, e); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.CertDevice(ctx, "0a0b"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
