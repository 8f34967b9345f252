//go:build linux

package s3store

import (
	"bytes"
	"errors"
	"syscall"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
)

// TestDiskFull runs versitygw on a 12 MiB tmpfs and writes blobs that do
// not fit: each write fails, nothing is visible and no upload is left
// pending, the error matches blobstore.ErrNoSpace (versitygw answers 507
// InsufficientStorage), and a blob that fits can be stored afterwards. It
// needs the privilege to mount (root, or CAP_SYS_ADMIN) and skips without
// it.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=12m,mode=0700"); err != nil {
		t.Skipf("cannot mount a 12 MiB tmpfs on %s (%v): this test needs root or CAP_SYS_ADMIN", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	srv := startServerIn(t, dir)
	s := srv.newStore(t)
	ctx := t.Context()
	for i, n := range []int{20 << 20, 7 << 20} { // multipart, then one PutObject too big for what is left
		if i == 1 {
			filler := randomBytes(40, 6<<20)
			if _, err := s.Ingest(ctx, bytes.NewReader(filler)); err != nil {
				t.Fatalf("6 MiB Ingest on an empty 12 MiB disk = %v", err)
			}
		}
		b := randomBytes(uint64(41+i), n)
		h := chain.Sum(b)
		_, err := s.Receive(ctx, h, bytes.NewReader(b))
		if err == nil {
			t.Fatalf("Receive of %d MiB onto a full 12 MiB disk succeeded", n>>20)
		}
		if !errors.Is(err, blobstore.ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("Receive of %d MiB onto a full disk = %v, want ErrNoSpace", n>>20, err)
		}
		if _, err := s.Stat(ctx, h); !errors.Is(err, blobstore.ErrNotFound) {
			t.Fatalf("Stat after a failed write = %v", err)
		}
		if p := pendingUploads(t, srv, s.cfg.Bucket); p != 0 {
			t.Fatalf("%d uploads pending after a failed write", p)
		}
	}
	small := []byte("still room for this")
	if _, err := s.Receive(ctx, chain.Sum(small), bytes.NewReader(small)); err != nil {
		t.Fatalf("small Receive after the failures = %v", err)
	}
	if err := blobstore.Check(ctx, s, chain.Sum(small)); err != nil {
		t.Fatal(err)
	}
}
