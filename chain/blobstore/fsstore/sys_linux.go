//go:build linux

package fsstore

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// renameNoReplace renames oldpath to newpath with renameat2(2)
// RENAME_NOREPLACE, which fails with EEXIST instead of replacing newpath.
// Filesystems without RENAME_NOREPLACE (EINVAL) and kernels without
// renameat2 (ENOSYS) fall back to linkRename.
func renameNoReplace(oldpath, newpath string) error {
	err := unix.Renameat2(unix.AT_FDCWD, oldpath, unix.AT_FDCWD, newpath, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		return linkRename(oldpath, newpath)
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return nil
}
