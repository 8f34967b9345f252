package serialtest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/exhibit-forensics/exhibit/internal/atomicfile"
)

// PTY is a pseudo-terminal pair. A simulator reads and writes the master side
// through PTY's Read and Write; the driver under test opens Path (the slave,
// /dev/pts/N) with serialport.Open. Closing the PTY is the test's way of
// pulling out a USB-serial adapter: the driver's next read or write fails.
type PTY struct {
	master *os.File // non-blocking, so Close interrupts a pending Read
	slave  *os.File // held open so the master never sees EIO before the driver opens the slave
	path   string

	closeOnce sync.Once
	closeErr  error
}

// OpenPTY opens a new pseudo-terminal pair with the slave in raw mode.
func OpenPTY() (*PTY, error) {
	m, s, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("serialtest: open pty: %w", err)
	}
	path := s.Name()
	// pty.Open puts the master into blocking mode (it calls Fd for its
	// ioctls), and a blocking *os.File cannot be interrupted by Close. Give
	// the simulator a non-blocking duplicate that the runtime poller manages.
	fd, err := unix.Dup(int(m.Fd()))
	m.Close()
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("serialtest: dup pty master: %w", err)
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		s.Close()
		return nil, fmt.Errorf("serialtest: pty master non-blocking: %w", err)
	}
	if err := makeRaw(int(s.Fd())); err != nil {
		unix.Close(fd)
		s.Close()
		return nil, fmt.Errorf("serialtest: raw mode on %s: %w", path, err)
	}
	return &PTY{master: os.NewFile(uintptr(fd), "/dev/ptmx"), slave: s, path: path}, nil
}

// makeRaw applies the settings of cfmakeraw(3): no echo, no line editing, no
// CR/LF translation, 8-bit characters.
func makeRaw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

// Path is the slave device, /dev/pts/N.
func (p *PTY) Path() string { return p.path }

// Read reads what the driver wrote to the slave.
func (p *PTY) Read(b []byte) (int, error) { return p.master.Read(b) }

// Write sends bytes that the driver will read from the slave.
func (p *PTY) Write(b []byte) (int, error) { return p.master.Write(b) }

// Close closes both sides. A Read blocked on the master returns; the
// driver's open slave fails from now on, as a removed USB adapter does.
// Close is idempotent.
func (p *PTY) Close() error {
	p.closeOnce.Do(func() {
		p.closeErr = errors.Join(p.master.Close(), p.slave.Close())
	})
	return p.closeErr
}

func (p *PTY) String() string { return "pty " + p.path }

// Link is a stable path (a symbolic link) to whichever pseudo-terminal
// currently plays the device, the test counterpart of the udev symlinks in
// /dev/serial/by-id/. A new pseudo-terminal gets a new /dev/pts/N, so a driver
// that re-opens after an unplug must open the link, not the pts path.
type Link string

// Point makes the link refer to target, replacing any previous target
// atomically (internal/atomicfile.Symlink: a temporary symlink renamed over
// the link), so a driver never sees a half-made link.
func (l Link) Point(target string) error {
	if err := atomicfile.Symlink(target, string(l)); err != nil {
		return fmt.Errorf("serialtest: link %s: %w", l, err)
	}
	return nil
}

// Remove deletes the link, as udev deletes a by-id link when the adapter is
// removed. Removing a link that does not exist is not an error.
func (l Link) Remove() error {
	if err := os.Remove(string(l)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("serialtest: remove link %s: %w", l, err)
	}
	return nil
}

// Target returns the current target of the link.
func (l Link) Target() (string, error) {
	t, err := os.Readlink(string(l))
	if err != nil {
		return "", fmt.Errorf("serialtest: read link %s: %w", l, err)
	}
	if !filepath.IsAbs(t) {
		t = filepath.Join(filepath.Dir(string(l)), t)
	}
	return t, nil
}
