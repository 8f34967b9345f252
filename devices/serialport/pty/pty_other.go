//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd || solaris)

package pty

import (
	"fmt"
	"os"
)

// A Pair is a pseudo-terminal pair; on this system none can be opened.
type Pair struct{}

// Open reports ErrUnsupported: this system has no pseudo-terminals that
// github.com/creack/pty can open.
func Open() (*Pair, error) { return nil, fmt.Errorf("pty: open: %w", ErrUnsupported) }

// Path is empty.
func (p *Pair) Path() string { return "" }

// Read reports ErrUnsupported.
func (p *Pair) Read([]byte) (int, error) { return 0, ErrUnsupported }

// Write reports ErrUnsupported.
func (p *Pair) Write([]byte) (int, error) { return 0, ErrUnsupported }

// Terminal returns nil.
func (p *Pair) Terminal() *os.File { return nil }

// Close does nothing.
func (p *Pair) Close() error { return nil }

func (p *Pair) String() string { return "pty (unsupported)" }
