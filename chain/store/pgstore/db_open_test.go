package pgstore

import (
	"context"
	"testing"
)

// OpenDB's connections commit durably even where the database's default
// is synchronous_commit = off.
func TestOpenDBDurable(t *testing.T) {
	ctx := context.Background()
	url := newTestDB(t)
	db, err := OpenDB(url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var name string
	if err := db.QueryRowContext(ctx, `SELECT current_database()`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `ALTER DATABASE `+name+` SET synchronous_commit = off`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = OpenDB(url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var sc string
	if err := db.QueryRowContext(ctx, `SHOW synchronous_commit`).Scan(&sc); err != nil || sc != "on" {
		t.Fatalf("synchronous_commit %q, %v", sc, err)
	}
	if _, err := OpenDB("postgres://x:notaport/"); err == nil {
		t.Fatal("a bad URL was taken")
	}
}
