package s3store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
)

// cutProxy forwards TCP connections to an upstream address and cuts them
// all once budget bytes have gone upstream (summed over connections). If
// once is set it then lets new connections through again (a transient
// fault); otherwise every later connection is closed at once (the link is
// down).
type cutProxy struct {
	l        net.Listener
	upstream string
	budget   atomic.Int64
	once     bool
	tripped  atomic.Bool
	cuts     atomic.Int32

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func startProxy(t *testing.T, upstream string, budget int64, once bool) *cutProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{l: l, upstream: upstream, once: once, conns: map[net.Conn]struct{}{}}
	p.budget.Store(budget)
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		l.Close()
		p.closeAll()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) endpoint() string { return "http://" + p.l.Addr().String() }

func (p *cutProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		if p.tripped.Load() && !p.once {
			c.Close()
			continue
		}
		u, err := net.Dial("tcp", p.upstream)
		if err != nil {
			c.Close()
			continue
		}
		p.track(c, u)
		p.wg.Add(2)
		go func() { // upstream → client, unmetered
			defer p.wg.Done()
			io.Copy(c, u)
			c.Close()
		}()
		go func() { // client → upstream, metered
			defer p.wg.Done()
			p.meter(c, u)
			u.Close()
		}()
	}
}

func (p *cutProxy) track(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
}

func (p *cutProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// meter copies client bytes upstream until the budget runs out, then
// forwards only what is left of the budget and cuts every connection.
func (p *cutProxy) meter(c, u net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if p.tripped.Load() && !p.once {
				p.closeAll()
				return
			}
			left := p.budget.Add(-int64(n))
			if left < 0 && !p.tripped.Load() {
				keep := int64(n) + left // what fitted in the budget
				if keep > 0 {
					u.Write(buf[:keep])
				}
				p.tripped.Store(true)
				p.cuts.Add(1)
				p.closeAll()
				return
			}
			if _, werr := u.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// pendingUploads lists the bucket's multipart uploads not yet completed
// or aborted.
func pendingUploads(t *testing.T, srv *server, bucket string) int {
	t.Helper()
	out, err := srv.client.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Uploads)
}

// objects lists every key in the bucket.
func objects(t *testing.T, srv *server, bucket string) []string {
	t.Helper()
	out, err := srv.client.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

func assertAbsent(t *testing.T, s *Store, h chain.Hash) {
	t.Helper()
	if _, err := s.Stat(t.Context(), h); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("Stat after a failed write = %v, want ErrNotFound", err)
	}
	if rc, _, err := s.Open(t.Context(), h); !errors.Is(err, blobstore.ErrNotFound) {
		if rc != nil {
			rc.Close()
		}
		t.Fatalf("Open after a failed write = %v, want ErrNotFound", err)
	}
	if err := s.Enumerate(t.Context(), chain.Hash{}, func(in blobstore.Info) error {
		return errors.New("Enumerate lists " + in.String() + " after a failed write")
	}); err != nil {
		t.Fatal(err)
	}
}

func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 's', '3'}).Read(b)
	return b
}

// TestConnectionCut cuts the connection to the server part way through an
// upload and leaves the link down: the write fails, nothing is visible
// under the blob's name (nor any other), and Sweep clears the upload the
// writer could not abort.
func TestConnectionCut(t *testing.T) {
	srv := startServer(t)
	host := srv.endpoint[len("http://"):]
	cases := []struct {
		name   string
		size   int
		budget int64
		ingest bool
	}{
		{"ReceiveSmall", 1 << 20, 300 << 10, false},          // one PutObject, cut in its body
		{"ReceiveMultipartPart1", 20 << 20, 3 << 20, false},  // cut in the first part
		{"ReceiveMultipartPart2", 20 << 20, 12 << 20, false}, // cut in the second part
		{"ReceiveMultipartLast", 20 << 20, 19 << 20, false},  // cut in the last part
		{"IngestMultipart", 20 << 20, 12 << 20, true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bucket := srv.newBucket(t)
			direct := srv.open(t, bucket, "")
			proxy := startProxy(t, host, tc.budget, false)
			cfg := mustParse(t, srv.url(bucket, proxy.endpoint()))
			// Open's HeadBucket goes through the proxy too; it is small.
			cut, err := New(t.Context(), cfg, Options{Getenv: srv.getenv, RetryMaxAttempts: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer cut.Close()

			b := randomBytes(uint64(i), tc.size)
			h := chain.Sum(b)
			if tc.ingest {
				_, err = cut.Ingest(t.Context(), bytes.NewReader(b))
			} else {
				_, err = cut.Receive(t.Context(), h, bytes.NewReader(b))
			}
			if err == nil {
				t.Fatal("write through a cut connection succeeded")
			}
			if errors.Is(err, blobstore.ErrCorrupt) {
				t.Fatalf("write through a cut connection = %v; a network failure is not corruption", err)
			}
			if proxy.cuts.Load() != 1 {
				t.Fatalf("proxy cut %d times, want 1", proxy.cuts.Load())
			}
			t.Logf("write failed as expected: %v", err)
			assertAbsent(t, direct, h)
			if keys := objects(t, srv, bucket); len(keys) != 0 {
				t.Fatalf("bucket holds %v after a cut write", keys)
			}
			// The cut writer could not abort its upload: Sweep does.
			pending := pendingUploads(t, srv, bucket)
			if wantPending := min(1, tc.size/DefaultPartSize); pending != wantPending {
				t.Fatalf("%d uploads pending after the cut, want %d", pending, wantPending)
			}
			n, err := direct.Sweep(t.Context(), time.Now().Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if n != pending {
				t.Fatalf("Sweep removed %d, want the %d pending uploads", n, pending)
			}
			if p := pendingUploads(t, srv, bucket); p != 0 {
				t.Fatalf("%d uploads pending after Sweep", p)
			}
			// The same write over a sound connection then succeeds.
			if _, err := direct.Receive(t.Context(), h, bytes.NewReader(b)); err != nil {
				t.Fatal(err)
			}
			if err := blobstore.Check(t.Context(), direct, h); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestConnectionCutOnce cuts one connection mid-part and lets the next
// through: the client's retry re-sends that part and the blob is stored
// intact.
func TestConnectionCutOnce(t *testing.T) {
	srv := startServer(t)
	bucket := srv.newBucket(t)
	proxy := startProxy(t, srv.endpoint[len("http://"):], 12<<20, true)
	s, err := New(t.Context(), mustParse(t, srv.url(bucket, proxy.endpoint())), Options{Getenv: srv.getenv})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := randomBytes(99, 20<<20)
	h := chain.Sum(b)
	if _, err := s.Receive(t.Context(), h, bytes.NewReader(b)); err != nil {
		t.Fatalf("Receive across one cut = %v", err)
	}
	if proxy.cuts.Load() != 1 {
		t.Fatalf("proxy cut %d times, want 1", proxy.cuts.Load())
	}
	if err := blobstore.Check(t.Context(), srv.open(t, bucket, ""), h); err != nil {
		t.Fatal(err)
	}
}

// TestCancelLeavesNothing cancels writes at several points and checks that
// no object and no pending upload remain: the store aborts its own
// uploads when it can reach the server.
func TestCancelLeavesNothing(t *testing.T) {
	srv := startServer(t)
	bucket := srv.newBucket(t)
	s := srv.open(t, bucket, "")
	b := randomBytes(7, 30<<20)
	for _, at := range []int{1, 9 << 20, 17 << 20, 30 << 20} {
		for _, ingest := range []bool{false, true} {
			ctx, cancel := context.WithCancel(t.Context())
			r := &cancelAt{r: bytes.NewReader(b), at: at, cancel: cancel}
			var err error
			if ingest {
				_, err = s.Ingest(ctx, r)
			} else {
				_, err = s.Receive(ctx, chain.Sum(b), r)
			}
			cancel()
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("write cancelled at %d = %v", at, err)
			}
		}
	}
	if keys := objects(t, srv, bucket); len(keys) != 0 {
		t.Fatalf("bucket holds %v after cancelled writes", keys)
	}
	if p := pendingUploads(t, srv, bucket); p != 0 {
		t.Fatalf("%d uploads left pending by cancelled writes", p)
	}
}

type cancelAt struct {
	r      io.Reader
	at, n  int
	cancel func()
}

func (c *cancelAt) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	if c.n >= c.at {
		c.cancel()
	}
	return n, err
}

// TestIngestMultipartCopy makes Ingest copy its temporary object part by
// part (UploadPartCopy), the path taken above 5 GiB, by lowering the copy
// limit: the blob arrives whole and the temporary object is gone.
func TestIngestMultipartCopy(t *testing.T) {
	srv := startServer(t)
	bucket := srv.newBucket(t)
	s := srv.open(t, bucket, "")
	s.copyLimit = 5 << 20
	b := randomBytes(11, 17<<20+3)
	info, err := s.Ingest(t.Context(), bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if info.Hash != chain.Sum(b) || info.Size != int64(len(b)) {
		t.Fatalf("Ingest = %v", info)
	}
	if err := blobstore.Check(t.Context(), s, info.Hash); err != nil {
		t.Fatal(err)
	}
	if keys := objects(t, srv, bucket); len(keys) != 1 || keys[0] != s.Key(info.Hash) {
		t.Fatalf("bucket holds %v, want just %s", keys, s.Key(info.Hash))
	}
	if p := pendingUploads(t, srv, bucket); p != 0 {
		t.Fatalf("%d uploads pending", p)
	}
}

// TestLargeStreams receives and reads back a 256 MiB blob from a reader
// that generates it, and checks the memory the process allocated meanwhile
// stays far below the blob's size: the blob is streamed in parts, never
// held whole.
func TestLargeStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("256 MiB upload skipped in -short")
	}
	srv := startServer(t)
	s := srv.newStore(t)
	const size = 256 << 20
	gen := func() io.Reader {
		return io.LimitReader(rand.NewChaCha8([32]byte{'b', 'i', 'g'}), size)
	}
	hh := chain.NewHasher()
	io.Copy(hh, gen())
	h := chain.HashOf(hh)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := s.Receive(t.Context(), h, gen()); err != nil {
		t.Fatal(err)
	}
	if err := blobstore.Check(t.Context(), s, h); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d MiB to write and check a %d MiB blob", alloc>>20, size>>20)
	if alloc > size/4 {
		t.Fatalf("allocated %d MiB for a %d MiB blob: it is being buffered", alloc>>20, size>>20)
	}
}
