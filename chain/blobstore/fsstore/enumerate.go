package fsstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
)

// Enumerate implements blobstore.Enumerator by walking the shard tree in
// name order, skipping whole shards that sort before after. Entries that do
// not follow the layout are ignored.
func (s *Store) Enumerate(ctx context.Context, after chain.Hash, fn func(blobstore.Info) error) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fsstore: enumerate: %w", err)
	}
	x := after.Hex()
	first, err := readDirNames(s.blobDir)
	if err != nil {
		return fmt.Errorf("fsstore: enumerate: %w", err)
	}
	for _, d1 := range first {
		if !isHexName(d1, 2) || d1 < x[:2] {
			continue
		}
		p1 := filepath.Join(s.blobDir, d1)
		second, err := readDirNames(p1)
		if err != nil {
			return fmt.Errorf("fsstore: enumerate: %w", err)
		}
		for _, d2 := range second {
			if !isHexName(d2, 2) || d1+d2 < x[:4] {
				continue
			}
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("fsstore: enumerate: %w", err)
			}
			p2 := filepath.Join(p1, d2)
			names, err := readDirNames(p2)
			if err != nil {
				return fmt.Errorf("fsstore: enumerate: %w", err)
			}
			for _, name := range names {
				h, err := chain.ParseHex(name)
				if err != nil || name[:4] != d1+d2 || bytes.Compare(h[:], after[:]) <= 0 {
					continue
				}
				fi, err := os.Lstat(filepath.Join(p2, name))
				if errors.Is(err, fs.ErrNotExist) {
					continue // removed since the directory was read
				}
				if err != nil {
					return fmt.Errorf("fsstore: enumerate: %w", err)
				}
				if !fi.Mode().IsRegular() {
					continue
				}
				if err := ctx.Err(); err != nil {
					return fmt.Errorf("fsstore: enumerate: %w", err)
				}
				if err := fn(blobstore.Info{Hash: h, Size: fi.Size()}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// readDirNames returns the sorted names in dir; a directory removed
// meanwhile reads as empty.
func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ents, err := f.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names, nil
}

// isHexName reports whether name is n lowercase hex digits.
func isHexName(name string, n int) bool {
	if len(name) != n {
		return false
	}
	for i := 0; i < n; i++ {
		c := name[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
