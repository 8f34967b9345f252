// Package atomicfile writes files so that a reader, or the machine after a
// crash, sees either the whole new file or none of it — never a prefix.
//
// Every write follows the same steps: a temporary file in the destination's
// own directory (so that the final step is a rename within one file
// system), the contents, fsync of the file, close, then the file is moved
// under its final name — by rename(2) for Write, which replaces what was
// there, and by link(2) for WriteNew, which fails rather than replace — and
// last an fsync of the directory, without which the new name itself may not
// survive a power cut (POSIX makes a rename durable only once its directory
// is synced). On any failure before the move the temporary file is removed
// and nothing changes under the final name.
//
// The temporary file is named "." + base + ".<random>.partial" beside the
// destination. A process killed half-way through leaves that file behind;
// it is never mistaken for the destination, and can be deleted.
//
// The alternatives rejected: writing in place (a crash leaves a prefix);
// a temporary file in os.TempDir (often another file system, where rename
// fails or copies); renameat2(RENAME_NOREPLACE) for WriteNew (Linux-only,
// and refused by some file systems; link(2) is POSIX and was already how a
// bundle refused to overwrite).
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

// file is what the steps need of a temporary file.
type file interface {
	io.Writer
	Name() string
	Chmod(fs.FileMode) error
	Sync() error
	Close() error
}

// system is the file system calls, a seam through which the tests fail
// each step in turn and watch the directory fsyncs.
type system interface {
	CreateTemp(dir, pattern string) (file, error)
	Rename(oldpath, newpath string) error
	Link(oldpath, newpath string) error
	Symlink(target, path string) error
	Remove(path string) error
	Lstat(path string) (fs.FileInfo, error)
	SyncDir(dir string) error
}

type osSystem struct{}

func (osSystem) CreateTemp(dir, pattern string) (file, error) { return os.CreateTemp(dir, pattern) }
func (osSystem) Rename(oldpath, newpath string) error         { return os.Rename(oldpath, newpath) }
func (osSystem) Link(oldpath, newpath string) error           { return os.Link(oldpath, newpath) }
func (osSystem) Symlink(target, path string) error            { return os.Symlink(target, path) }
func (osSystem) Remove(path string) error                     { return os.Remove(path) }
func (osSystem) Lstat(path string) (fs.FileInfo, error)       { return os.Lstat(path) }

func (osSystem) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// sys is replaced by the tests.
var sys system = osSystem{}

// Write writes path with what write writes, mode perm, replacing any file
// of that name: readers see the old file or the whole new one. If write,
// or any step before the rename, fails, the temporary file is removed and
// path is left as it was; write's own error is returned unwrapped. If only the final fsync of the directory fails,
// the new file is in place but may not survive a crash; the error says so.
func Write(path string, perm fs.FileMode, write func(w io.Writer) error) error {
	tmp, err := writeTemp(path, perm, write)
	if err != nil {
		return err
	}
	if err := sys.Rename(tmp, path); err != nil {
		sys.Remove(tmp)
		return fmt.Errorf("atomicfile: %s: %w", path, err)
	}
	return syncDirOf(path)
}

// WriteNew creates path with what write writes, mode perm, and never
// replaces anything: if path exists — before the write starts or by the
// time it ends — the error wraps fs.ErrExist and the existing file is left
// untouched. On any failure nothing is left under path (if the final fsync
// of the directory fails, the new name is removed again) and the temporary
// file is removed.
func WriteNew(path string, perm fs.FileMode, write func(w io.Writer) error) error {
	// Refuse at once rather than after writing gigabytes.
	if _, err := sys.Lstat(path); err == nil {
		return fmt.Errorf("atomicfile: %s: %w", path, fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("atomicfile: %w", err)
	}
	tmp, err := writeTemp(path, perm, write)
	if err != nil {
		return err
	}
	// link(2) fails with EEXIST rather than replace: a file that appeared
	// meanwhile is kept.
	err = sys.Link(tmp, path)
	sys.Remove(tmp)
	if err != nil {
		return fmt.Errorf("atomicfile: %s: %w", path, err)
	}
	if err := syncDirOf(path); err != nil {
		sys.Remove(path)
		return err
	}
	return nil
}

// Symlink makes path a symbolic link to target, replacing any previous
// link or file of that name atomically (a new link under a temporary name,
// renamed over path), so that whoever opens path never finds it missing or
// half-made while it is re-pointed, then syncs the directory.
func Symlink(target, path string) error {
	dir, base := filepath.Split(path)
	for range 100 {
		tmp := filepath.Join(dir, "."+base+"."+strconv.FormatUint(rand.Uint64(), 36)+".partial")
		err := sys.Symlink(target, tmp)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("atomicfile: link %s: %w", path, err)
		}
		if err := sys.Rename(tmp, path); err != nil {
			sys.Remove(tmp)
			return fmt.Errorf("atomicfile: link %s: %w", path, err)
		}
		return syncDirOf(path)
	}
	return fmt.Errorf("atomicfile: link %s: no free temporary name", path)
}

// SyncDir fsyncs directory dir, making the creation, renaming and removal
// of the names in it durable: call it after a rename or a removal that
// must survive a crash (the writes above call it themselves).
func SyncDir(dir string) error {
	if err := sys.SyncDir(dir); err != nil {
		return fmt.Errorf("atomicfile: sync directory %s: %w", dir, err)
	}
	return nil
}

func syncDirOf(path string) error { return SyncDir(filepath.Dir(path)) }

// writeTemp writes a complete, synced and closed temporary file beside
// path and returns its name; on failure it removes it.
func writeTemp(path string, perm fs.FileMode, write func(w io.Writer) error) (string, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := sys.CreateTemp(dir, "."+base+".*.partial")
	if err != nil {
		return "", fmt.Errorf("atomicfile: %w", err)
	}
	name := f.Name()
	fail := func(err error) (string, error) {
		f.Close()
		sys.Remove(name)
		return "", err
	}
	// The mode is set before anything is written, so that contents meant
	// for the owner alone (a private key) are never readable by others.
	if err := f.Chmod(perm); err != nil {
		return fail(fmt.Errorf("atomicfile: %s: %w", path, err))
	}
	// The writer's own error is returned as it is: the caller knows what
	// it was writing.
	if err := write(f); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("atomicfile: %s: %w", path, err))
	}
	if err := f.Close(); err != nil {
		sys.Remove(name)
		return "", fmt.Errorf("atomicfile: %s: %w", path, err)
	}
	return name, nil
}
