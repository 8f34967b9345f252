//go:build unix

package fsstore

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockFile takes a flock(2) on f that lasts while the Store is open. It
// first tries an exclusive lock without waiting: if that succeeds no other
// Store has the directory open, sweep is called (to remove temp files of
// dead writers, which is safe only then) and the lock is downgraded to
// shared. Otherwise it waits for a shared lock, which other open Stores hold
// too, and does not sweep.
func lockFile(f *os.File, sweep func() error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	flock := func(how int) (ferr error) {
		if err := rc.Control(func(fd uintptr) {
			for {
				ferr = syscall.Flock(int(fd), how)
				if !errors.Is(ferr, syscall.EINTR) {
					return
				}
			}
		}); err != nil {
			return err
		}
		return ferr
	}
	switch err := flock(syscall.LOCK_EX | syscall.LOCK_NB); {
	case err == nil:
		if err := sweep(); err != nil {
			return err
		}
		if err := flock(syscall.LOCK_SH); err != nil {
			return fmt.Errorf("flock %s: %w", f.Name(), err)
		}
		return nil
	case errors.Is(err, syscall.EWOULDBLOCK):
		if err := flock(syscall.LOCK_SH); err != nil {
			return fmt.Errorf("flock %s: %w", f.Name(), err)
		}
		return nil
	default:
		return fmt.Errorf("flock %s: %w", f.Name(), err)
	}
}
