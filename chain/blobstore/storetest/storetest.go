// Package storetest is the conformance suite for blobstore.Store
// implementations, in the style of perkeep's storagetest: every backend's
// tests call Test (or TestWithOptions) with a constructor of empty stores,
// and the suite checks the MUST and MUST NOT clauses of the blobstore
// interfaces that can be observed through the API.
//
// Each subtest gets a fresh store from newStore, which should register its
// own cleanup with t.Cleanup. Durability across crashes cannot be observed
// through the API and is left to each backend's own tests.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
)

// Options adjust the suite to what a backend can offer.
type Options struct {
	// Corrupt, if not nil, alters the stored bytes of blob h behind the
	// store's back (flipping a byte of a file, overwriting an object) so the
	// suite can check that blobstore.Check notices. Without it that check is
	// skipped.
	Corrupt func(t *testing.T, s blobstore.Store, h chain.Hash)
}

// Large is the size of the suite's large inputs: more than nine 1 MiB
// buffers and not a multiple of any power of two, so a streaming backend
// goes round its buffers more than once and ends on a partial one.
const Large = 9<<20 + 7

// Test runs the conformance suite with default Options.
func Test(t *testing.T, newStore func(t *testing.T) blobstore.Store) {
	TestWithOptions(t, newStore, Options{})
}

// TestWithOptions runs the conformance suite.
func TestWithOptions(t *testing.T, newStore func(t *testing.T) blobstore.Store, opts Options) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s blobstore.Store)
	}{
		{"ReceiveRoundTrip", testReceiveRoundTrip},
		{"IngestRoundTrip", testIngestRoundTrip},
		{"ReaderShapes", testReaderShapes},
		{"Isolation", testIsolation},
		{"ReceiveIdempotent", testReceiveIdempotent},
		{"ReceiveExistingWrongBytes", testReceiveExistingWrongBytes},
		{"ReceiveCorrupt", testReceiveCorrupt},
		{"ReaderError", testReaderError},
		{"ContextCancelled", testContextCancelled},
		{"Enumerate", testEnumerate},
		{"EnumerateStop", testEnumerateStop},
		{"Remove", testRemove},
		{"Missing", testMissing},
		{"ConcurrentSame", testConcurrentSame},
		{"ConcurrentDistinct", testConcurrentDistinct},
		{"Check", func(t *testing.T, s blobstore.Store) { testCheck(t, s, opts.Corrupt) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

// data returns n deterministic pseudo-random bytes for seed.
func data(seed uint64, n int) []byte {
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	return b
}

// assertBlob checks that s holds exactly want, through Stat, Open and Check.
func assertBlob(t *testing.T, s blobstore.Store, want []byte) {
	t.Helper()
	ctx := t.Context()
	h := chain.Sum(want)
	info, err := s.Stat(ctx, h)
	if err != nil {
		t.Fatalf("Stat(%s) = %v", h, err)
	}
	if info != (blobstore.Info{Hash: h, Size: int64(len(want))}) {
		t.Fatalf("Stat(%s) = %v, want size %d", h, info, len(want))
	}
	rc, size, err := s.Open(ctx, h)
	if err != nil {
		t.Fatalf("Open(%s) = %v", h, err)
	}
	got, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("reading %s: %v", h, err)
	}
	if size != int64(len(want)) || !bytes.Equal(got, want) {
		t.Fatalf("Open(%s) gave %d bytes (reported %d), want the %d stored", h, len(got), size, len(want))
	}
	if err := blobstore.Check(ctx, s, h); err != nil {
		t.Fatalf("Check(%s) = %v", h, err)
	}
}

// assertAbsent checks that h is invisible through Stat, Open and Enumerate.
func assertAbsent(t *testing.T, s blobstore.Store, h chain.Hash) {
	t.Helper()
	ctx := t.Context()
	if info, err := s.Stat(ctx, h); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("Stat(%s) = %v, %v; want ErrNotFound", h, info, err)
	}
	if rc, _, err := s.Open(ctx, h); !errors.Is(err, blobstore.ErrNotFound) {
		if rc != nil {
			rc.Close()
		}
		t.Fatalf("Open(%s) error = %v; want ErrNotFound", h, err)
	}
	for _, in := range list(t, s, chain.Hash{}) {
		if in.Hash == h {
			t.Fatalf("Enumerate lists %s, which should be absent", h)
		}
	}
}

// assertEmpty checks that s enumerates no blobs.
func assertEmpty(t *testing.T, s blobstore.Store) {
	t.Helper()
	if got := list(t, s, chain.Hash{}); len(got) != 0 {
		t.Fatalf("Enumerate lists %v, want nothing", got)
	}
}

// list returns everything Enumerate visits after after.
func list(t *testing.T, s blobstore.Store, after chain.Hash) []blobstore.Info {
	t.Helper()
	var out []blobstore.Info
	if err := s.Enumerate(t.Context(), after, func(in blobstore.Info) error {
		out = append(out, in)
		return nil
	}); err != nil {
		t.Fatalf("Enumerate(after %s) = %v", after, err)
	}
	return out
}

func receive(t *testing.T, s blobstore.Store, b []byte) blobstore.Info {
	t.Helper()
	h := chain.Sum(b)
	info, err := s.Receive(t.Context(), h, bytes.NewReader(b))
	if err != nil {
		t.Fatalf("Receive(%s, %d bytes) = %v", h, len(b), err)
	}
	if info != (blobstore.Info{Hash: h, Size: int64(len(b))}) {
		t.Fatalf("Receive(%s, %d bytes) = %v", h, len(b), info)
	}
	return info
}

func sortInfos(in []blobstore.Info) {
	slices.SortFunc(in, func(a, b blobstore.Info) int { return bytes.Compare(a.Hash[:], b.Hash[:]) })
}

func testReceiveRoundTrip(t *testing.T, s blobstore.Store) {
	var want []blobstore.Info
	for i, n := range []int{0, 1, 4095, 1<<20 - 1, 1 << 20, 1<<20 + 1, Large} {
		b := data(uint64(i), n)
		want = append(want, receive(t, s, b))
		assertBlob(t, s, b)
	}
	sortInfos(want)
	if got := list(t, s, chain.Hash{}); !slices.Equal(got, want) {
		t.Fatalf("Enumerate = %v, want %v", got, want)
	}
}

func testIngestRoundTrip(t *testing.T, s blobstore.Store) {
	for i, n := range []int{0, 1, 100, 4 << 20, Large} {
		b := data(uint64(100+i), n)
		info, err := s.Ingest(t.Context(), bytes.NewReader(b))
		if err != nil {
			t.Fatalf("Ingest(%d bytes) = %v", n, err)
		}
		if want := (blobstore.Info{Hash: chain.Sum(b), Size: int64(n)}); info != want {
			t.Fatalf("Ingest(%d bytes) = %v, want %v", n, info, want)
		}
		assertBlob(t, s, b)
	}
}

// testReaderShapes feeds inputs through readers that return short reads,
// single bytes, or data together with io.EOF.
func testReaderShapes(t *testing.T, s blobstore.Store) {
	shapes := []struct {
		name string
		n    int
		wrap func(io.Reader) io.Reader
	}{
		{"OneByte", 70000, iotest.OneByteReader},
		{"Half", 3<<20 + 5, iotest.HalfReader},
		{"DataErr", 2<<20 + 9, iotest.DataErrReader},
		{"TimeoutThenData", 1<<20 + 3, func(r io.Reader) io.Reader { return &zeroFirst{r: r} }},
	}
	for i, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			b := data(uint64(200+i), sh.n)
			info, err := s.Ingest(t.Context(), sh.wrap(bytes.NewReader(b)))
			if err != nil || info.Hash != chain.Sum(b) || info.Size != int64(sh.n) {
				t.Fatalf("Ingest = %v, %v; want %s", info, err, chain.Sum(b))
			}
			b2 := data(uint64(300+i), sh.n)
			if _, err := s.Receive(t.Context(), chain.Sum(b2), sh.wrap(bytes.NewReader(b2))); err != nil {
				t.Fatalf("Receive = %v", err)
			}
			assertBlob(t, s, b)
			assertBlob(t, s, b2)
		})
	}
}

// zeroFirst returns (0, nil) from every other Read, which io.Reader allows.
type zeroFirst struct {
	r   io.Reader
	odd bool
}

func (z *zeroFirst) Read(p []byte) (int, error) {
	z.odd = !z.odd
	if z.odd {
		return 0, nil
	}
	return z.r.Read(p)
}

// testIsolation checks that a store does not keep the caller's buffer.
func testIsolation(t *testing.T, s blobstore.Store) {
	b := data(400, 10000)
	orig := bytes.Clone(b)
	receive(t, s, b)
	for i := range b {
		b[i] ^= 0xff
	}
	assertBlob(t, s, orig)
}

func testReceiveIdempotent(t *testing.T, s blobstore.Store) {
	for _, n := range []int{0, 5000, Large} {
		b := data(uint64(500+n), n)
		first := receive(t, s, b)
		second := receive(t, s, b)
		if first != second {
			t.Fatalf("second Receive = %v, first %v", second, first)
		}
		third, err := s.Ingest(t.Context(), bytes.NewReader(b))
		if err != nil || third != first {
			t.Fatalf("Ingest of stored bytes = %v, %v; want %v", third, err, first)
		}
		assertBlob(t, s, b)
	}
	if got := list(t, s, chain.Hash{}); len(got) != 3 {
		t.Fatalf("Enumerate lists %d blobs after storing 3 twice: %v", len(got), got)
	}
}

// testReceiveExistingWrongBytes sends wrong bytes, and a cancelled stream,
// under the name of a stored blob: both fail and the blob is untouched.
func testReceiveExistingWrongBytes(t *testing.T, s blobstore.Store) {
	for _, n := range []int{10, Large} {
		b := data(uint64(600+n), n)
		h := receive(t, s, b).Hash
		wrong := bytes.Clone(b)
		wrong[n-1] ^= 1
		_, err := s.Receive(t.Context(), h, bytes.NewReader(wrong))
		if !errors.Is(err, blobstore.ErrCorrupt) {
			t.Fatalf("Receive of wrong bytes under stored name = %v, want ErrCorrupt", err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		_, err = s.Receive(ctx, h, &cancelAfter{r: bytes.NewReader(b), n: n / 2, cancel: cancel})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled Receive under stored name = %v, want context.Canceled", err)
		}
		assertBlob(t, s, b)
		assertAbsent(t, s, chain.Sum(wrong))
	}
}

func testReceiveCorrupt(t *testing.T, s blobstore.Store) {
	for i, n := range []int{0, 1, 1 << 20, Large} {
		b := data(uint64(700+i), n)
		claimed := chain.Sum(append(bytes.Clone(b), 'x'))
		info, err := s.Receive(t.Context(), claimed, bytes.NewReader(b))
		if !errors.Is(err, blobstore.ErrCorrupt) {
			t.Fatalf("Receive(%d bytes under a wrong name) = %v, %v; want ErrCorrupt", n, info, err)
		}
		if errors.Is(err, blobstore.ErrNotFound) {
			t.Fatalf("corrupt Receive error %v also matches ErrNotFound", err)
		}
		assertAbsent(t, s, claimed)
		assertAbsent(t, s, chain.Sum(b))
	}
	if _, err := s.Receive(t.Context(), chain.Hash{}, bytes.NewReader(nil)); !errors.Is(err, blobstore.ErrCorrupt) {
		t.Fatalf("Receive under the zero Hash = %v, want ErrCorrupt", err)
	}
	assertEmpty(t, s)
}

var errBoom = errors.New("storetest: reader failed")

// testReaderError feeds inputs that fail part way. io.ErrUnexpectedEOF is
// what a truncated HTTP body or compressed stream reports: it is a failure,
// not the end of a shorter blob.
func testReaderError(t *testing.T, s blobstore.Store) {
	for _, readErr := range []error{errBoom, io.ErrUnexpectedEOF} {
		for _, cut := range []int{0, 100, 1 << 20, 5<<20 + 3} {
			b := data(uint64(800+cut), Large)
			failing := func() io.Reader {
				return io.MultiReader(bytes.NewReader(b[:cut]), iotest.ErrReader(readErr))
			}
			if _, err := s.Receive(t.Context(), chain.Sum(b), failing()); !errors.Is(err, readErr) {
				t.Fatalf("Receive from a reader failing at byte %d with %q = %v, want the reader's error", cut, readErr, err)
			}
			if _, err := s.Ingest(t.Context(), failing()); !errors.Is(err, readErr) {
				t.Fatalf("Ingest from a reader failing at byte %d with %q = %v, want the reader's error", cut, readErr, err)
			}
			assertAbsent(t, s, chain.Sum(b))
			assertAbsent(t, s, chain.Sum(b[:cut]))
		}
	}
	assertEmpty(t, s)
}

// cancelAfter reads from r and calls cancel once n bytes have been read,
// then goes on returning data: the store must notice the context itself.
type cancelAfter struct {
	r      io.Reader
	n      int
	read   int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	m, err := c.r.Read(p)
	c.read += m
	if c.read >= c.n {
		c.cancel()
	}
	return m, err
}

func testContextCancelled(t *testing.T, s blobstore.Store) {
	b := data(900, Large)
	h := chain.Sum(b)
	for _, at := range []int{1, 3 << 20, Large} {
		ctx, cancel := context.WithCancel(t.Context())
		_, err := s.Receive(ctx, h, &cancelAfter{r: bytes.NewReader(b), n: at, cancel: cancel})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Receive cancelled at byte %d = %v, want context.Canceled", at, err)
		}
		ctx, cancel = context.WithCancel(t.Context())
		_, err = s.Ingest(ctx, &cancelAfter{r: bytes.NewReader(b), n: at, cancel: cancel})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Ingest cancelled at byte %d = %v, want context.Canceled", at, err)
		}
		assertAbsent(t, s, h)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	small := []byte("small")
	if _, err := s.Receive(ctx, chain.Sum(small), bytes.NewReader(small)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Receive with a cancelled context = %v", err)
	}
	if _, err := s.Ingest(ctx, bytes.NewReader(small)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Ingest with a cancelled context = %v", err)
	}
	assertEmpty(t, s)
}

func testEnumerate(t *testing.T, s blobstore.Store) {
	if got := list(t, s, chain.Hash{}); len(got) != 0 {
		t.Fatalf("Enumerate of an empty store = %v", got)
	}
	var all []blobstore.Info
	for i := range 60 {
		all = append(all, receive(t, s, data(uint64(1000+i), i*37)))
	}
	sortInfos(all)
	after := func(a chain.Hash) []blobstore.Info {
		var out []blobstore.Info
		for _, in := range all {
			if bytes.Compare(in.Hash[:], a[:]) > 0 {
				out = append(out, in)
			}
		}
		return out
	}

	// Starting points: the zero Hash, every member, neighbours of members
	// that share their leading bytes (the same shard, for sharded
	// backends), random hashes and the largest hash.
	starts := []chain.Hash{{}}
	for _, in := range all {
		h := in.Hash
		starts = append(starts, h)
		lower, higher := h, h
		if lower[31] > 0 {
			lower[31]--
			starts = append(starts, lower)
		}
		if higher[31] < 0xff {
			higher[31]++
			starts = append(starts, higher)
		}
		var prefix chain.Hash
		copy(prefix[:2], h[:2])
		starts = append(starts, prefix)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		var h chain.Hash
		for i := range h {
			h[i] = byte(rng.UintN(256))
		}
		starts = append(starts, h)
	}
	var top chain.Hash
	for i := range top {
		top[i] = 0xff
	}
	starts = append(starts, top)

	for _, a := range starts {
		if got, want := list(t, s, a), after(a); !slices.Equal(got, want) {
			t.Fatalf("Enumerate(after %s):\n got %v\nwant %v", a, got, want)
		}
	}
}

var errStop = errors.New("storetest: stop")

func testEnumerateStop(t *testing.T, s blobstore.Store) {
	for i := range 10 {
		receive(t, s, data(uint64(1100+i), 10))
	}
	calls := 0
	err := s.Enumerate(t.Context(), chain.Hash{}, func(blobstore.Info) error {
		calls++
		if calls == 3 {
			return errStop
		}
		return nil
	})
	if err != errStop || calls != 3 {
		t.Fatalf("Enumerate with fn failing on call 3 = %v after %d calls; want errStop unwrapped after 3", err, calls)
	}
	ctx, cancel := context.WithCancel(t.Context())
	calls = 0
	err = s.Enumerate(ctx, chain.Hash{}, func(blobstore.Info) error {
		calls++
		cancel()
		return nil
	})
	cancel()
	if !errors.Is(err, context.Canceled) || calls == 10 {
		t.Fatalf("Enumerate cancelled in fn = %v after %d of 10 calls; want context.Canceled before the end", err, calls)
	}
}

func testRemove(t *testing.T, s blobstore.Store) {
	var blobs [][]byte
	for i, n := range []int{10, 0, 3 << 20} {
		b := data(uint64(1200+i), n)
		receive(t, s, b)
		blobs = append(blobs, b)
	}
	for i, b := range blobs {
		h := chain.Sum(b)
		if err := s.Remove(t.Context(), h); err != nil {
			t.Fatalf("Remove(%s) = %v", h, err)
		}
		assertAbsent(t, s, h)
		for _, other := range blobs[i+1:] {
			assertBlob(t, s, other)
		}
		if err := s.Remove(t.Context(), h); err != nil {
			t.Fatalf("second Remove(%s) = %v, want nil", h, err)
		}
	}
	assertEmpty(t, s)
	if err := s.Remove(t.Context(), chain.Sum([]byte("never stored"))); err != nil {
		t.Fatalf("Remove of a blob never stored = %v, want nil", err)
	}
	receive(t, s, blobs[0])
	assertBlob(t, s, blobs[0])
}

func testMissing(t *testing.T, s blobstore.Store) {
	receive(t, s, []byte("present"))
	h := chain.Sum([]byte("absent"))
	assertAbsent(t, s, h)
	if err := blobstore.Check(t.Context(), s, h); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("Check of a missing blob = %v, want ErrNotFound", err)
	}
}

// testConcurrentSame stores the same bytes from many goroutines at once,
// through Receive and Ingest, while others send wrong bytes under the same
// name: the good writes all succeed, the bad ones all fail, and exactly
// one intact blob results.
func testConcurrentSame(t *testing.T, s blobstore.Store) {
	b := data(1300, 3<<20+1)
	h := chain.Sum(b)
	wrong := bytes.Clone(b)
	wrong[len(wrong)/2] ^= 0x80
	want := blobstore.Info{Hash: h, Size: int64(len(b))}

	const n = 12
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			var info blobstore.Info
			var err error
			switch i % 3 {
			case 0:
				info, err = s.Receive(t.Context(), h, bytes.NewReader(b))
			case 1:
				info, err = s.Ingest(t.Context(), bytes.NewReader(b))
			case 2:
				_, err = s.Receive(t.Context(), h, bytes.NewReader(wrong))
				if errors.Is(err, blobstore.ErrCorrupt) {
					errs[i] = nil
				} else {
					errs[i] = fmt.Errorf("wrong bytes: got %v, want ErrCorrupt", err)
				}
				return
			}
			if err == nil && info != want {
				err = fmt.Errorf("got %v, want %v", info, want)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if got := list(t, s, chain.Hash{}); !slices.Equal(got, []blobstore.Info{want}) {
		t.Fatalf("Enumerate = %v, want just %v", got, want)
	}
	assertBlob(t, s, b)
}

func testConcurrentDistinct(t *testing.T, s blobstore.Store) {
	const n = 10
	blobs := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		blobs[i] = data(uint64(1400+i), 1<<20+i*1000)
		wg.Go(func() {
			_, errs[i] = s.Receive(t.Context(), chain.Sum(blobs[i]), bytes.NewReader(blobs[i]))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	for _, b := range blobs {
		assertBlob(t, s, b)
	}
	if got := list(t, s, chain.Hash{}); len(got) != n {
		t.Fatalf("Enumerate lists %d blobs, want %d", len(got), n)
	}
}

func testCheck(t *testing.T, s blobstore.Store, corrupt func(*testing.T, blobstore.Store, chain.Hash)) {
	good := data(1500, 2<<20+11)
	victim := data(1501, 1000)
	receive(t, s, good)
	h := receive(t, s, victim).Hash
	if err := blobstore.Check(t.Context(), s, h); err != nil {
		t.Fatalf("Check of an intact blob = %v", err)
	}
	if corrupt == nil {
		t.Skip("backend gave no Options.Corrupt hook: cannot alter a blob behind its back")
	}
	corrupt(t, s, h)
	if err := blobstore.Check(t.Context(), s, h); !errors.Is(err, blobstore.ErrCorrupt) {
		t.Fatalf("Check of a blob altered behind the store's back = %v, want ErrCorrupt", err)
	}
	assertBlob(t, s, good) // others are unaffected
}
