package fsstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/exhibit-forensics/exhibit/chain"
)

const (
	// bufSize is the size of each pipeline buffer.
	bufSize = 1 << 20
	// bufCount is how many buffers one write may have in flight; it bounds
	// the memory of a write at bufCount*bufSize whatever the blob's size.
	bufCount = 4
)

// bufPool recycles pipeline buffers across writes.
var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// chunk is one filled buffer on its way to the hasher and the writer.
type chunk struct {
	buf  *[]byte
	n    int
	refs atomic.Int32 // consumers still using buf
}

// pump reads r to EOF, hashing the bytes and, if w is not nil, writing
// them to w. Reading, hashing and writing run concurrently on at most
// bufCount buffers: the calling goroutine reads into a free buffer and hands
// it to a hashing goroutine and a writing goroutine at once; the buffer is
// free again when both are done with it.
//
// pump returns the digest and count of the bytes read. It fails with an
// error wrapping ctx.Err() if ctx ends (checked before each buffer is
// filled), r's error if r fails with anything but io.EOF, or w's error if w
// fails; after an error the digest is meaningless.
func pump(ctx context.Context, r io.Reader, w io.Writer) (chain.Hash, int64, error) {
	return pumpChunks(ctx, r, w, bufSize)
}

// pumpChunks is pump filling only the first size bytes of each buffer
// (size <= bufSize), so tests can cross many buffer boundaries with small
// inputs.
func pumpChunks(ctx context.Context, r io.Reader, w io.Writer, size int) (chain.Hash, int64, error) {
	free := make(chan *[]byte, bufCount)
	hashc := make(chan *chunk, bufCount)
	var writec chan *chunk
	consumers := int32(1)
	if w != nil {
		writec = make(chan *chunk, bufCount)
		consumers = 2
	}
	release := func(c *chunk) {
		if c.refs.Add(-1) == 0 {
			free <- c.buf // never blocks: free holds every buffer
		}
	}

	var wg sync.WaitGroup
	h := chain.NewHasher()
	wg.Go(func() {
		for c := range hashc {
			h.Write((*c.buf)[:c.n])
			release(c)
		}
	})

	var werr error                     // set by the writer before closing writeFailed
	writeFailed := make(chan struct{}) // closed when w fails
	if w != nil {
		wg.Go(func() {
			var off int64
			for c := range writec {
				if werr == nil {
					var m int
					m, werr = w.Write((*c.buf)[:c.n])
					if werr == nil && m != c.n {
						werr = io.ErrShortWrite
					}
					if werr != nil {
						werr = fmt.Errorf("writing at byte %d: %w", off+int64(m), werr)
						close(writeFailed)
					}
					off += int64(m)
				}
				release(c) // after a failure, only drain
			}
		})
	}

	var (
		n         int64
		err       error
		allocated int // buffers taken from bufPool
	)
loop:
	for {
		var buf *[]byte
		select {
		case buf = <-free:
		default:
			if allocated < bufCount {
				buf = bufPool.Get().(*[]byte)
				allocated++
				break
			}
			select {
			case buf = <-free:
			case <-ctx.Done():
				err = fmt.Errorf("after %d bytes: %w", n, ctx.Err())
				break loop
			case <-writeFailed:
				break loop
			}
		}
		// buf now goes either back to free or into a chunk.
		select {
		case <-writeFailed:
			free <- buf
			break loop
		default:
		}
		if cerr := ctx.Err(); cerr != nil {
			free <- buf
			err = fmt.Errorf("after %d bytes: %w", n, cerr)
			break loop
		}
		m, eof, rerr := fill(ctx, r, (*buf)[:size])
		n += int64(m)
		if m > 0 {
			c := &chunk{buf: buf, n: m}
			c.refs.Store(consumers)
			hashc <- c // never blocks: at most bufCount chunks exist
			if writec != nil {
				writec <- c
			}
		} else {
			free <- buf
		}
		if rerr != nil {
			err = fmt.Errorf("reading input at byte %d: %w", n, rerr)
			break
		}
		if eof {
			break
		}
	}
	close(hashc)
	if writec != nil {
		close(writec)
	}
	wg.Wait() // orders the goroutines' writes to h and werr before the reads below
	for range allocated {
		bufPool.Put(<-free)
	}
	switch {
	case werr != nil && err != nil:
		err = errors.Join(err, werr)
	case werr != nil:
		err = werr
	}
	if err != nil {
		return chain.Hash{}, n, err
	}
	return chain.HashOf(h), n, nil
}

// fill reads from r into buf until buf is full, r returns io.EOF (eof), or
// r fails. Unlike io.ReadFull it passes on every error but io.EOF, so an
// input that ends with io.ErrUnexpectedEOF (a truncated HTTP body, a cut
// compressed stream) is a failure, not a short blob. A Read that makes no
// progress checks ctx, so a reader spinning on (0, nil) cannot hold a
// cancelled write forever.
func fill(ctx context.Context, r io.Reader, buf []byte) (n int, eof bool, err error) {
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			return n, true, nil
		}
		if err != nil {
			return n, false, err
		}
		if m == 0 {
			if err := ctx.Err(); err != nil {
				return n, false, err
			}
		}
	}
	return n, false, nil
}
