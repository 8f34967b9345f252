//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package pty

import (
	"errors"
	"fmt"
	"os"
	"sync"

	creack "github.com/creack/pty"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// A Pair is a pseudo-terminal pair. A simulator reads and writes the master
// end through the Pair's Read and Write; the driver under test opens Path
// (the terminal end, /dev/pts/N) with serialport.Open. Closing the Pair is
// the simulator's way of pulling out a USB-serial adapter: the driver's next
// read or write fails.
type Pair struct {
	master *os.File // non-blocking, so Close interrupts a pending Read
	// term is held open so that the master never sees EIO before the
	// driver opens the terminal, and so that a test can use the terminal
	// end in process (Terminal).
	term *os.File
	path string

	closeOnce sync.Once
	closeErr  error
}

// Open opens a new pseudo-terminal pair with the terminal end in raw mode.
func Open() (*Pair, error) {
	m, s, err := creack.Open()
	if err != nil {
		return nil, fmt.Errorf("pty: open: %w", err)
	}
	path := s.Name()
	// creack.Open puts the master into blocking mode (it calls Fd for its
	// ioctls), and a blocking *os.File cannot be interrupted by Close. Give
	// the simulator a non-blocking duplicate that the runtime poller
	// manages.
	fd, err := unix.Dup(int(m.Fd()))
	m.Close()
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("pty: dup master: %w", err)
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		s.Close()
		return nil, fmt.Errorf("pty: master non-blocking: %w", err)
	}
	master := os.NewFile(uintptr(fd), "/dev/ptmx")
	if err := makeRaw(s); err != nil {
		master.Close()
		s.Close()
		return nil, fmt.Errorf("pty: raw mode on %s: %w", path, err)
	}
	return &Pair{master: master, term: s, path: path}, nil
}

// makeRaw puts the terminal in raw mode through its raw connection, which
// (unlike Fd) leaves the file non-blocking and pollable.
func makeRaw(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var rerr error
	if err := rc.Control(func(fd uintptr) { _, rerr = term.MakeRaw(int(fd)) }); err != nil {
		return err
	}
	return rerr
}

// Path is the terminal end, /dev/pts/N.
func (p *Pair) Path() string { return p.path }

// Read reads what the driver wrote to the terminal end.
func (p *Pair) Read(b []byte) (int, error) { return p.master.Read(b) }

// Write sends bytes that the driver will read from the terminal end.
func (p *Pair) Write(b []byte) (int, error) { return p.master.Write(b) }

// Terminal returns the terminal end, already open, for a test that plays
// both ends in one process. It is closed by Close.
func (p *Pair) Terminal() *os.File { return p.term }

// Close closes both ends. A Read blocked on either returns; a driver that
// opened Path fails from now on, as it does when a USB adapter is removed.
// Close is idempotent.
func (p *Pair) Close() error {
	p.closeOnce.Do(func() {
		p.closeErr = errors.Join(p.master.Close(), p.term.Close())
	})
	return p.closeErr
}

func (p *Pair) String() string { return "pty " + p.path }
