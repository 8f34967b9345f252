package upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	"github.com/exhibit-forensics/exhibit/chain/blobstore/fsstore"
	"github.com/exhibit-forensics/exhibit/internal/faultproxy"
)

const chunk = 64 << 10

func TestPut(t *testing.T) {
	e := newEnv(t, envOpt{})
	c := e.client("dev-a", chunk)
	for i, n := range []int{0, 1, chunk - 1, chunk, chunk + 1, 3*chunk + 17} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			data := blob(n, byte(i))
			before := c.Sent()
			var last int64 = -1
			if err := c.Put(context.Background(), hashOf(data), int64(n), opener(data), func(s int64) { last = s }); err != nil {
				t.Fatal(err)
			}
			e.mustHold(data)
			if sent := c.Sent() - before; sent != int64(n) {
				t.Fatalf("sent %d bytes for a %d-byte blob over a faultless link", sent, n)
			}
			if last != int64(n) {
				t.Fatalf("last progress %d, want %d", last, n)
			}
			if p := e.partials(); len(p) != 0 {
				t.Fatalf("partial uploads left on the hub: %v", p)
			}
			// Held: sent again, not a byte goes.
			before = c.Sent()
			if err := c.Put(context.Background(), hashOf(data), int64(n), opener(data), nil); err != nil {
				t.Fatal(err)
			}
			if c.Sent() != before {
				t.Fatalf("a held blob was sent again (%d bytes)", c.Sent()-before)
			}
		})
	}
}

// TestFaults breaks the connection at several points of an upload: the
// blob still arrives whole, and at most one chunk is sent twice.
func TestFaults(t *testing.T) {
	const size = 5*chunk + 1000
	for _, tc := range []struct {
		kind faultproxy.Kind
		at   int64 // client→server bytes (TLS records included) after the first chunk starts
	}{
		{faultproxy.Cut, 0},
		{faultproxy.Cut, 1000},
		{faultproxy.Cut, chunk / 2},
		{faultproxy.Cut, 2*chunk + 333},
		{faultproxy.Cut, size - 10},
		{faultproxy.Reset, 500},
		{faultproxy.Reset, 3*chunk + 1},
		{faultproxy.Stall, chunk + 77},
		{faultproxy.Stall, 4*chunk + 5},
	} {
		t.Run(fmt.Sprintf("%s@%d", tc.kind, tc.at), func(t *testing.T) {
			var o envOpt
			if tc.kind == faultproxy.Stall {
				// The hub ends the stalled request before the client
				// gives up on it, so the resumption finds the upload free.
				o.idle = 300 * time.Millisecond
			}
			e := newEnv(t, o)
			c := e.client("dev-a", chunk)
			if tc.kind == faultproxy.Stall {
				c.StallTimeout, c.ResponseTimeout = time.Second, time.Second
			}
			data := blob(size, 9)
			var fault *faultproxy.Fault
			var once sync.Once
			progress := func(int64) {
				// Armed once the first chunk is on its way.
				once.Do(func() { fault = e.proxy.Arm(tc.kind, tc.at) })
			}
			if err := c.Put(context.Background(), hashOf(data), size, opener(data), progress); err != nil {
				t.Fatal(err)
			}
			select {
			case <-fault.Fired():
			default:
				t.Fatalf("the %s never fired: the test tested nothing", tc.kind)
			}
			e.mustHold(data)
			if resent := c.Sent() - size; resent > chunk {
				t.Fatalf("re-sent %d bytes after one fault, more than a chunk (%d)", resent, chunk)
			}
			if p := e.partials(); len(p) != 0 {
				t.Fatalf("partial uploads left on the hub: %v", p)
			}
		})
	}
}

// TestRepeatedFaults cuts the connection after every chunk and a half.
func TestRepeatedFaults(t *testing.T) {
	const size = 6*chunk + 5
	e := newEnv(t, envOpt{})
	c := e.client("dev-a", chunk)
	c.Retries = 2
	data := blob(size, 3)
	var mu sync.Mutex
	var faults []*faultproxy.Fault
	progress := func(int64) {
		mu.Lock()
		defer mu.Unlock()
		if len(faults) == 0 {
			faults = append(faults, e.proxy.Arm(faultproxy.Cut, chunk+chunk/2))
			return
		}
		select {
		case <-faults[len(faults)-1].Fired():
			if len(faults) < 3 {
				faults = append(faults, e.proxy.Arm(faultproxy.Cut, chunk+chunk/2))
			}
		default:
		}
	}
	if err := c.Put(context.Background(), hashOf(data), size, opener(data), progress); err != nil {
		t.Fatal(err)
	}
	fired := 0
	for _, f := range faults {
		select {
		case <-f.Fired():
			fired++
		default:
		}
	}
	if fired < 2 {
		t.Fatalf("only %d faults fired", fired)
	}
	e.mustHold(data)
	if resent := c.Sent() - size; resent > int64(fired)*chunk {
		t.Fatalf("re-sent %d bytes after %d faults, more than a chunk each", resent, fired)
	}
}

// TestRestartResume stops an agent mid-upload (its process gone: a new
// Client, the same resume directory) and continues where the hub is.
func TestRestartResume(t *testing.T) {
	const size = 8 * chunk
	e := newEnv(t, envOpt{})
	resume := DirResume(filepath.Join(t.TempDir(), "resume"))
	data := blob(size, 4)
	h := hashOf(data)

	c1 := e.client("dev-a", chunk)
	c1.Resume = resume
	ctx, cancel := context.WithCancel(context.Background())
	err := c1.Put(ctx, h, size, opener(data), func(s int64) {
		if s >= 3*chunk {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped Put returned %v, want context.Canceled", err)
	}
	u, ok, err := resume.Load(h)
	if err != nil || !ok || !strings.HasPrefix(u, DefaultBasePath) {
		t.Fatalf("resume entry after the stop: %q %v %v", u, ok, err)
	}
	off, _, err := c1.offset(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	if off < 2*chunk {
		t.Fatalf("hub has %d bytes, want at least 2 chunks", off)
	}

	c2 := e.client("dev-a", chunk)
	c2.Resume = DirResume(string(resume))
	if err := c2.Put(context.Background(), h, size, opener(data), nil); err != nil {
		t.Fatal(err)
	}
	e.mustHold(data)
	// The stopped client's last PATCH may still land after the offset
	// was read, so the hub may lack less than size-off, never more.
	if c2.Sent() > size-off {
		t.Fatalf("resumed client sent %d bytes, want at most the %d the hub lacked", c2.Sent(), size-off)
	}
	if _, ok, _ := resume.Load(h); ok {
		t.Fatal("resume entry kept after the hub confirmed the blob")
	}
}

// TestResumeGone: a saved upload the hub no longer has starts over.
func TestResumeGone(t *testing.T) {
	e := newEnv(t, envOpt{})
	resume := DirResume(t.TempDir())
	data := blob(2*chunk, 5)
	h := hashOf(data)
	if err := resume.Save(h, DefaultBasePath+"0123456789abcdef"); err != nil {
		t.Fatal(err)
	}
	c := e.client("dev-a", chunk)
	c.Resume = resume
	if err := c.Put(context.Background(), h, int64(len(data)), opener(data), nil); err != nil {
		t.Fatal(err)
	}
	e.mustHold(data)
}

func TestWrongHash(t *testing.T) {
	e := newEnv(t, envOpt{})
	for _, n := range []int{0, 10, 3 * chunk} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			data := blob(n, 6)
			wrong := hashOf(append([]byte("not "), data...))
			resume := DirResume(t.TempDir())
			c := e.client("dev-a", chunk)
			c.Resume = resume
			err := c.Put(context.Background(), wrong, int64(n), opener(data), nil)
			if !errors.Is(err, ErrRejected) {
				t.Fatalf("Put of bytes under the wrong hash: %v, want ErrRejected", err)
			}
			if !strings.Contains(err.Error(), "460") || !strings.Contains(err.Error(), "do not hash to") {
				t.Fatalf("error does not say why: %v", err)
			}
			for _, h := range []chain.Hash{wrong, hashOf(data)} {
				if _, err := e.blobs.Stat(context.Background(), h); !errors.Is(err, blobstore.ErrNotFound) {
					t.Fatalf("hub holds %s after a mismatch (%v)", h, err)
				}
			}
			if p := e.partials(); len(p) != 0 {
				t.Fatalf("partial uploads left on the hub: %v", p)
			}
			if _, ok, _ := resume.Load(wrong); ok {
				t.Fatal("resume entry kept after a refusal")
			}
		})
	}
}

func TestTooLarge(t *testing.T) {
	e := newEnv(t, envOpt{maxSize: 1000})
	data := blob(1001, 7)
	err := e.client("dev-a", chunk).Put(context.Background(), hashOf(data), 1001, opener(data), nil)
	var se *StatusError
	if !errors.Is(err, ErrRejected) || !errors.As(err, &se) || se.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("Put over MaxSize: %v, want ErrRejected with 413", err)
	}
}

// TestOwner: a device cannot see, write to or delete another's upload.
func TestOwner(t *testing.T) {
	e := newEnv(t, envOpt{})
	data := blob(3*chunk, 8)
	h := hashOf(data)
	resume := DirResume(t.TempDir())
	a := e.client("dev-a", chunk)
	a.Resume = resume
	ctx, cancel := context.WithCancel(context.Background())
	a.Put(ctx, h, int64(len(data)), opener(data), func(s int64) {
		if s >= chunk {
			cancel()
		}
	})
	u, ok, _ := resume.Load(h)
	if !ok {
		t.Fatal("no upload to steal")
	}
	off, _, err := a.offset(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	b := e.httpClient("dev-b")
	for _, m := range []string{http.MethodHead, http.MethodPatch, http.MethodDelete} {
		var body io.Reader
		if m == http.MethodPatch {
			body = strings.NewReader("stolen")
		}
		req, _ := http.NewRequest(m, e.base(false).String()+u, body)
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Upload-Offset", fmt.Sprint(off))
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		resp, err := b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("%s of another device's upload: %d, want 404", m, resp.StatusCode)
		}
	}
	if off2, _, err := a.offset(context.Background(), u); err != nil || off2 != off {
		t.Fatalf("upload changed by another device: offset %d (%v), was %d", off2, err, off)
	}
	if err := a.Put(context.Background(), h, int64(len(data)), opener(data), nil); err != nil {
		t.Fatal(err)
	}
	e.mustHold(data)
}

// fakeLimiter records what the client asks of it.
type fakeLimiter struct {
	mu    sync.Mutex
	total int64
	max   int
}

func (f *fakeLimiter) WaitN(ctx context.Context, n int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.total += int64(n)
	f.max = max(f.max, n)
	return ctx.Err()
}

func TestBandwidthCap(t *testing.T) {
	e := newEnv(t, envOpt{})
	c := e.client("dev-a", chunk)
	lim := &fakeLimiter{}
	c.Limiter = lim
	data := blob(4*chunk+3, 10)
	if err := c.Put(context.Background(), hashOf(data), int64(len(data)), opener(data), nil); err != nil {
		t.Fatal(err)
	}
	e.mustHold(data)
	if lim.total != c.Sent() || lim.total != int64(len(data)) {
		t.Fatalf("limiter paced %d bytes, client sent %d, blob is %d", lim.total, c.Sent(), len(data))
	}
	if lim.max > limitPiece || lim.max > NewLimiter(1000).Burst() {
		t.Fatalf("limiter asked for %d bytes at once, more than its burst", lim.max)
	}
}

// TestFinishRetried: the store fails when the upload completes; the bytes
// stay on the hub and the client completes the upload again.
func TestFinishRetried(t *testing.T) {
	e := newEnv(t, envOpt{})
	var mu sync.Mutex
	fails := 1
	e.blobs.fail = func() error {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			return fmt.Errorf("disk: %w", syscall.ENOSPC)
		}
		return nil
	}
	for _, n := range []int{0, 2*chunk + 1} {
		mu.Lock()
		fails = 1
		mu.Unlock()
		data := blob(n, 11)
		before := len(e.partials())
		c := e.client("dev-a", chunk)
		if err := c.Put(context.Background(), hashOf(data), int64(n), opener(data), nil); err != nil {
			t.Fatal(err)
		}
		e.mustHold(data)
		if c.Sent() != int64(n) {
			t.Fatalf("sent %d bytes, want %d: completing again must not re-send", c.Sent(), n)
		}
		// An empty blob is completed by its creation: the retry is a new
		// upload, and the failed one is left for Sweep.
		if p := e.partials(); n > 0 && len(p) != before {
			t.Fatalf("partial uploads left on the hub: %v", p)
		}
	}
}

// TestGivesUp: a hub that cannot be reached makes Put fail, transiently.
func TestGivesUp(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.proxy.Refuse(true)
	c := e.client("dev-a", chunk)
	c.Retries = 3
	data := blob(10, 12)
	err := c.Put(context.Background(), hashOf(data), 10, opener(data), nil)
	if err == nil || errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "giving up after 4 attempts") {
		t.Fatalf("Put to an unreachable hub: %v", err)
	}
	if got := e.proxy.Accepted(); got != 4 {
		t.Fatalf("%d connections tried, want 4 (1 + 3 retries)", got)
	}
}

func TestSweep(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	e := newEnv(t, envOpt{now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	resume := DirResume(t.TempDir())
	data := blob(3*chunk, 13)
	h := hashOf(data)
	c := e.client("dev-a", chunk)
	c.Resume = resume
	ctx, cancel := context.WithCancel(context.Background())
	c.Put(ctx, h, int64(len(data)), opener(data), func(s int64) {
		if s >= chunk {
			cancel()
		}
	})
	if len(e.partials()) != 2 {
		t.Fatalf("partial upload files: %v, want data and info", e.partials())
	}
	n, err := e.srv.Sweep(context.Background(), time.Hour)
	if err != nil || n != 0 {
		t.Fatalf("Sweep of a fresh upload removed %d (%v)", n, err)
	}
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	n, err = e.srv.Sweep(context.Background(), time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("Sweep of a stale upload removed %d (%v), want 1", n, err)
	}
	if p := e.partials(); len(p) != 0 {
		t.Fatalf("left after Sweep: %v", p)
	}
	// The agent starts over.
	if err := c.Put(context.Background(), h, int64(len(data)), opener(data), nil); err != nil {
		t.Fatal(err)
	}
	e.mustHold(data)
}

// TestFSStore runs an upload with faults into the filesystem blob store.
func TestFSStore(t *testing.T) {
	st, err := fsstore.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e := newEnv(t, envOpt{blobs: st})
	c := e.client("dev-a", chunk)
	data := blob(4*chunk+9, 14)
	var once sync.Once
	var f *faultproxy.Fault
	if err := c.Put(context.Background(), hashOf(data), int64(len(data)), opener(data), func(int64) {
		once.Do(func() { f = e.proxy.Arm(faultproxy.Reset, chunk+5) })
	}); err != nil {
		t.Fatal(err)
	}
	<-f.Fired()
	e.mustHold(data)
}

func TestDirResume(t *testing.T) {
	d := DirResume(filepath.Join(t.TempDir(), "r"))
	h := hashOf([]byte("x"))
	if _, ok, err := d.Load(h); ok || err != nil {
		t.Fatalf("Load of nothing: %v %v", ok, err)
	}
	if err := d.Delete(h); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"/v1/uploads/a", "/v1/uploads/b"} {
		if err := d.Save(h, u); err != nil {
			t.Fatal(err)
		}
		if got, ok, err := d.Load(h); got != u || !ok || err != nil {
			t.Fatalf("Load = %q %v %v, want %q", got, ok, err, u)
		}
	}
	ents, _ := os.ReadDir(string(d))
	if len(ents) != 1 {
		t.Fatalf("resume directory holds %d files, want 1", len(ents))
	}
	if err := d.Delete(h); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := d.Load(h); ok {
		t.Fatal("deleted entry still loads")
	}
}

// TestAnswerLost: the hub stores the blob but the answer to the last
// chunk never arrives; the client learns from the hub that it holds the
// blob, and sends nothing again.
func TestAnswerLost(t *testing.T) {
	const size = 3*chunk + 100
	var mu sync.Mutex
	lost := 0
	e := newEnv(t, envOpt{loseAnswer: func(r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodPatch && r.Header.Get("Upload-Offset") == fmt.Sprint(3*chunk) && lost == 0 {
			lost++
			return true
		}
		return false
	}})
	resume := DirResume(t.TempDir())
	c := e.client("dev-a", chunk)
	c.Resume = resume
	data := blob(size, 15)
	if err := c.Put(context.Background(), hashOf(data), size, opener(data), nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if lost != 1 {
		t.Fatal("no answer was lost: the test tested nothing")
	}
	e.mustHold(data)
	if c.Sent() != size {
		t.Fatalf("sent %d bytes, want %d: a blob the hub holds was sent again", c.Sent(), size)
	}
	if _, ok, _ := resume.Load(hashOf(data)); ok {
		t.Fatal("resume entry kept")
	}
}

// TestSameBlobAtOnce: two devices send the same blob at the same time;
// both are confirmed and the hub holds it once.
func TestSameBlobAtOnce(t *testing.T) {
	e := newEnv(t, envOpt{})
	data := blob(4*chunk+1, 16)
	errs := make(chan error, 2)
	for _, dev := range []string{"dev-a", "dev-b"} {
		c := e.client(dev, chunk)
		go func() { errs <- c.Put(context.Background(), hashOf(data), int64(len(data)), opener(data), nil) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	e.mustHold(data)
	if p := e.partials(); len(p) != 0 {
		t.Fatalf("partial uploads left on the hub: %v", p)
	}
}
