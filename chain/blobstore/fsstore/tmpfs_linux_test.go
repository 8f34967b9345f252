//go:build linux

package fsstore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
)

// TestDiskFullTmpfs fills a real filesystem: a 2 MiB tmpfs. It needs the
// privilege to mount (root, or CAP_SYS_ADMIN) and skips without it.
func TestDiskFullTmpfs(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=2m,mode=0700"); err != nil {
		t.Skipf("cannot mount a 2 MiB tmpfs on %s (%v): this test needs root or CAP_SYS_ADMIN; the seam test TestDiskFullSeam still covers ENOSPC", dir, err)
	}
	// Cleanups run last-in first-out: the store closes, then this
	// unmounts, then t.TempDir removes the mount point.
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	s, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	small := []byte("fits")
	if _, err := s.Ingest(t.Context(), bytes.NewReader(small)); err != nil {
		t.Fatalf("small Ingest on the tmpfs = %v", err)
	}
	big := bytes.Repeat([]byte("full"), 1<<20) // 4 MiB
	if _, err := s.Ingest(t.Context(), bytes.NewReader(big)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Ingest of 4 MiB into 2 MiB = %v, want ENOSPC", err)
	}
	if _, err := s.Receive(t.Context(), chain.Sum(big), bytes.NewReader(big)); !errors.Is(err, blobstore.ErrNoSpace) {
		t.Fatalf("Receive of 4 MiB into 2 MiB = %v, want ErrNoSpace", err)
	}
	if ents, err := os.ReadDir(filepath.Join(dir, "tmp")); err != nil || len(ents) != 0 {
		t.Fatalf("tmp holds %v (err %v) after a full disk", ents, err)
	}
	var got []blobstore.Info
	if err := s.Enumerate(t.Context(), chain.Hash{}, func(in blobstore.Info) error {
		got = append(got, in)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Hash != chain.Sum(small) {
		t.Fatalf("store holds %v, want only the small blob", got)
	}
	// The space was given back: a blob that fits can still be stored.
	mid := bytes.Repeat([]byte("m"), 1<<20)
	if _, err := s.Ingest(t.Context(), bytes.NewReader(mid)); err != nil {
		t.Fatalf("1 MiB Ingest after the failures = %v", err)
	}
}
