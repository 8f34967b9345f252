package pgstore

import (
	"context"
	"testing"
)

// TestOpenDB: the database/sql pool reaches the database, commits
// durably, and takes slices as arrays.
func TestOpenDB(t *testing.T) {
	ctx := context.Background()
	db, err := OpenDB(newTestDB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var sc string
	if err := db.QueryRowContext(ctx, `SHOW synchronous_commit`).Scan(&sc); err != nil || sc == "off" {
		t.Fatalf("synchronous_commit %q, %v", sc, err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (i bigint, b bytea)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO t SELECT * FROM unnest($1::bigint[], $2::bytea[])`, []int64{1, 2}, [][]byte{{1}, {2, 2}}); err != nil {
		t.Fatal(err)
	}
	var n, sum int64
	if err := db.QueryRowContext(ctx, `SELECT count(*), sum(i * length(b)) FROM t`).Scan(&n, &sum); err != nil || n != 2 || sum != 5 {
		t.Fatalf("%d rows, sum %d, %v", n, sum, err)
	}
	if _, err := OpenDB("postgres://%zz"); err == nil {
		t.Error("OpenDB of a malformed URL: no error")
	}
}
