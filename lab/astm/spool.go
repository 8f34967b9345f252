package astm

import (
	"bufio"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/exhibit-forensics/exhibit/chain"
)

// A spool holds input that went over the dialect's max-message in a
// temporary file, so that the Handler reads it as a stream and the Conn
// does not hold it in memory while the Handler runs (or until the
// quarantine succeeds). It is not synced: keeping the input is the
// Handler's job; the spool only carries it there.
type spool struct {
	f    *os.File
	w    *bufio.Writer
	h    hash.Hash
	size int64
}

// newSpool creates a spool file in dir ("" means os.TempDir()).
func newSpool(dir string) (*spool, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	f, err := os.CreateTemp(dir, "astm-spool-*")
	if err != nil {
		return nil, fmt.Errorf("astm: spool: %w", err)
	}
	return &spool{f: f, w: bufio.NewWriterSize(f, 64<<10), h: chain.NewHasher()}, nil
}

func (s *spool) Write(p []byte) (int, error) {
	s.h.Write(p)
	n, err := s.w.Write(p)
	s.size += int64(n)
	return n, err
}

// finish flushes what was written; the spool is then ready to read.
func (s *spool) finish() error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("astm: spool %s: %w", s.f.Name(), err)
	}
	return nil
}

func (s *spool) sum() chain.Hash { return chain.HashOf(s.h) }

func (s *spool) name() string { return s.f.Name() }

func (s *spool) reader() io.Reader { return io.NewSectionReader(s.f, 0, s.size) }

// remove closes and deletes the spool file.
func (s *spool) remove() error {
	return errors.Join(s.f.Close(), os.Remove(s.f.Name()))
}

// keep closes the spool file and leaves it on disk.
func (s *spool) keep() error { return s.f.Close() }
