package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	xtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/store/storetest"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
	"github.com/exhibit-forensics/exhibit/chain/tlog/tlogtest"
)

// TestNoInitSideEffects checks that the package registers its SQLite
// driver without init: no init function in its source, and no driver name
// in database/sql's registry but go-sqlite3's own "sqlite3".
func TestNoInitSideEffects(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && fn.Name.Name == "init" {
				t.Errorf("%s: an init function", fset.Position(fn.Pos()))
			}
		}
	}
	if got := sql.Drivers(); !slices.Equal(got, []string{"sqlite3"}) {
		t.Errorf("database/sql drivers registered: %q, want only go-sqlite3's own [sqlite3]", got)
	}
}

func TestConformance(t *testing.T) {
	storetest.Test(t, func(t *testing.T) storetest.Opener {
		path := filepath.Join(t.TempDir(), "exhibit.db")
		return func(ctx context.Context) (store.Store, error) { return Open(ctx, path) }
	})
}

// TestRecordByHashIndexed looks records up through the derived hash index
// and through the scan of the records it does not cover yet, and checks the
// index is rebuilt when it claims more than the log holds.
func TestRecordByHashIndexed(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "exhibit.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f := storetest.NewFixture()
	var recs []*chain.Record
	for i := 0; i < 600; i++ {
		recs = append(recs, f.Received(t, fmt.Sprintf("0190a0b0-0000-7000-8000-%012d", i), fmt.Sprintf("JS/%d", i+1), "C", []byte{byte(i), byte(i >> 8)}))
	}
	appendAll := func(rs []*chain.Record) {
		if err := s.Update(ctx, func(tx store.Tx) error { _, err := tx.Append(rs...); return err }); err != nil {
			t.Fatal(err)
		}
	}
	appendAll(recs[:500])
	s.indexHashes(ctx)
	var upto int64
	s.hx.QueryRow(`SELECT upto FROM progress`).Scan(&upto)
	if upto != 500 {
		t.Fatalf("indexed up to %d, want 500", upto)
	}
	appendAll(recs[500:]) // not indexed: found by the tail scan
	for _, i := range []int{0, 17, 499, 500, 599} {
		got, err := s.RecordByHash(ctx, recs[i].Hash)
		if err != nil || got.Index != uint64(i) || got.Hash != recs[i].Hash {
			t.Fatalf("RecordByHash(record %d) = %d %v", i, got.Index, err)
		}
	}
	if _, err := s.RecordByHash(ctx, chain.Sum([]byte("absent"))); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("absent hash: %v", err)
	}
	// An index that claims more than the log holds is rebuilt.
	s.hx.Exec(`UPDATE progress SET upto = 100000`)
	s.indexHashes(ctx)
	s.hx.QueryRow(`SELECT upto FROM progress`).Scan(&upto)
	if upto != 600 {
		t.Fatalf("rebuilt index reaches %d, want 600", upto)
	}
	if got, err := s.RecordByHash(ctx, recs[42].Hash); err != nil || got.Index != 42 {
		t.Fatalf("after rebuild: %d %v", got.Index, err)
	}
}

// A damaged hash index (derived data) is rebuilt at Open as when it is
// missing, and a lookup it cannot answer falls back to the log: it never
// stops the store from opening or a record from being found.
func TestDamagedHashIndex(t *testing.T) {
	ctx := context.Background()
	damage := map[string]func(t *testing.T, path string){
		"garbage": func(t *testing.T, path string) {
			writeFile(t, path, bytes.Repeat([]byte("not a database "), 1000))
		},
		"truncated": func(t *testing.T, path string) {
			b := readFile(t, path)
			writeFile(t, path, b[:len(b)/3])
		},
		"zeroed pages": func(t *testing.T, path string) {
			b := readFile(t, path)
			for i := 4096; i < len(b); i++ {
				b[i] = 0
			}
			writeFile(t, path, b)
		},
		"empty": func(t *testing.T, path string) { writeFile(t, path, nil) },
		"tables dropped": func(t *testing.T, path string) {
			db, err := sql.Open("sqlite3", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(`DROP TABLE hashes; DROP TABLE progress`); err != nil {
				t.Fatal(err)
			}
		},
		"wrong entries": func(t *testing.T, path string) {
			// A well-formed index whose entries point at the wrong records.
			db, err := sql.Open("sqlite3", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(`UPDATE hashes SET idx = (idx + 7) % 40`); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, fn := range damage {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "exhibit.db")
			s, err := Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			f := storetest.NewFixture()
			var recs []*chain.Record
			for i := 0; i < 40; i++ {
				recs = append(recs, f.Received(t, fmt.Sprintf("0190a0b0-0000-7000-8000-%012d", i), fmt.Sprintf("JS/%d", i+1), "C", []byte{byte(i)}))
			}
			if err := s.Update(ctx, func(tx store.Tx) error { _, err := tx.Append(recs...); return err }); err != nil {
				t.Fatal(err)
			}
			s.indexHashes(ctx)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			fn(t, filepath.Join(filepath.Dir(path), "exhibit-hashes.db"))
			s, err = Open(ctx, path)
			if err != nil {
				t.Fatalf("open with a damaged hash index: %v", err)
			}
			defer s.Close()
			for _, i := range []int{0, 9, 39} {
				got, err := s.RecordByHash(ctx, recs[i].Hash)
				if err != nil || got.Index != uint64(i) {
					t.Fatalf("RecordByHash(record %d) = %d %v", i, got.Index, err)
				}
			}
			if _, err := s.RecordByHash(ctx, chain.Sum([]byte("absent"))); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("absent hash: %v", err)
			}
		})
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	for _, p := range []string{path + "-wal", path + "-shm"} {
		os.Remove(p)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestHashReader runs chain/tlog's HashReader conformance test on the
// store's ReadHashes. The store keeps interior nodes in the tree table and
// derives each leaf from its record's hash, so the test's writer stores a
// leaf as a record row whose hash is the test log's record hash
// (tlogtest.RecordHash), after checking that the leaf is that hash's.
func TestHashReader(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "exhibit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	write := func(ctx context.Context, nodes []tlog.StoredHash) error {
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		for _, n := range nodes {
			level, i := xtlog.SplitStoredHashIndex(n.Index)
			if level > 0 {
				_, err = tx.ExecContext(ctx, `INSERT INTO tree (idx, hash) VALUES (?, ?)`, n.Index, n.Hash[:])
			} else if h := tlogtest.RecordHash(uint64(i)); tlog.LeafHash(h) != n.Hash {
				err = fmt.Errorf("leaf %d is not the leaf of the test log's record %d", n.Index, i)
			} else {
				_, err = tx.ExecContext(ctx, `INSERT INTO records (idx, hash, chain, seq, envelope) VALUES (?, ?, ?, 1, x'')`, i, h[:], fmt.Sprint("chain-", i))
			}
			if err != nil {
				return err
			}
		}
		return tx.Commit()
	}
	tlogtest.TestHashReader(t, write, s)
}
