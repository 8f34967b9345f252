package fsstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
)

// patternedReader returns data in reads whose sizes cycle through sizes; a
// size of 0 is a (0, nil) read. The final read may return data with io.EOF.
type patternedReader struct {
	data    []byte
	sizes   []byte
	i       int
	dataEOF bool
}

func (p *patternedReader) Read(b []byte) (int, error) {
	if len(p.data) == 0 {
		return 0, io.EOF
	}
	n := len(p.data)
	if len(p.sizes) > 0 {
		n = min(n, int(p.sizes[p.i%len(p.sizes)]))
		p.i++
	}
	n = copy(b, p.data[:n])
	p.data = p.data[n:]
	if len(p.data) == 0 && p.dataEOF {
		return n, io.EOF
	}
	return n, nil
}

// failingWriter accepts limit bytes, then fails.
type failingWriter struct {
	buf   bytes.Buffer
	limit int // <0: never fail
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.limit >= 0 && w.buf.Len()+len(p) > w.limit {
		n, _ := w.buf.Write(p[:w.limit-w.buf.Len()])
		return n, errInjected
	}
	return w.buf.Write(p)
}

// pumpCases double as the fuzz seeds of FuzzPump.
var pumpCases = []struct {
	data    []byte
	chunk   uint8  // buffer size is 1 + chunk%64
	sizes   []byte // read sizes, cycled
	dataEOF bool
	failAt  int16 // writer fails after this many bytes; <0 never
}{
	{nil, 0, nil, false, -1},
	{[]byte("a"), 0, nil, true, -1},
	{[]byte("hello, world"), 3, []byte{1, 0, 2}, false, -1},
	{bytes.Repeat([]byte("0123456789"), 30), 7, []byte{13, 0, 0, 5}, true, -1},
	{bytes.Repeat([]byte("x"), 256), 63, nil, false, -1}, // exact multiple of the buffer
	{bytes.Repeat([]byte("y"), 300), 9, []byte{255}, false, 0},
	{bytes.Repeat([]byte("z"), 300), 9, []byte{4}, true, 77},
	{bytes.Repeat([]byte("w"), 300), 1, nil, false, 299},
}

func FuzzPump(f *testing.F) {
	for _, c := range pumpCases {
		f.Add(c.data, c.chunk, c.sizes, c.dataEOF, c.failAt)
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8, sizes []byte, dataEOF bool, failAt int16) {
		if len(sizes) > 0 && bytes.Count(sizes, []byte{0}) == len(sizes) {
			sizes = append(sizes, 1) // all-zero sizes would never progress
		}
		r := &patternedReader{data: data, sizes: sizes, dataEOF: dataEOF}
		w := &failingWriter{limit: int(failAt)}
		sum, n, err := pumpChunks(context.Background(), r, w, 1+int(chunk%64))
		if failAt >= 0 && int(failAt) < len(data) {
			if !errors.Is(err, errInjected) {
				t.Fatalf("writer failing at %d of %d bytes: err = %v", failAt, len(data), err)
			}
			if !bytes.Equal(w.buf.Bytes(), data[:failAt]) {
				t.Fatalf("wrote %d bytes before failing, want the first %d of the input", w.buf.Len(), failAt)
			}
			return
		}
		if err != nil {
			t.Fatalf("pump = %v", err)
		}
		if sum != chain.Sum(data) || n != int64(len(data)) {
			t.Fatalf("pump = %s, %d; want %s, %d", sum, n, chain.Sum(data), len(data))
		}
		if !bytes.Equal(w.buf.Bytes(), data) {
			t.Fatal("written bytes differ from the input")
		}
	})
}

// TestPumpCancelledSpinningReader checks that a reader returning (0, nil)
// forever cannot hold a cancelled pump.
func TestPumpCancelledSpinningReader(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &spinner{after: 1000, cancel: cancel}
	_, _, err := pump(ctx, r, io.Discard)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("pump from a spinning reader = %v, want context.Canceled", err)
	}
}

// spinner returns (0, nil) forever, cancelling its context after some
// calls.
type spinner struct {
	calls, after int
	cancel       context.CancelFunc
}

func (s *spinner) Read([]byte) (int, error) {
	s.calls++
	if s.calls == s.after {
		s.cancel()
	}
	return 0, nil
}
