package bagit

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"io"
	"sync"
	"sync/atomic"

	"github.com/exhibit-forensics/exhibit/chain"
)

// Digests are the size and digests of one file, computed in one pass.
type Digests struct {
	Size   int64
	SHA256 chain.Hash
	SHA512 [sha512.Size]byte
}

// SHA512Hex returns the SHA-512 digest as 128 lowercase hex digits.
func (d Digests) SHA512Hex() string { return hex.EncodeToString(d.SHA512[:]) }

// digestsOf hashes an in-memory file.
func digestsOf(b []byte) Digests {
	return Digests{Size: int64(len(b)), SHA256: chain.Sum(b), SHA512: sha512.Sum512(b)}
}

// hashCopy reads r to EOF once, feeding every byte to SHA-256, SHA-512
// (unless skip512) and sink (if not nil). The consumers run on their own
// goroutines, so on two cores the two hashes proceed in parallel.
func hashCopy(ctx context.Context, r io.Reader, sink io.Writer, skip512 bool) (Digests, error) {
	h256 := sha256.New()
	var h512 hash.Hash
	sinks := []io.Writer{h256}
	if !skip512 {
		h512 = sha512.New()
		sinks = append(sinks, h512)
	}
	if sink != nil {
		sinks = append(sinks, sink)
	}
	n, err := fanout(ctx, r, sinks)
	if err != nil {
		return Digests{}, err
	}
	d := Digests{Size: n, SHA256: chain.HashOf(h256)}
	if h512 != nil {
		h512.Sum(d.SHA512[:0])
	}
	return d, nil
}

const (
	chunkSize      = 512 << 10
	chunksInFlight = 4
)

type chunk struct {
	buf  []byte
	n    int
	refs atomic.Int32
}

var chunkPool = sync.Pool{New: func() any { return &chunk{buf: make([]byte, chunkSize)} }}

// fill reads until buf is full or r returns an error, which it returns
// unchanged (io.EOF included). Unlike io.ReadFull it never drops an error
// that arrives with the bytes that fill the buffer.
func fill(r io.Reader, buf []byte) (int, error) {
	n, idle := 0, 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
		if m == 0 {
			if idle++; idle > 100 {
				return n, io.ErrNoProgress
			}
		}
	}
	return n, nil
}

// fanout copies r to every sink. Input that fits in one chunk is written
// to the sinks in turn on the calling goroutine; longer input is read in
// chunks by the caller and each sink consumes every chunk, in order, on its
// own goroutine. A chunk is reused once all sinks are done with it. The
// first error (read, write or ctx) stops the copy.
func fanout(ctx context.Context, r io.Reader, sinks []io.Writer) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	first := chunkPool.Get().(*chunk)
	n, err := fill(r, first.buf)
	if err != nil {
		defer chunkPool.Put(first)
		if err != io.EOF {
			return 0, err
		}
		for _, s := range sinks {
			if _, err := s.Write(first.buf[:n]); err != nil {
				return 0, err
			}
		}
		return int64(n), nil
	}
	first.n = n

	free := make(chan *chunk, chunksInFlight)
	for range chunksInFlight - 1 {
		free <- chunkPool.Get().(*chunk)
	}
	var (
		wg      sync.WaitGroup
		errOnce sync.Once
		sinkErr error
		stop    = make(chan struct{})
		chans   = make([]chan *chunk, len(sinks))
	)
	fail := func(err error) {
		errOnce.Do(func() { sinkErr = err; close(stop) })
	}
	for i, s := range sinks {
		ch := make(chan *chunk, chunksInFlight)
		chans[i] = ch
		wg.Add(1)
		go func() {
			defer wg.Done()
			failed := false
			for c := range ch {
				if !failed {
					if _, err := s.Write(c.buf[:c.n]); err != nil {
						failed = true
						fail(err)
					}
				}
				if c.refs.Add(-1) == 0 {
					free <- c
				}
			}
		}()
	}
	send := func(c *chunk) {
		c.refs.Store(int32(len(sinks)))
		for _, ch := range chans {
			ch <- c
		}
	}

	total := int64(n)
	send(first)
	var readErr error
loop:
	for {
		var c *chunk
		select {
		case <-stop:
			break loop
		case <-ctx.Done():
			readErr = ctx.Err()
			break loop
		case c = <-free:
		}
		m, err := fill(r, c.buf)
		c.n = m
		if m > 0 {
			total += int64(m)
			send(c)
		} else {
			free <- c
		}
		if err == io.EOF {
			break loop
		}
		if err != nil {
			readErr = err
			break loop
		}
	}
	for _, ch := range chans {
		close(ch)
	}
	wg.Wait()
	for range chunksInFlight {
		chunkPool.Put(<-free)
	}
	if readErr == nil {
		readErr = sinkErr
	}
	if readErr != nil {
		return 0, readErr
	}
	return total, nil
}
