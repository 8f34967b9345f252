package datadir_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

// clock is a manual test clock.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time { c.t = c.t.Add(time.Second); return c.t }

func newClock() *clock { return &clock{t: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)} }

func mustFsckOK(t *testing.T, l *ledger.Ledger) {
	t.Helper()
	rep, err := l.Fsck(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("fsck found problems: %v", rep.Problems)
	}
}

// A data directory: the key file is private, the log starts with the key's
// enrolment and a signed checkpoint, it cannot be initialised twice, it
// reopens with the same identity, and a key file others can read is
// refused.
func TestInitOpen(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	dir := t.TempDir()
	l, err := datadir.Init(ctx, dir, "Jo Smith", "JS", datadir.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fi, err := os.Stat(filepath.Join(dir, "keys", "device.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi.Mode(), err)
	}
	id := l.Identity()
	if !strings.HasPrefix(id.Origin, ledger.OriginPrefix) || id.Initials != "JS" || id.Producer != "Jo Smith" {
		t.Fatalf("identity %+v", id)
	}
	if n, _ := l.TreeSize(ctx); n != 1 {
		t.Fatalf("genesis log size %d", n)
	}
	cps, err := l.Checkpoints(ctx)
	if err != nil || len(cps) != 1 || cps[0].Size != 1 {
		t.Fatalf("first checkpoint %+v %v", cps, err)
	}
	cp := cps[0]
	vs, _ := l.NoteVerifiers(ctx)
	if _, _, err := tlog.Open(cp.Note, id.Origin, vs); err != nil {
		t.Fatal(err)
	}
	l.Close()

	if _, err := datadir.Init(ctx, dir, "Jo Smith", "JS", datadir.Options{Now: c.Now}); !errors.Is(err, datadir.ErrInitialised) {
		t.Fatalf("re-init: %v", err)
	}
	l2, err := datadir.Open(ctx, dir, datadir.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if l2.Identity().DeviceID != id.DeviceID {
		t.Fatal("identity changed on reopen")
	}
	mustFsckOK(t, l2)

	if _, err := datadir.Open(ctx, t.TempDir(), datadir.Options{}); !errors.Is(err, datadir.ErrNotInitialised) {
		t.Fatalf("open of an empty dir: %v", err)
	}
	if err := os.Chmod(filepath.Join(dir, "keys", "device.key"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := datadir.Open(ctx, dir, datadir.Options{}); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("open with a world-readable key: %v", err)
	}
	if _, err := datadir.Init(ctx, t.TempDir(), "Jo", "jo", datadir.Options{}); !errors.Is(err, chain.ErrBadRef) {
		t.Fatalf("bad initials: %v", err)
	}
}
