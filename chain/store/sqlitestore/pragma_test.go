package sqlitestore

import (
	"context"
	"database/sql"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/store/storetest"
)

// A setting is one PRAGMA and the values a connection may report for it.
type setting struct {
	pragma string
	ok     func(v string) bool
	want   string // for the failure message
}

func is(pragma, v string) setting {
	return setting{pragma, func(got string) bool { return got == v }, v}
}

// atLeast accepts an integer setting of min or more.
func atLeast(pragma string, min int) setting {
	return setting{pragma, func(got string) bool { n, err := strconv.Atoi(got); return err == nil && n >= min }, ">= " + strconv.Itoa(min)}
}

// SQLite's synchronous levels as PRAGMA synchronous reports them.
const (
	syncNormal = 1
	syncFull   = 2
)

// durability lists, for each connection pool of Store, what the
// durability promise needs of every connection in it: the README's and the
// package doc's "WAL, synchronous=FULL" for the log database, and WAL with
// at least NORMAL for the derived hash index, which is rebuilt if lost.
var durability = map[string][]setting{
	"w":    {is("journal_mode", "wal"), is("synchronous", strconv.Itoa(syncFull)), is("wal_autocheckpoint", "0")},
	"r":    {is("journal_mode", "wal"), is("synchronous", strconv.Itoa(syncFull)), is("query_only", "1")},
	"ckpt": {is("journal_mode", "wal"), is("synchronous", strconv.Itoa(syncFull))},
	"hx":   {is("journal_mode", "wal"), atLeast("synchronous", syncNormal)},
}

// TestDurabilitySettings reads the settings back, with PRAGMA, from the
// store's own connections — every connection each pool can hold, taken at
// once so that each is a distinct one, after the store has committed —
// rather than trusting the connection strings or asking a fresh connection.
// A pool the store gains without an entry in durability fails the test.
func TestDurabilitySettings(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "exhibit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f := storetest.NewFixture()
	rec := f.Received(t, "0190a0b0-0000-7000-8000-000000000001", "JS/1", "C", []byte("x"))
	if err := s.Update(ctx, func(tx store.Tx) error { _, err := tx.Append(rec); return err }); err != nil {
		t.Fatal(err)
	}

	pools := map[string]*sql.DB{"w": s.w, "r": s.r, "ckpt": s.ckpt, "hx": s.hx}
	st := reflect.TypeFor[Store]()
	for i := range st.NumField() {
		if fd := st.Field(i); fd.Type == reflect.TypeFor[*sql.DB]() {
			if _, ok := durability[fd.Name]; !ok {
				t.Errorf("Store.%s is a connection pool with no durability settings to check: add it to durability and pools", fd.Name)
			}
		}
	}
	for name, want := range durability {
		db, ok := pools[name]
		if !ok {
			t.Errorf("durability names Store.%s, which is not a connection pool", name)
			continue
		}
		n := db.Stats().MaxOpenConnections
		if n <= 0 {
			t.Errorf("Store.%s has no connection limit, so not every connection can be checked", name)
			continue
		}
		conns := make([]*sql.Conn, n)
		for i := range conns {
			c, err := db.Conn(ctx)
			if err != nil {
				t.Fatalf("Store.%s connection %d: %v", name, i, err)
			}
			defer c.Close()
			conns[i] = c
		}
		for i, c := range conns {
			for _, w := range want {
				var v string
				if err := c.QueryRowContext(ctx, "PRAGMA "+w.pragma).Scan(&v); err != nil {
					t.Fatalf("Store.%s connection %d: PRAGMA %s: %v", name, i, w.pragma, err)
				}
				if !w.ok(v) {
					t.Errorf("Store.%s connection %d of %d: %s = %s, want %s", name, i+1, n, w.pragma, v, w.want)
				}
			}
		}
	}
}
