package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	"github.com/exhibit-forensics/exhibit/chain/store"
)

// Small blobs (at most store.MaxInlineBlob bytes: an analyser message, a
// short document) are kept inline in the record store, written in the same
// transaction as the record that names them: one fsync, and never a blob
// without its record. Larger ones (images, reports) stream into the file
// blob store first, durably, before their record is committed.

// taken is a blob read from a caller, either held in memory for inline
// storage or already in the file store.
type taken struct {
	info   blobstore.Info
	inline []byte // nil unless the blob goes inline (an empty blob is []byte{})
}

// take reads body: a body of at most store.MaxInlineBlob bytes is kept in
// memory; a larger one streams into the file blob store.
func (l *Ledger) take(ctx context.Context, body io.Reader) (taken, error) {
	head := make([]byte, store.MaxInlineBlob+1)
	n, err := io.ReadFull(body, head)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		b := head[:n:n]
		return taken{info: blobstore.Info{Hash: chain.Sum(b), Size: int64(n)}, inline: b}, nil
	case err != nil:
		return taken{}, err
	}
	info, err := l.files.Ingest(ctx, io.MultiReader(bytes.NewReader(head), body))
	return taken{info: info}, err
}

// put stores an inline blob in tx; file blobs are already stored.
func (t taken) put(tx store.Tx) error {
	if t.inline == nil {
		return nil
	}
	return tx.PutInlineBlob(t.info.Hash, t.inline)
}

// blobView reads blobs from wherever they are kept.
type blobView struct {
	st    store.Store
	files Blobs
}

var _ Blobs = blobView{}

// Ingest stores a blob of unknown size in the file store.
func (v blobView) Ingest(ctx context.Context, r io.Reader) (blobstore.Info, error) {
	return v.files.Ingest(ctx, r)
}

// Open returns a blob's bytes, inline or from the file store.
func (v blobView) Open(ctx context.Context, h chain.Hash) (io.ReadCloser, int64, error) {
	b, err := v.st.InlineBlob(ctx, h)
	switch {
	case err == nil:
		return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
	case !errors.Is(err, store.ErrNotFound):
		return nil, 0, err
	}
	return v.files.Open(ctx, h)
}

// Stat returns a blob's size, inline or from the file store.
func (v blobView) Stat(ctx context.Context, h chain.Hash) (blobstore.Info, error) {
	b, err := v.st.InlineBlob(ctx, h)
	switch {
	case err == nil:
		return blobstore.Info{Hash: h, Size: int64(len(b))}, nil
	case !errors.Is(err, store.ErrNotFound):
		return blobstore.Info{}, fmt.Errorf("blob %s: %w", h, err)
	}
	return v.files.Stat(ctx, h)
}
