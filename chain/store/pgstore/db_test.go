package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// testServerEnv names the environment variable that overrides the test
// server's URL.
const testServerEnv = "EXHIBIT_TEST_POSTGRES"

// testServer returns the URL of the PostgreSQL server the tests use.
func testServer() string {
	if u := os.Getenv(testServerEnv); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// newTestDB creates a uniquely named database on the test server, dropped
// when the test ends, and returns its URL. It skips the test when no
// server answers.
func newTestDB(t testing.TB) string {
	t.Helper()
	admin := testServer()
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s=%q: %v", testServerEnv, admin, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Skipf("no PostgreSQL server at %s (set %s to use another): %v", u.Redacted(), testServerEnv, err)
	}
	defer conn.Close(context.Background())
	var b [6]byte
	rand.Read(b[:])
	name := "exhibit_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}
