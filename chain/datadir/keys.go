package datadir

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/internal/atomicfile"
)

// keyFileMode is the only mode a device key file may have.
const keyFileMode = 0o600

// Keys is a device key kept in a file (PKCS#8 PEM, mode 0600) at its path,
// with the next key of a rotation staged at the path + ".next". It is a
// ledger.KeyStore.
type Keys string

var _ ledger.KeyStore = Keys("")

func (k Keys) next() string { return string(k) + ".next" }

// Load reads the current key, refusing a file that others can read.
func (k Keys) Load() (ed25519.PrivateKey, error) { return readKey(string(k)) }

// Save writes priv as the current key.
func (k Keys) Save(priv ed25519.PrivateKey) error { return writeKey(string(k), priv) }

// SaveNext writes priv as the next key.
func (k Keys) SaveNext(priv ed25519.PrivateKey) error { return writeKey(k.next(), priv) }

// UseNext renames the next key over the current one.
func (k Keys) UseNext() error {
	if err := os.Rename(k.next(), string(k)); err != nil {
		return fmt.Errorf("the new key is still at %s: %w", k.next(), err)
	}
	return atomicfile.SyncDir(filepath.Dir(string(k)))
}

// DropNext removes the next key, if any.
func (k Keys) DropNext() error {
	if err := os.Remove(k.next()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Remove removes the current key.
func (k Keys) Remove() error {
	if err := os.Remove(string(k)); err != nil {
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(string(k)))
}
