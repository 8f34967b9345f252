package sqlitestore

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/mattn/go-sqlite3"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
)

// TestDiskFullIsENOSPC: a write SQLite refuses as full (SQLITE_FULL, made
// here by capping the database's pages, as a full disk makes it) matches
// syscall.ENOSPC, as the blob store's full disk does, and keeps SQLite's
// own error; nothing of it is stored, and the store writes again once
// there is room.
func TestDiskFullIsENOSPC(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "exhibit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var pages int
	if err := s.w.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	// The writer pool has one connection: the cap applies to the
	// committer's writes.
	if _, err := s.w.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages+1)); err != nil {
		t.Fatal(err)
	}
	b := bytes.Repeat([]byte("full"), store.MaxInlineBlob/4)
	h := chain.Sum(b)
	err = s.Update(ctx, func(tx store.Tx) error { return tx.PutInlineBlob(h, b) })
	t.Logf("write past the cap: %v", err)
	if !errors.Is(err, syscall.ENOSPC) || !isFull(err) {
		t.Fatalf("write past the cap = %v, want SQLITE_FULL matching ENOSPC", err)
	}
	if _, err := s.InlineBlob(ctx, h); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused blob: %v, want not found", err)
	}
	if _, err := s.w.ExecContext(ctx, `PRAGMA max_page_count = 1073741823`); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.PutInlineBlob(h, b) }); err != nil {
		t.Fatalf("the same write with room: %v", err)
	}
	if got, err := s.InlineBlob(ctx, h); err != nil || !bytes.Equal(got, b) {
		t.Fatalf("stored blob: %d bytes, %v", len(got), err)
	}

	// Other errors are left alone.
	other := sqlite3.Error{Code: sqlite3.ErrConstraint}
	if err := diskFull(other); errors.Is(err, syscall.ENOSPC) {
		t.Errorf("a constraint error became ENOSPC: %v", err)
	}
	if err := diskFull(nil); err != nil {
		t.Errorf("diskFull(nil) = %v", err)
	}
}
