// Package memstore is an in-memory blobstore.Store for tests and demos.
//
// It keeps every blob in a map, so it is only for small data. It keeps the
// same contracts as the durable backends (it passes storetest.Test), except
// durability: everything is lost when the process exits. NewLimited makes a
// store that reports disk full (blobstore.ErrNoSpace) past a byte limit, so
// callers' handling of a full store can be tested without a real disk.
package memstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
)

// readChunk is how much is read between context checks.
const readChunk = 64 << 10

// Store is an in-memory blob store. The zero value is not usable; call New.
type Store struct {
	limit int64 // maximum total bytes; <0 means none

	mu    sync.RWMutex
	blobs map[chain.Hash][]byte
	used  int64
}

var _ blobstore.Store = (*Store)(nil)

// New returns an empty store without a size limit.
func New() *Store { return NewLimited(-1) }

// NewLimited returns an empty store that holds at most limit bytes of blob
// data in total; a write that would exceed it fails with an error matching
// blobstore.ErrNoSpace (and so syscall.ENOSPC).
func NewLimited(limit int64) *Store {
	return &Store{limit: limit, blobs: make(map[chain.Hash][]byte)}
}

// read reads r to EOF, checking ctx between chunks and failing early with
// ErrNoSpace once the input cannot fit.
func (s *Store) read(ctx context.Context, r io.Reader) ([]byte, error) {
	var buf bytes.Buffer
	chunk := make([]byte, readChunk)
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("after %d bytes: %w", buf.Len(), err)
		}
		n, err := r.Read(chunk)
		buf.Write(chunk[:n])
		if s.limit >= 0 && int64(buf.Len()) > s.limit {
			return nil, fmt.Errorf("after %d bytes: %w", buf.Len(), blobstore.ErrNoSpace)
		}
		if err == io.EOF {
			return buf.Bytes(), nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading input at byte %d: %w", buf.Len(), err)
		}
	}
}

// put stores b as blob h unless it is already there.
func (s *Store) put(ctx context.Context, h chain.Hash, b []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.blobs[h]; ok {
		return nil
	}
	if s.limit >= 0 && s.used+int64(len(b)) > s.limit {
		return fmt.Errorf("%d bytes used of %d: %w", s.used, s.limit, blobstore.ErrNoSpace)
	}
	s.blobs[h] = b
	s.used += int64(len(b))
	return nil
}

// Receive implements blobstore.Receiver.
func (s *Store) Receive(ctx context.Context, want chain.Hash, r io.Reader) (blobstore.Info, error) {
	b, err := s.read(ctx, r)
	if err != nil {
		return blobstore.Info{}, fmt.Errorf("memstore: receive %s: %w", want, err)
	}
	if got := chain.Sum(b); got != want {
		return blobstore.Info{}, fmt.Errorf("memstore: receive %s: %w", want,
			&blobstore.CorruptError{Want: want, Got: got, Size: int64(len(b))})
	}
	if err := s.put(ctx, want, b); err != nil {
		return blobstore.Info{}, fmt.Errorf("memstore: receive %s: %w", want, err)
	}
	return blobstore.Info{Hash: want, Size: int64(len(b))}, nil
}

// Ingest implements blobstore.Ingester.
func (s *Store) Ingest(ctx context.Context, r io.Reader) (blobstore.Info, error) {
	b, err := s.read(ctx, r)
	if err != nil {
		return blobstore.Info{}, fmt.Errorf("memstore: ingest: %w", err)
	}
	h := chain.Sum(b)
	if err := s.put(ctx, h, b); err != nil {
		return blobstore.Info{}, fmt.Errorf("memstore: ingest: %w", err)
	}
	return blobstore.Info{Hash: h, Size: int64(len(b))}, nil
}

// Open implements blobstore.Fetcher.
func (s *Store) Open(ctx context.Context, h chain.Hash) (io.ReadCloser, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("memstore: open %s: %w", h, err)
	}
	s.mu.RLock()
	b, ok := s.blobs[h]
	s.mu.RUnlock()
	if !ok {
		return nil, 0, fmt.Errorf("memstore: open %s: %w", h, blobstore.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
}

// Stat implements blobstore.Statter.
func (s *Store) Stat(ctx context.Context, h chain.Hash) (blobstore.Info, error) {
	if err := ctx.Err(); err != nil {
		return blobstore.Info{}, fmt.Errorf("memstore: stat %s: %w", h, err)
	}
	s.mu.RLock()
	b, ok := s.blobs[h]
	s.mu.RUnlock()
	if !ok {
		return blobstore.Info{}, fmt.Errorf("memstore: stat %s: %w", h, blobstore.ErrNotFound)
	}
	return blobstore.Info{Hash: h, Size: int64(len(b))}, nil
}

// Enumerate implements blobstore.Enumerator over a snapshot of the names
// taken when it starts.
func (s *Store) Enumerate(ctx context.Context, after chain.Hash, fn func(blobstore.Info) error) error {
	s.mu.RLock()
	infos := make([]blobstore.Info, 0, len(s.blobs))
	for h, b := range s.blobs {
		if bytes.Compare(h[:], after[:]) > 0 {
			infos = append(infos, blobstore.Info{Hash: h, Size: int64(len(b))})
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(infos, func(a, b blobstore.Info) int { return bytes.Compare(a.Hash[:], b.Hash[:]) })
	for _, in := range infos {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("memstore: enumerate: %w", err)
		}
		if err := fn(in); err != nil {
			return err
		}
	}
	return nil
}

// Remove implements blobstore.Remover.
func (s *Store) Remove(ctx context.Context, h chain.Hash) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: remove %s: %w", h, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.blobs[h]; ok {
		s.used -= int64(len(b))
		delete(s.blobs, h)
	}
	return nil
}
