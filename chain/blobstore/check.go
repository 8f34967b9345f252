package blobstore

import (
	"context"
	"fmt"
	"io"

	"github.com/exhibit-forensics/exhibit/chain"
)

// checkBufSize is the read size used by Check.
const checkBufSize = 256 << 10

// Check re-reads the blob named h from f and reports whether its bytes still
// hash to h. It returns nil if they do; an error matching ErrCorrupt if they
// do not, or if the number of bytes read differs from the size Open
// reported; an error matching ErrNotFound if the blob is absent; and an
// error wrapping ctx.Err() if ctx ends first (checked between reads).
//
// Stores verify bytes when they enter, so a Check failure means the bytes
// were altered behind the store's back (disk fault, tampering): the basis of
// fsck.
func Check(ctx context.Context, f Fetcher, h chain.Hash) error {
	rc, size, err := f.Open(ctx, h)
	if err != nil {
		return fmt.Errorf("blobstore: check %s: %w", h, err)
	}
	defer rc.Close()

	hh := chain.NewHasher()
	buf := make([]byte, checkBufSize)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("blobstore: check %s: %w", h, err)
		}
		m, rerr := rc.Read(buf)
		hh.Write(buf[:m])
		n += int64(m)
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("blobstore: check %s: reading at byte %d: %w", h, n, rerr)
		}
	}
	if got := chain.HashOf(hh); got != h {
		return &CorruptError{Want: h, Got: got, Size: n}
	}
	if n != size {
		return fmt.Errorf("%w: %s: store reports %d bytes, read %d", ErrCorrupt, h, size, n)
	}
	return nil
}
