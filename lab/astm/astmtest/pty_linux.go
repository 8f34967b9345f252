//go:build linux

package astmtest

import (
	"os"
	"testing"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// PTY opens a pseudo-terminal pair for a test and returns its two ends as
// byte streams: what is written to one is read from the other. The
// terminal side is put in raw mode (no echo, no line editing, no CR/LF
// translation, no signals), as a serial port for an analyser would be, so
// that ETX (^C), EOT (^D), NAK (^U) and ETB (^W) pass through untouched.
// Both ends are closed when the test ends, the terminal side first so that
// a read blocked on the other side returns.
func PTY(t testing.TB) (ptm, tty *os.File) {
	t.Helper()
	ptm, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() {
		tty.Close()
		ptm.Close()
	})
	if err := MakeRaw(tty); err != nil {
		t.Fatalf("raw mode: %v", err)
	}
	return ptm, tty
}

// MakeRaw puts a terminal in raw mode, like cfmakeraw(3). It uses the
// file's raw connection so the file stays in non-blocking (pollable) mode.
func MakeRaw(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ierr error
	err = rc.Control(func(fd uintptr) {
		tio, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
		if err != nil {
			ierr = err
			return
		}
		tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		tio.Oflag &^= unix.OPOST
		tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		tio.Cflag &^= unix.CSIZE | unix.PARENB
		tio.Cflag |= unix.CS8
		tio.Cc[unix.VMIN] = 1
		tio.Cc[unix.VTIME] = 0
		ierr = unix.IoctlSetTermios(int(fd), unix.TCSETS, tio)
	})
	if err != nil {
		return err
	}
	return ierr
}
