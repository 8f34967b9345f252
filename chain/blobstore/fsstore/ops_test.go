package fsstore

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// errInjected is the failure recOps injects.
var errInjected = errors.New("injected failure")

// recOps wraps the real fsOps, logging each step as "op path" (paths
// relative to the store directory, temp files as "tmp") and failing the
// first step for which fail returns true.
type recOps struct {
	base fsOps
	root string

	mu     sync.Mutex
	log    []string
	fail   func(step string) bool // nil: never fail
	failed bool
	err    error // what a failed step returns; errInjected if nil

	// writeLimit, if positive, makes temp file writes fail with ENOSPC
	// once this many bytes have been written, as a full disk does.
	writeLimit int64
}

var _ fsOps = (*recOps)(nil)

func (o *recOps) rel(p string) string {
	r, err := filepath.Rel(o.root, p)
	if err != nil {
		return p
	}
	r = filepath.ToSlash(r)
	if strings.HasPrefix(r, "tmp/") {
		return "tmp"
	}
	return r
}

// step logs a step and reports the injected error if it is to fail.
func (o *recOps) step(format string, args ...any) error {
	s := fmt.Sprintf(format, args...)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.log = append(o.log, s)
	if !o.failed && o.fail != nil && o.fail(s) {
		o.failed = true
		if o.err != nil {
			return o.err
		}
		return fmt.Errorf("%s: %w", s, errInjected)
	}
	return nil
}

func (o *recOps) steps() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.log...)
}

func (o *recOps) CreateTemp(dir string) (tempFile, error) {
	if err := o.step("create %s", o.rel(dir)); err != nil {
		return nil, err
	}
	f, err := o.base.CreateTemp(dir)
	if err != nil {
		return nil, err
	}
	return &recFile{tempFile: f, o: o}, nil
}

func (o *recOps) Mkdir(path string) error {
	if err := o.step("mkdir %s", o.rel(path)); err != nil {
		return err
	}
	return o.base.Mkdir(path)
}

func (o *recOps) SyncDir(path string) error {
	if err := o.step("fsyncdir %s", o.rel(path)); err != nil {
		return err
	}
	return o.base.SyncDir(path)
}

func (o *recOps) Rename(oldpath, newpath string) error {
	if err := o.step("rename %s %s", o.rel(oldpath), o.rel(newpath)); err != nil {
		return err
	}
	return o.base.Rename(oldpath, newpath)
}

func (o *recOps) Remove(path string) error {
	if err := o.step("remove %s", o.rel(path)); err != nil {
		return err
	}
	return o.base.Remove(path)
}

// recFile logs and fails temp file steps for recOps.
type recFile struct {
	tempFile
	o       *recOps
	written int64
}

func (f *recFile) Chmod(mode fs.FileMode) error {
	if err := f.o.step("chmod %o", mode); err != nil {
		return err
	}
	return f.tempFile.Chmod(mode)
}

func (f *recFile) Write(p []byte) (int, error) {
	if err := f.o.step("write"); err != nil {
		return 0, err
	}
	if lim := f.o.writeLimit; lim > 0 && f.written+int64(len(p)) > lim {
		n, err := f.tempFile.Write(p[:lim-f.written])
		f.written += int64(n)
		if err == nil {
			err = &fs.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
		}
		return n, err
	}
	n, err := f.tempFile.Write(p)
	f.written += int64(n)
	return n, err
}

func (f *recFile) Sync() error {
	if err := f.o.step("fsync tmp"); err != nil {
		return err
	}
	return f.tempFile.Sync()
}

func (f *recFile) Close() error {
	err := f.o.step("close tmp")
	cerr := f.tempFile.Close() // always release the descriptor
	if err != nil {
		return err
	}
	return cerr
}
