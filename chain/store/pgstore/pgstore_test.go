package pgstore

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/store/storetest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func TestConformance(t *testing.T) {
	storetest.Test(t, func(t *testing.T) storetest.Opener {
		db := newTestDB(t)
		return func(ctx context.Context) (store.Store, error) { return Open(ctx, db) }
	})
}

// TestDurableCommits: on a database whose default is
// synchronous_commit=off (commits acknowledged before their WAL is
// flushed), every connection the store opens commits with it on; a
// stronger setting than on is kept.
func TestDurableCommits(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	name := strings.TrimPrefix(mustURL(t, db).Path, "/")
	for _, tc := range []struct{ dbDefault, want string }{{"off", "on"}, {"remote_apply", "remote_apply"}} {
		admin, err := pgx.Connect(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		_, err = admin.Exec(ctx, `ALTER DATABASE `+name+` SET synchronous_commit = `+tc.dbDefault)
		admin.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		// Hold several connections at once, so that each is a new one.
		var conns []*pgxpool.Conn
		for range 3 {
			c, err := s.pool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			var got string
			if err := c.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("database default %s: a connection of the store has synchronous_commit=%s, want %s", tc.dbDefault, got, tc.want)
			}
		}
		for _, c := range conns {
			c.Release()
		}
		s.Close()
	}
}

// TestSchemaVersion: Open on a database whose schema is another version
// refuses it; reopening one of this version is fine (Open is idempotent).
func TestSchemaVersion(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	for range 2 {
		s, err := Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	c, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, `UPDATE exhibit_schema SET version = 2`); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(ctx, db); err == nil || !strings.Contains(err.Error(), "version 2") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open of a version 2 schema: %v", err)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
