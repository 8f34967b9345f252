package pty

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// ErrUnsupported is returned by Open on systems without pseudo-terminals.
var ErrUnsupported = errors.ErrUnsupported

// Link is a stable path (a symbolic link) to whichever pseudo-terminal
// currently plays the device, the counterpart of the udev symlinks in
// /dev/serial/by-id/. A new pseudo-terminal gets a new /dev/pts/N, so a
// driver that re-opens after an unplug must open the link, not the pts path.
type Link string

// Point makes the link refer to target, replacing any previous target
// atomically (a temporary symlink renamed over the link), so a driver never
// sees a half-made link.
func (l Link) Point(target string) error {
	tmp := string(l) + ".tmp" + strconv.Itoa(os.Getpid())
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("pty: link %s: %w", l, err)
	}
	if err := os.Rename(tmp, string(l)); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("pty: link %s: %w", l, err)
	}
	return nil
}

// Remove deletes the link, as udev deletes a by-id link when the adapter is
// removed. Removing a link that does not exist is not an error.
func (l Link) Remove() error {
	if err := os.Remove(string(l)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("pty: remove link %s: %w", l, err)
	}
	return nil
}

// Target returns the current target of the link.
func (l Link) Target() (string, error) {
	t, err := os.Readlink(string(l))
	if err != nil {
		return "", fmt.Errorf("pty: read link %s: %w", l, err)
	}
	if !filepath.IsAbs(t) {
		t = filepath.Join(filepath.Dir(string(l)), t)
	}
	return t, nil
}
