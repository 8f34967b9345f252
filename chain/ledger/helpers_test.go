package ledger_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	"github.com/exhibit-forensics/exhibit/chain/blobstore/fsstore"
	blobmem "github.com/exhibit-forensics/exhibit/chain/blobstore/memstore"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
	recmem "github.com/exhibit-forensics/exhibit/chain/store/memstore"
)

// clock is a manual test clock.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time { c.t = c.t.Add(time.Second); return c.t }

func newClock() *clock { return &clock{t: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)} }

// A testLedger is a ledger under test with what its backend lets a test
// look at: the clock, the file blob store, and (for a data directory) the
// directory.
type testLedger struct {
	*ledger.Ledger
	clock *clock
	files blobstore.Enumerator
	dir   string // "" for a backend with no directory
	// again opens the same parts as a new ledger (after Close, as a
	// restarted process would).
	again func(t *testing.T) *ledger.Ledger
}

// A backend makes new, initialised ledgers.
type backend struct {
	name string
	new  func(t *testing.T) testLedger
}

// backends are every way a ledger is built: the data directory (SQLite,
// files, a key file) and the in-memory stores.
var backends = []backend{{"datadir", newDirLedger}, {"memory", newMemLedger}}

// forEachBackend runs fn as a subtest on every backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, newLedger func(t *testing.T) testLedger)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b.new) })
	}
}

// newDirLedger initialises a data directory.
func newDirLedger(t *testing.T) testLedger {
	t.Helper()
	c := newClock()
	dir := t.TempDir()
	l, err := datadir.Init(context.Background(), dir, "Jo Smith", "JS", datadir.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	tl := testLedger{Ledger: l, clock: c, files: dirBlobs(dir), dir: dir}
	tl.again = func(t *testing.T) *ledger.Ledger {
		l, err := datadir.Open(context.Background(), dir, datadir.Options{Now: c.Now})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	return tl
}

// newMemLedger builds a ledger from in-memory parts: the record store of
// chain/store/memstore, the blob store of chain/blobstore/memstore, a key
// kept in memory.
func newMemLedger(t *testing.T) testLedger {
	t.Helper()
	c := newClock()
	db, files, keys := recmem.NewDB(), blobmem.New(), &memKeys{}
	cfg := ledger.Config{Store: db.Open(), Files: files, Keys: keys, Now: c.Now}
	l, err := ledger.Create(context.Background(), cfg, "Jo Smith", "JS")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	tl := testLedger{Ledger: l, clock: c, files: files}
	tl.again = func(t *testing.T) *ledger.Ledger {
		cfg.Store = db.Open()
		l, err := ledger.New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	return tl
}

// reopen opens tl's parts again as a new ledger.
func reopen(t *testing.T, tl testLedger) *ledger.Ledger {
	t.Helper()
	l := tl.again(t)
	t.Cleanup(func() { l.Close() })
	return l
}

func importBytes(t *testing.T, l *ledger.Ledger, caseRef, name, body string) store.Exhibit {
	t.Helper()
	ex, _, err := l.Import(context.Background(), ledger.ImportRequest{Case: caseRef, Kind: chain.ExhibitDocument, FileName: name, Body: strings.NewReader(body)})
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

func mustFsckOK(t *testing.T, l *ledger.Ledger) *ledger.FsckReport {
	t.Helper()
	rep, err := l.Fsck(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("fsck found problems: %v", rep.Problems)
	}
	return rep
}

// fileBlobs counts the blobs of tl's blob store (not those kept inline).
func fileBlobs(t *testing.T, tl testLedger) int {
	t.Helper()
	n := 0
	if err := tl.files.Enumerate(context.Background(), chain.Hash{}, func(blobstore.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// memKeys is a ledger.KeyStore in memory.
type memKeys struct {
	mu        sync.Mutex
	cur, next ed25519.PrivateKey
}

var _ ledger.KeyStore = (*memKeys)(nil)

func (k *memKeys) Load() (ed25519.PrivateKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cur == nil {
		return nil, fmt.Errorf("device key: %w", fs.ErrNotExist)
	}
	return k.cur, nil
}

func (k *memKeys) Save(priv ed25519.PrivateKey) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cur = priv
	return nil
}

func (k *memKeys) SaveNext(priv ed25519.PrivateKey) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.next = priv
	return nil
}

func (k *memKeys) UseNext() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.next == nil {
		return fmt.Errorf("no next key: %w", fs.ErrNotExist)
	}
	k.cur, k.next = k.next, nil
	return nil
}

func (k *memKeys) DropNext() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.next = nil
	return nil
}

func (k *memKeys) Remove() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cur = nil
	return nil
}

// dirBlobs opens a data directory's blob store beside its ledger (the store
// allows several users of one directory), to count its files.
func dirBlobs(dir string) blobstore.Enumerator {
	return lazyFS{dir: filepath.Join(dir, datadir.BlobsDir)}
}

type lazyFS struct{ dir string }

func (f lazyFS) Enumerate(ctx context.Context, after chain.Hash, fn func(blobstore.Info) error) error {
	s, err := fsstore.Open(ctx, f.dir)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Enumerate(ctx, after, fn)
}
