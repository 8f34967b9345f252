package fsstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
)

const (
	blobMode = 0o444 // blobs are read-only
	dirMode  = 0o750

	algDir   = "sha256"
	tmpDir   = "tmp"
	lockName = "lock"
)

var (
	// ErrClosed reports use of a Store after Close.
	ErrClosed = errors.New("fsstore: store is closed")
)

// Store is a blob store in a directory. Create it with Open.
type Store struct {
	dir     string // DIR
	blobDir string // DIR/sha256
	tmpDir  string // DIR/tmp
	ops     fsOps

	lock   *os.File // DIR/lock, flocked while open
	closed atomic.Bool

	keys keyLocks
	// syncedDirs holds the shard directories this Store has created or
	// seen and whose own entry it has fsynced in their parent.
	syncedDirs sync.Map // string → struct{}
}

var _ blobstore.Store = (*Store)(nil)

// Open opens the store in dir, creating dir and its layout if needed, and
// removes temp files left by a crashed writer when no other Store (in this
// or another process) has dir open. Several Stores may have a directory open
// at once. The Store must be closed with Close.
func Open(ctx context.Context, dir string) (*Store, error) {
	return open(ctx, dir, osOps{})
}

func open(ctx context.Context, dir string, ops fsOps) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fsstore: open %s: %w", dir, err)
	}
	s := &Store{
		dir:     dir,
		blobDir: filepath.Join(dir, algDir),
		tmpDir:  filepath.Join(dir, tmpDir),
		ops:     ops,
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("fsstore: open: %w", err)
	}
	lf, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("fsstore: open: %w", err)
	}
	for _, d := range []string{s.blobDir, s.tmpDir} {
		if err := os.Mkdir(d, dirMode); err != nil && !errors.Is(err, fs.ErrExist) {
			lf.Close()
			return nil, fmt.Errorf("fsstore: open %s: %w", dir, err)
		}
	}
	if err := lockFile(lf, s.sweep); err != nil {
		lf.Close()
		return nil, fmt.Errorf("fsstore: open %s: %w", dir, err)
	}
	s.lock = lf
	return s, nil
}

// sweep removes stale temp files. It runs only while this Store holds the
// directory's lock exclusively — no other Store has it open — so every file
// in DIR/tmp belongs to a dead writer.
func (s *Store) sweep() error {
	ents, err := os.ReadDir(s.tmpDir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(s.tmpDir, e.Name())); err != nil {
			return fmt.Errorf("removing stale temp file: %w", err)
		}
	}
	return nil
}

// Dir returns the directory the store was opened on.
func (s *Store) Dir() string { return s.dir }

// Close releases the directory; later calls fail with ErrClosed. Call it
// only after other calls have returned: once the directory is released,
// another Store may open it and sweep the temp files of writes still in
// progress.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return ErrClosed
	}
	return s.lock.Close() // closing the descriptor drops the flock
}

func (s *Store) checkOpen() error {
	if s.closed.Load() {
		return ErrClosed
	}
	return nil
}

// shardDirs returns the two shard directories of h.
func (s *Store) shardDirs(h chain.Hash) (d1, d2 string) {
	x := h.Hex()
	d1 = filepath.Join(s.blobDir, x[:2])
	return d1, filepath.Join(d1, x[2:4])
}

// path returns the file name of blob h.
func (s *Store) path(h chain.Hash) string {
	_, d2 := s.shardDirs(h)
	return filepath.Join(d2, h.Hex())
}

// Receive implements blobstore.Receiver. See the package doc for the steps
// of a write. A blob already stored is verified against r without writing.
func (s *Store) Receive(ctx context.Context, want chain.Hash, r io.Reader) (blobstore.Info, error) {
	if err := s.checkOpen(); err != nil {
		return blobstore.Info{}, err
	}
	info, done, err := s.receiveExisting(ctx, want, r)
	if done {
		if err != nil {
			return blobstore.Info{}, fmt.Errorf("fsstore: receive %s: %w", want, err)
		}
		return info, nil
	}
	info, err = s.write(ctx, r, &want)
	if err != nil {
		return blobstore.Info{}, fmt.Errorf("fsstore: receive %s: %w", want, err)
	}
	return info, nil
}

// receiveExisting handles a Receive of a blob already stored: it verifies
// r under the blob's lock, so the blob cannot be removed meanwhile. It
// reports done=false, having read nothing, if the blob is absent.
func (s *Store) receiveExisting(ctx context.Context, want chain.Hash, r io.Reader) (info blobstore.Info, done bool, err error) {
	unlock, err := s.keys.lock(ctx, want)
	if err != nil {
		return info, true, err
	}
	defer unlock()
	if _, err := s.stat(want); errors.Is(err, blobstore.ErrNotFound) {
		return info, false, nil
	} else if err != nil {
		return info, true, err
	}
	sum, n, err := pump(ctx, r, nil)
	if err != nil {
		return info, true, err
	}
	if sum != want {
		return info, true, &blobstore.CorruptError{Want: want, Got: sum, Size: n}
	}
	if err := ctx.Err(); err != nil {
		return info, true, err // as a write cancelled before its commit
	}
	// The blob may have been renamed into place by a process that crashed
	// before fsyncing the directory: make its entry durable before
	// reporting it stored.
	_, d2 := s.shardDirs(want)
	if err := s.ops.SyncDir(d2); err != nil {
		return info, true, fmt.Errorf("syncing directory: %w", err)
	}
	return blobstore.Info{Hash: want, Size: n}, true, nil
}

// Ingest implements blobstore.Ingester. See the package doc for the steps
// of a write.
func (s *Store) Ingest(ctx context.Context, r io.Reader) (blobstore.Info, error) {
	if err := s.checkOpen(); err != nil {
		return blobstore.Info{}, err
	}
	info, err := s.write(ctx, r, nil)
	if err != nil {
		return blobstore.Info{}, fmt.Errorf("fsstore: ingest: %w", err)
	}
	return info, nil
}

// write streams r into a temp file and commits it under its digest, which
// must equal *want if want is not nil. On error it removes whatever it
// created.
func (s *Store) write(ctx context.Context, r io.Reader, want *chain.Hash) (_ blobstore.Info, err error) {
	tf, err := s.ops.CreateTemp(s.tmpDir)
	if err != nil {
		return blobstore.Info{}, fmt.Errorf("creating temp file: %w", err)
	}
	tmpName := tf.Name()
	open := true // tf not yet closed
	placed := false
	defer func() {
		if placed {
			return
		}
		if open {
			tf.Close() // the write already failed; this error adds nothing
		}
		// A temp file that cannot be removed after a successful call (the
		// blob was already stored) is swept by the next Open.
		if rerr := s.ops.Remove(tmpName); rerr != nil && err != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = errors.Join(err, fmt.Errorf("removing temp file: %w", rerr))
		}
	}()

	if err := tf.Chmod(blobMode); err != nil {
		return blobstore.Info{}, fmt.Errorf("chmod temp file: %w", err)
	}
	sum, n, err := pump(ctx, r, tf)
	if err != nil {
		return blobstore.Info{}, err
	}
	if want != nil && sum != *want {
		return blobstore.Info{}, &blobstore.CorruptError{Want: *want, Got: sum, Size: n}
	}
	if err := tf.Sync(); err != nil {
		return blobstore.Info{}, fmt.Errorf("fsync temp file: %w", err)
	}
	open = false
	if err := tf.Close(); err != nil {
		return blobstore.Info{}, fmt.Errorf("closing temp file: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return blobstore.Info{}, err
	}

	unlock, err := s.keys.lock(ctx, sum)
	if err != nil {
		return blobstore.Info{}, err
	}
	defer unlock()
	placed, err = s.place(tmpName, sum)
	if err != nil {
		return blobstore.Info{}, err
	}
	return blobstore.Info{Hash: sum, Size: n}, nil
}

// place commits the complete, fsynced temp file tmp as blob h: steps 5–7
// of the package doc. The caller holds h's lock. It reports placed=true
// when tmp has been consumed (renamed into place); otherwise the caller
// removes tmp. If the blob already exists, tmp is left to the caller and
// the existing entry is made durable.
func (s *Store) place(tmp string, h chain.Hash) (placed bool, err error) {
	d1, d2 := s.shardDirs(h)
	if err := s.ensureDir(d1, s.blobDir); err != nil {
		return false, err
	}
	if err := s.ensureDir(d2, d1); err != nil {
		return false, err
	}
	final := filepath.Join(d2, h.Hex())
	if err := s.ops.Rename(tmp, final); errors.Is(err, fs.ErrExist) {
		// Stored already, by an earlier write: the bytes are the same by
		// construction. Make sure its entry is durable too.
		if err := s.ops.SyncDir(d2); err != nil {
			return false, fmt.Errorf("fsync directory: %w", err)
		}
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("renaming into place: %w", err)
	}
	if err := s.ops.SyncDir(d2); err != nil {
		// The entry is not known to be durable, so the blob must not be
		// reported stored: take it back.
		err = fmt.Errorf("fsync directory: %w", err)
		if rerr := s.ops.Remove(final); rerr != nil {
			err = errors.Join(err, fmt.Errorf("removing unconfirmed blob: %w", rerr))
		}
		return true, err
	}
	return true, nil
}

// ensureDir creates shard directory dir if needed and, the first time this
// Store meets it, fsyncs parent so that dir's own entry is durable even if
// an earlier process created it and crashed before doing so.
func (s *Store) ensureDir(dir, parent string) error {
	if _, ok := s.syncedDirs.Load(dir); ok {
		return nil
	}
	if err := s.ops.Mkdir(dir); err != nil {
		return fmt.Errorf("creating shard directory: %w", err)
	}
	if err := s.ops.SyncDir(parent); err != nil {
		return fmt.Errorf("fsync directory: %w", err)
	}
	s.syncedDirs.Store(dir, struct{}{})
	return nil
}

// Open implements blobstore.Fetcher. The reader is the blob's *os.File.
func (s *Store) Open(ctx context.Context, h chain.Hash) (io.ReadCloser, int64, error) {
	if err := s.checkOpen(); err != nil {
		return nil, 0, err
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("fsstore: open %s: %w", h, err)
	}
	f, err := os.Open(s.path(h))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("fsstore: open %s: %w", h, blobstore.ErrNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("fsstore: open %s: %w", h, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", f.Name())
	}
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("fsstore: open %s: %w", h, err)
	}
	return f, fi.Size(), nil
}

// Stat implements blobstore.Statter.
func (s *Store) Stat(ctx context.Context, h chain.Hash) (blobstore.Info, error) {
	if err := s.checkOpen(); err != nil {
		return blobstore.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return blobstore.Info{}, fmt.Errorf("fsstore: stat %s: %w", h, err)
	}
	info, err := s.stat(h)
	if err != nil {
		return blobstore.Info{}, fmt.Errorf("fsstore: stat %s: %w", h, err)
	}
	return info, nil
}

func (s *Store) stat(h chain.Hash) (blobstore.Info, error) {
	fi, err := os.Lstat(s.path(h))
	if errors.Is(err, fs.ErrNotExist) {
		return blobstore.Info{}, blobstore.ErrNotFound
	}
	if err != nil {
		return blobstore.Info{}, err
	}
	if !fi.Mode().IsRegular() {
		return blobstore.Info{}, fmt.Errorf("%s is not a regular file", s.path(h))
	}
	return blobstore.Info{Hash: h, Size: fi.Size()}, nil
}

// Remove implements blobstore.Remover: it unlinks the blob's file and
// fsyncs its directory.
func (s *Store) Remove(ctx context.Context, h chain.Hash) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	unlock, err := s.keys.lock(ctx, h)
	if err != nil {
		return fmt.Errorf("fsstore: remove %s: %w", h, err)
	}
	defer unlock()
	err = s.ops.Remove(s.path(h))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fsstore: remove %s: %w", h, err)
	}
	_, d2 := s.shardDirs(h)
	if err := s.ops.SyncDir(d2); err != nil {
		return fmt.Errorf("fsstore: remove %s: fsync directory: %w", h, err)
	}
	return nil
}
