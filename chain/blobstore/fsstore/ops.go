package fsstore

import (
	"errors"
	"io/fs"
	"os"
)

// fsOps is the filesystem seam: every step of a write that can fail goes
// through it, so tests can observe the order of steps and fail any one of
// them. The production implementation is osOps.
type fsOps interface {
	// CreateTemp creates a new, empty temporary file in dir.
	CreateTemp(dir string) (tempFile, error)
	// Mkdir creates directory path; it is not an error if it already exists.
	Mkdir(path string) error
	// SyncDir fsyncs directory path, making its entries durable.
	SyncDir(path string) error
	// Rename renames oldpath to newpath. It MUST NOT replace an existing
	// newpath: it fails with an error matching fs.ErrExist instead.
	Rename(oldpath, newpath string) error
	// Remove removes the file path.
	Remove(path string) error
}

// tempFile is the part of *os.File a write uses.
type tempFile interface {
	Name() string
	Chmod(mode fs.FileMode) error
	Write(p []byte) (int, error)
	Sync() error
	Close() error
}

// osOps is fsOps on the real filesystem.
type osOps struct{}

var _ fsOps = osOps{}

func (osOps) CreateTemp(dir string) (tempFile, error) {
	f, err := os.CreateTemp(dir, "blob-*.tmp")
	if err != nil {
		return nil, err // not a typed nil *os.File in the interface
	}
	return f, nil
}

func (osOps) Mkdir(path string) error {
	err := os.Mkdir(path, dirMode)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	return err
}

func (osOps) SyncDir(path string) error {
	d, err := os.Open(path)
	if err != nil {
		return err
	}
	serr := d.Sync()
	cerr := d.Close()
	if serr != nil {
		return serr
	}
	return cerr
}

func (osOps) Rename(oldpath, newpath string) error { return renameNoReplace(oldpath, newpath) }

func (osOps) Remove(path string) error { return os.Remove(path) }

// linkRename renames oldpath to newpath without replacing newpath, using a
// hard link: link(2) fails with EEXIST if newpath exists. It is the portable
// fallback for renameNoReplace. If unlinking oldpath fails, the blob is
// nevertheless in place and oldpath (a temp file) is removed by the next
// Open's sweep of DIR/tmp, so that error is not reported.
func linkRename(oldpath, newpath string) error {
	if err := os.Link(oldpath, newpath); err != nil {
		return err
	}
	_ = os.Remove(oldpath)
	return nil
}
