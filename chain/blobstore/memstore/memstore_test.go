package memstore

import (
	"bytes"
	"errors"
	"syscall"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	"github.com/exhibit-forensics/exhibit/chain/blobstore/storetest"
)

func TestConformance(t *testing.T) {
	storetest.TestWithOptions(t, func(t *testing.T) blobstore.Store { return New() }, storetest.Options{
		Corrupt: func(t *testing.T, s blobstore.Store, h chain.Hash) {
			ms := s.(*Store)
			ms.mu.Lock()
			defer ms.mu.Unlock()
			b := ms.blobs[h]
			if len(b) == 0 {
				t.Fatalf("corrupt: blob %s missing or empty", h)
			}
			b[0] ^= 1
		},
	})
}

func TestLimited(t *testing.T) {
	s := NewLimited(100)
	ctx := t.Context()
	small := bytes.Repeat([]byte("a"), 60)
	if _, err := s.Ingest(ctx, bytes.NewReader(small)); err != nil {
		t.Fatal(err)
	}
	// Fits the limit on its own but not with what is stored.
	second := bytes.Repeat([]byte("b"), 60)
	if _, err := s.Receive(ctx, chain.Sum(second), bytes.NewReader(second)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Receive past the limit = %v, want ENOSPC", err)
	}
	// Larger than the limit: fails while reading.
	big := bytes.Repeat([]byte("c"), 200000)
	if _, err := s.Ingest(ctx, bytes.NewReader(big)); !errors.Is(err, blobstore.ErrNoSpace) {
		t.Fatalf("Ingest larger than the limit = %v, want ErrNoSpace", err)
	}
	for _, b := range [][]byte{second, big} {
		if _, err := s.Stat(ctx, chain.Sum(b)); !errors.Is(err, blobstore.ErrNotFound) {
			t.Fatalf("rejected blob is visible: %v", err)
		}
	}
	// Removing frees space; storing the same bytes again takes none.
	if err := s.Remove(ctx, chain.Sum(small)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Receive(ctx, chain.Sum(second), bytes.NewReader(second)); err != nil {
		t.Fatalf("Receive after Remove freed space = %v", err)
	}
	if _, err := s.Receive(ctx, chain.Sum(second), bytes.NewReader(second)); err != nil {
		t.Fatalf("Receive of a stored blob at the limit = %v", err)
	}
}
