package datadir

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/exhibit-forensics/exhibit/internal/atomicfile"
)

// writeKey writes priv to path as PKCS#8 PEM, mode 0600, atomically
// (internal/atomicfile: a temp file in the same directory, fsync, rename,
// fsync of the directory).
func writeKey(path string, priv ed25519.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("encode device key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create key directory: %w", err)
	}
	err = atomicfile.Write(path, keyFileMode, func(w io.Writer) error {
		return pem.Encode(w, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	})
	if err != nil {
		return fmt.Errorf("write device key: %w", err)
	}
	return nil
}

// readKey reads a device key file, refusing one that others can read.
func readKey(path string) (ed25519.PrivateKey, error) { return ReadKey(path, "device key") }

// ReadKey reads an Ed25519 private key kept as PKCS #8 in a PEM file,
// refusing a file that others can read; what names the key in errors
// ("device key", "CA key").
func ReadKey(path, what string) (ed25519.PrivateKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s %s is missing: %w", what, path, err)
		}
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s %s has mode %v: it must be readable by its owner only (chmod 600)", what, path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s %s is not a PEM private key", what, path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s %s is %T, not Ed25519", what, path, k)
	}
	return priv, nil
}
