package pty

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/exhibit-forensics/exhibit/internal/atomicfile"
)

// ErrUnsupported is returned by Open on systems without pseudo-terminals.
var ErrUnsupported = errors.ErrUnsupported

// Link is a stable path (a symbolic link) to whichever pseudo-terminal
// currently plays the device, the counterpart of the udev symlinks in
// /dev/serial/by-id/. A new pseudo-terminal gets a new /dev/pts/N, so a
// driver that re-opens after an unplug must open the link, not the pts path.
type Link string

// Point makes the link refer to target, replacing any previous target
// atomically (internal/atomicfile.Symlink: a temporary symlink renamed over
// the link, then the directory synced), so a driver never sees a half-made
// link.
func (l Link) Point(target string) error {
	if err := atomicfile.Symlink(target, string(l)); err != nil {
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

// Serve plays a device behind the link the way a USB-serial adapter comes
// and goes behind a /dev/serial/by-id link, until ctx ends. It opens a Pair,
// points the link at it and runs session on it. When the session returns it
// unplugs: it removes the link first, so that nothing re-opens the old
// /dev/pts/N (which the kernel may give to another pseudo-terminal), then
// closes the pair, so that a driver that has it open fails as it does when
// an adapter is removed. Then it calls next with the session's error: if
// next returns nil a new pseudo-terminal — with a new /dev/pts number — is
// plugged in behind the same link; otherwise Serve returns next's error.
// next may wait (a replug delay) and must return when ctx ends.
//
// When ctx ends the pair is closed, which unblocks the session, the link is
// removed and Serve returns nil. Serve also returns when a pseudo-terminal
// cannot be opened or the link cannot be set or removed.
func (l Link) Serve(ctx context.Context, session func(ctx context.Context, p *Pair) error, next func(ctx context.Context, err error) error) error {
	for ctx.Err() == nil {
		p, err := Open()
		if err != nil {
			return err
		}
		if err := l.Point(p.Path()); err != nil {
			p.Close()
			return err
		}
		stop := context.AfterFunc(ctx, func() { p.Close() })
		serr := session(ctx, p)
		stop()
		rerr := l.Remove()
		p.Close()
		switch {
		case ctx.Err() != nil:
			return nil
		case rerr != nil:
			return rerr
		}
		if err := next(ctx, serr); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	return nil
}
