// Package datadir is an Exhibit data directory on disk, and the wiring
// that turns one into a ledger (chain/ledger): the embedded default storage
// of an agent (a kiosk or a lab bench) on one machine.
//
// A data directory holds:
//
//	DIR/exhibit.db         the SQLite record store (chain/store/sqlitestore): records, log, checkpoints, claims,
//	                       blobs of at most 64 KiB inline
//	DIR/exhibit-hashes.db  its derived index of records by hash (rebuilt if lost or damaged)
//	DIR/blobs/             content-addressed blobs over 64 KiB (chain/blobstore/fsstore)
//	DIR/keys/device.key    the device's Ed25519 key, PKCS#8 PEM, mode 0600 (Keys)
//	DIR/spool/             input too large to hold in memory while it arrives (lab receive)
//
// The ledger is built from those parts; it knows nothing of the paths.
package datadir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/exhibit-forensics/exhibit/chain/blobstore/fsstore"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/store/sqlitestore"
)

// ErrNotInitialised is returned by Open for a directory that is not an
// initialised data directory; ErrInitialised by Init for one that is.
var (
	ErrNotInitialised = errors.New("not an Exhibit data directory (run `exhibit init` first)")
	ErrInitialised    = errors.New("data directory is already initialised")
)

// The parts of a data directory, relative to it.
const (
	DBFile   = "exhibit.db"
	BlobsDir = "blobs"
	KeyFile  = "keys/device.key"
	SpoolDir = "spool"
)

// Options are the ledger's injected clock and entropy.
type Options struct {
	Now  func() time.Time // nil: time.Now
	Rand io.Reader        // nil: crypto/rand
	// Operator names the force that runs the log, in its origin (Init
	// only; ledger.Config.Operator): empty for ledger.DefaultOperator.
	Operator string
}

// Init creates a data directory (ledger.Create): the device key, the store
// and the log's first record. It refuses a directory that is already
// initialised; a directory left half-made by a crash during Init is started
// over.
func Init(ctx context.Context, dir, producer, initials string, opt Options) (*ledger.Ledger, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	cfg, err := parts(ctx, dir, opt)
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	l, err := ledger.Create(ctx, cfg, producer, initials)
	if err != nil {
		closeParts(cfg)
		if errors.Is(err, ledger.ErrInitialised) {
			return nil, fmt.Errorf("init %s: %w", dir, ErrInitialised)
		}
		return nil, err
	}
	return l, nil
}

// Open opens an initialised data directory as a ledger (ledger.New).
func Open(ctx context.Context, dir string, opt Options) (*ledger.Ledger, error) {
	if _, err := os.Stat(filepath.Join(dir, DBFile)); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", dir, ErrNotInitialised)
	}
	cfg, err := parts(ctx, dir, opt)
	if err != nil {
		return nil, err
	}
	l, err := ledger.New(ctx, cfg)
	if err != nil {
		closeParts(cfg)
		if errors.Is(err, store.ErrNotInit) {
			return nil, fmt.Errorf("%s: %w", dir, ErrNotInitialised)
		}
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return l, nil
}

// parts opens the record store, the blob store and the key file of dir.
func parts(ctx context.Context, dir string, opt Options) (ledger.Config, error) {
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, DBFile))
	if err != nil {
		return ledger.Config{}, err
	}
	files, err := fsstore.Open(ctx, filepath.Join(dir, BlobsDir))
	if err != nil {
		st.Close()
		return ledger.Config{}, err
	}
	return ledger.Config{Store: st, Files: files, Keys: Keys(filepath.Join(dir, KeyFile)), Now: opt.Now, Rand: opt.Rand, Operator: opt.Operator}, nil
}

func closeParts(cfg ledger.Config) {
	cfg.Store.Close()
	if c, ok := cfg.Files.(io.Closer); ok {
		c.Close()
	}
}
