//go:build linux

package synctest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/api/hub/agentsync"
	"github.com/exhibit-forensics/exhibit/api/hub/upload"
)

// TestHubRealDiskFull fills a real file system: the hub's whole data
// directory (partial uploads, blob store, mirrors, its own log) is on a
// small tmpfs, filled with a ballast file but for a few MiB, and the agent
// syncs more than fits. The sync fails with a reason that is not a
// refusal, nothing the agent holds is lost, and once the ballast is
// removed the sync completes with the hub equal to the agent.
func TestHubRealDiskFull(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64m"); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (needs root, or CAP_SYS_ADMIN): %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := startHubAt(t, filepath.Join(dir, "hub"), 0)
	a := newAgent(t, 7)
	a.mustEnrol(t, h)
	s, _, _ := a.syncer(t, h.URL)
	a.importBlobs(t, 4, 5<<20)
	a.custody(t, 50)

	// Fill the file system but for 4 MiB.
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	free := int64(fs.Bavail) * int64(fs.Bsize)
	ballast := filepath.Join(dir, "ballast")
	if err := os.WriteFile(ballast, make([]byte, free-4<<20), 0o600); err != nil {
		t.Fatal(err)
	}

	var failures []error
	for range 3 {
		_, err := s.Once(ctx)
		if err == nil {
			t.Fatal("a sync of 20 MiB into 4 MiB of space succeeded")
		}
		if errors.Is(err, agentsync.ErrRefused) || errors.Is(err, upload.ErrRejected) {
			t.Fatalf("a full disk is taken for a refusal: %v", err)
		}
		// 507, with "the hub's storage is full" in the body (a HEAD's
		// answer has no body: its status says it).
		if !strings.Contains(err.Error(), "507 Insufficient Storage") {
			t.Errorf("the reason does not say the hub's storage is full: %v", err)
		}
		failures = append(failures, err)
	}
	for _, err := range failures {
		t.Logf("disk full: %v", err)
	}
	st := a.status(t, s)
	if st.Refused || st.Queue == 0 || st.LastError == "" {
		t.Fatalf("status with the hub's disk full: %+v", st)
	}

	// Space again: the sync completes, nothing lost.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	if _, errs := syncRetrying(t, ctx, s, 10); len(errs) > 0 {
		t.Logf("attempts after the disk was freed that failed (retried): %v", errs)
	}
	checkSame(t, h, a)
	if st := a.status(t, s); !st.Empty() || st.Refused || st.LastError != "" {
		t.Fatalf("status after: %+v", st)
	}
}
