package fsstore

import (
	"bytes"
	"errors"
	"io"
	"syscall"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
)

// countingReader counts the bytes read from r.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// endless yields bytes forever.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i)
	}
	return len(p), nil
}

// TestDiskFullSeam fills the disk through the seam: writes fail with ENOSPC
// once 2.5 MiB are written. The write fails with an error matching
// syscall.ENOSPC, stops reading soon after (even from an endless input),
// and leaves nothing behind.
func TestDiskFullSeam(t *testing.T) {
	const limit = 5 << 19
	inputs := []struct {
		name string
		r    func() io.Reader
	}{
		{"4MiB", func() io.Reader { return bytes.NewReader(bytes.Repeat([]byte{1}, 4<<20)) }},
		{"endless", func() io.Reader { return endless{} }},
	}
	for _, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			ops := &recOps{base: osOps{}, writeLimit: limit}
			s := newTestStore(t, ops)
			cr := &countingReader{r: in.r()}
			_, err := s.Ingest(t.Context(), cr)
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("Ingest on a full disk = %v, want ENOSPC", err)
			}
			// The reader may run ahead of the failed write by the
			// buffers in flight, no further.
			if ceiling := int64(limit + (bufCount+1)*bufSize); cr.n > ceiling {
				t.Fatalf("read %d bytes after the disk filled at %d; want at most %d", cr.n, limit, ceiling)
			}
			assertNothingLeft(t, s)

			cr = &countingReader{r: in.r()}
			_, err = s.Receive(t.Context(), chain.Sum([]byte("whatever")), cr)
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("Receive on a full disk = %v, want ENOSPC", err)
			}
			assertNothingLeft(t, s)
		})
	}
}
