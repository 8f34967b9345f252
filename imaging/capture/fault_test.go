package capture_test

// Fault tests (issue 10): the camera unplugged mid-sequence, the light
// engine's interlock opened, the disk full while sealing. Each fault is
// real — the camera's TCP server goes away, the light engine simulator on
// its pseudo-terminal opens its interlock, a tmpfs runs out of space — and
// the real drivers and the real ledger meet it. Each must end with the
// light off on the simulator itself, a message for the photographer,
// every picture already taken a durable record, the set either sealed in
// full or not at all, a ledger that passes fsck, and a capture that can
// be carried on once the fault is gone without duplicating a picture.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/devices/camera/camsim"
	"github.com/exhibit-forensics/exhibit/devices/camera/netcam"
	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/rigsim"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/rigtest"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
	"github.com/exhibit-forensics/exhibit/imaging/capture"
	"github.com/exhibit-forensics/exhibit/imaging/profile"
	"github.com/exhibit-forensics/exhibit/imaging/seal"
	"github.com/exhibit-forensics/exhibit/imaging/session"
)

// faultGuard bounds each fault test's waits; it is not a timing assertion.
const faultGuard = 90 * time.Second

const faultCase = "F-10"

// faultScene is small, so that a capture of the five shots of
// injury-standard takes about a second, and large enough for the scale to
// be found (the outline derivative is made).
var faultScene = scene.Config{Width: 480, Height: 360, Skin: 3}

func faultProfile(t *testing.T) profile.Profile {
	t.Helper()
	p, err := profile.Lookup("injury-standard@1")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func faultSet() seal.Request {
	return seal.Request{Case: faultCase, Site: "left forearm", Photographer: chain.Person{Name: "Jo Smith"}}
}

// pluggableCamera is the rig's camera simulator served on a TCP address
// that can be unplugged: the listener closed and every live connection
// reset, so the driver's requests are refused or cut — and plugged back
// in on the same address.
type pluggableCamera struct {
	t    *testing.T
	sim  *camsim.Sim
	addr string

	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
	cancel context.CancelFunc
	done   chan error
}

func newPluggableCamera(t *testing.T, r *rigsim.Rig, seed uint64) *pluggableCamera {
	t.Helper()
	sim, err := camsim.New(camsim.Config{Scene: r.Scene, Light: r.Light, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	c := &pluggableCamera{t: t, sim: sim, addr: "127.0.0.1:0"}
	c.plug()
	c.addr = c.ln.Addr().String()
	t.Cleanup(c.unplug)
	return c
}

func (c *pluggableCamera) URL() string { return "http://" + c.addr }

// plug starts serving on c.addr.
func (c *pluggableCamera) plug() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ln != nil {
		return
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		c.t.Fatalf("plugging the camera back in on %s: %v", c.addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.ln, c.conns, c.cancel, c.done = ln, map[net.Conn]bool{}, cancel, make(chan error, 1)
	go func() { c.done <- c.sim.Serve(ctx, trackingListener{ln, c}) }()
}

// unplug closes the listener and resets every connection, then waits for
// the server to stop. It may be called from any goroutine.
func (c *pluggableCamera) unplug() {
	c.mu.Lock()
	ln, conns, cancel, done := c.ln, c.conns, c.cancel, c.done
	c.ln, c.conns = nil, nil
	c.mu.Unlock()
	if ln == nil {
		return
	}
	ln.Close()
	for conn := range conns {
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0) // a reset, not an orderly close
		}
		conn.Close()
	}
	cancel()
	if err := <-done; err != nil && !strings.Contains(err.Error(), "use of closed network connection") {
		c.t.Errorf("camera server: %v", err)
	}
}

type trackingListener struct {
	net.Listener
	c *pluggableCamera
}

func (l trackingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	if l.c.conns == nil { // unplugged meanwhile
		conn.Close()
		return nil, net.ErrClosed
	}
	l.c.conns[conn] = true
	return conn, nil
}

// ledgerView is what the ledger holds for the capture's case.
type ledgerView struct {
	pictures    map[string]int // by shot id: originals recorded and not set aside
	rejected    map[string]int // by shot id: originals set aside
	derivatives map[string]int // by file name
	sealed      []*chain.Record
}

func (v ledgerView) nPictures() int {
	n := 0
	for _, c := range v.pictures {
		n += c
	}
	return n
}

// viewLedger reads the case back from l, and checks every blob a picture
// or derivative names is present and intact.
func viewLedger(t *testing.T, ctx context.Context, l *ledger.Ledger, set store.Exhibit) ledgerView {
	t.Helper()
	v := ledgerView{pictures: map[string]int{}, rejected: map[string]int{}, derivatives: map[string]int{}}
	exs, err := l.Exhibits(ctx, faultCase)
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range exs {
		for _, b := range ex.Blobs {
			if err := blobstore.Check(ctx, l.Blobs(), b.Hash); err != nil {
				t.Errorf("%s names blob %s (%s): %v", ex.Ref, b.Hash, b.Name, err)
			}
		}
		switch {
		case ex.ID == set.ID:
		case ex.PartOf != set.ID:
			t.Errorf("exhibit %s (%s) is not part of the set", ex.Ref, ex.Kind)
		case ex.DerivedFrom != "":
			v.derivatives[ex.Blobs[0].Name]++
		default:
			recs, err := l.ChainRecords(ctx, ex.ID)
			if err != nil {
				t.Fatal(err)
			}
			r, err := recs[0].Decode()
			if err != nil {
				t.Fatal(err)
			}
			shot := r.Statement.Predicate.Image.Shot
			v.pictures[shot]++
			for _, sr := range recs[1:] {
				if r, err := sr.Decode(); err == nil && r.Kind == chain.KindRejected {
					v.pictures[shot]--
					v.rejected[shot]++
					break
				}
			}
		}
	}
	recs, err := l.ChainRecords(ctx, set.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, sr := range recs {
		r, err := sr.Decode()
		if err != nil {
			t.Fatal(err)
		}
		if r.Kind == chain.KindSealed {
			v.sealed = append(v.sealed, r)
		}
	}
	return v
}

// fsck fails the test unless the ledger passes its full check (notes —
// an unreferenced blob an interrupted write left — are allowed and
// logged).
func fsck(t *testing.T, ctx context.Context, l *ledger.Ledger) {
	t.Helper()
	rep, err := l.Fsck(ctx)
	if err != nil {
		t.Fatalf("fsck: %v", err)
	}
	for _, p := range rep.Problems {
		if p.Note {
			t.Logf("fsck: %s", p)
		} else {
			t.Errorf("fsck: %s", p)
		}
	}
}

// lightOff fails the test unless the light engine simulator itself — not
// the driver's idea of it — is emitting nothing.
func lightOff(t *testing.T, r *rigsim.Rig, when string) {
	t.Helper()
	if e := r.Light.Emission(); e.On {
		t.Errorf("%s: the light engine is still emitting %v", when, e.Band)
	}
}

// checkSealed checks a finished capture: the set sealed once, naming one
// picture per shot, each recorded once.
func checkSealed(t *testing.T, v ledgerView, res *capture.Result, shots []session.Shot) {
	t.Helper()
	if len(v.sealed) != 1 {
		t.Fatalf("the set has %d sealed records, want 1", len(v.sealed))
	}
	if res.Sealed == nil || res.Sealed.Hash != v.sealed[0].Hash {
		t.Errorf("Finish returned sealed record %v, the ledger holds %s", res.Sealed, v.sealed[0].Hash)
	}
	members := v.sealed[0].Statement.Predicate.Members
	if len(members) != len(shots) {
		t.Errorf("sealed with %d members, want %d", len(members), len(shots))
	}
	for _, sh := range shots {
		if n := v.pictures[sh.ID]; n != 1 {
			t.Errorf("%s recorded %d times, want once", sh.ID, n)
		}
	}
	for name, n := range v.derivatives {
		if n != 1 {
			t.Errorf("derivative %s recorded %d times", name, n)
		}
	}
	kinds := map[string]bool{}
	for _, d := range res.Derivatives {
		kinds[d.Kind] = true
	}
	if len(kinds) != 4 {
		t.Errorf("derivatives made: %v, want all four kinds", kinds)
	}
	if len(v.derivatives) != len(res.Derivatives) {
		t.Errorf("%d derivatives in the ledger, Finish reports %d", len(v.derivatives), len(res.Derivatives))
	}
}

// TestFaultCameraUnplugged: the camera's server goes away after k of the
// five shots — between shots (the request is refused) or while it holds
// a capture request (the connection is reset under it). The capture stops
// with the camera named in the photographer's message, the light engine
// is off, the pictures already taken are recorded and intact, the set is
// not sealed and the ledger passes fsck. Once the camera is plugged back
// in, Shoot carries on from the shot that failed and Finish seals all
// five, each recorded once.
func TestFaultCameraUnplugged(t *testing.T) {
	for _, tc := range []struct {
		name     string
		k        int  // shots taken before the camera goes
		inFlight bool // gone while it holds the capture request
	}{
		{"before the first shot", 0, false},
		{"after two shots", 2, false},
		{"while it holds the third shot's request", 2, true},
		{"while it holds the last shot's request", 4, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), faultGuard)
			defer cancel()
			rig := rigtest.Start(t, rigsim.Config{Seed: 31, Scene: faultScene}, netcam.Config{})
			pc := newPluggableCamera(t, rig.Sim, 0x31ca3)
			cam, err := netcam.Open(ctx, netcam.Config{URL: pc.URL(), Attempts: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer cam.Close()
			l, err := datadir.Init(ctx, t.TempDir(), "Jo Smith", "JS", datadir.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()

			p := faultProfile(t)
			var (
				once    sync.Once
				unplugs = make(chan struct{})
			)
			onProgress := func(pr session.Progress) {
				if pr.Index != tc.k+1 || pr.Step != "expose" {
					return
				}
				once.Do(func() {
					if !tc.inFlight {
						pc.unplug()
						close(unplugs)
						return
					}
					hanging := pc.sim.Hanging()
					pc.sim.HangNext(1)
					go func() {
						defer close(unplugs)
						select {
						case <-hanging: // the camera holds the request
							pc.unplug()
						case <-ctx.Done():
						}
					}()
				})
			}
			c, err := capture.Begin(ctx, capture.Config{Ledger: l, Light: rig.Light, Camera: cam, Profile: p,
				Set: faultSet(), OnProgress: onProgress})
			if err != nil {
				t.Fatal(err)
			}
			shots := c.Shots()
			if len(shots) != 5 {
				t.Fatalf("%d shots, want 5", len(shots))
			}
			err = c.Shoot(ctx)
			<-unplugs
			var se *session.ShotError
			if !errors.As(err, &se) {
				t.Fatalf("Shoot with the camera unplugged: %v", err)
			}
			t.Logf("error: %v", err)
			t.Logf("advice: %s", se.Advice())
			if a := capture.Advice(err); a != se.Advice() {
				t.Errorf("capture.Advice %q, the shot's %q", a, se.Advice())
			}
			if se.Step != "expose" || se.Shot.ID != shots[tc.k].ID {
				t.Errorf("stopped at %s (%s), want %s (expose)", se.Shot.ID, se.Step, shots[tc.k].ID)
			}
			if se.Halt != nil {
				t.Errorf("making the devices safe failed: %v", se.Halt)
			}
			if a := se.Advice(); !strings.Contains(a, "camera") || !strings.Contains(a, "kept") {
				t.Errorf("advice %q does not name the camera or say the pictures are kept", a)
			}
			lightOff(t, rig.Sim, "after the camera went")
			if n := len(c.Frames()); n != tc.k {
				t.Errorf("%d frames, want %d", n, tc.k)
			}
			v := viewLedger(t, ctx, l, c.Set())
			if v.nPictures() != tc.k || len(v.sealed) != 0 || len(v.derivatives) != 0 {
				t.Errorf("ledger holds %v pictures, %d derivatives, %d sealed records; want %d pictures, nothing else",
					v.pictures, len(v.derivatives), len(v.sealed), tc.k)
			}
			for _, sh := range shots[:tc.k] {
				if v.pictures[sh.ID] != 1 {
					t.Errorf("%s: %d pictures recorded, want 1", sh.ID, v.pictures[sh.ID])
				}
			}
			fsck(t, ctx, l)
			if _, err := c.Finish(ctx); err == nil {
				t.Fatal("Finish sealed a capture with shots missing")
			}
			lightOff(t, rig.Sim, "after a refused Finish")

			// Plugged back in: carry on.
			pc.plug()
			if err := c.Shoot(ctx); err != nil {
				t.Fatalf("Shoot after the camera came back: %v", err)
			}
			if n := len(c.Frames()); n != len(shots) {
				t.Errorf("%d frames after carrying on, want %d", n, len(shots))
			}
			res, err := c.Finish(ctx)
			if err != nil {
				t.Fatal(err)
			}
			lightOff(t, rig.Sim, "after sealing")
			checkSealed(t, viewLedger(t, ctx, l, c.Set()), res, shots)
			fsck(t, ctx, l)
		})
	}
}

// tmpfsEnv marks the test binary re-run in a mount namespace of its own.
const tmpfsEnv = "EXHIBIT_FAULT_TMPFS"

// tmpfsRoot returns the root of a fresh tmpfs of size bytes, mounted in a
// mount namespace of the test's own: the test binary runs the test again
// under `unshare -m` (root only), and that run mounts the tmpfs. In the
// first run it returns "" once the second has passed (or fails with its
// output), and the caller returns. It skips, saying why, where the
// namespace or the mount is not allowed.
func tmpfsRoot(t *testing.T, size int64) string {
	t.Helper()
	if os.Getenv(tmpfsEnv) == "" {
		if os.Geteuid() != 0 {
			t.Skipf("needs root to make a mount namespace and mount a small tmpfs that fills (running as uid %d)", os.Geteuid())
		}
		if _, err := exec.LookPath("unshare"); err != nil {
			t.Skipf("needs unshare(1) (util-linux) for a mount namespace: %v", err)
		}
		if out, err := exec.Command("unshare", "-m", "--propagation", "private", "true").CombinedOutput(); err != nil {
			t.Skipf("cannot make a mount namespace here (containers often withhold CAP_SYS_ADMIN): unshare -m: %v: %s", err, out)
		}
		args := []string{"-m", "--propagation", "private", os.Args[0], "-test.run=^" + t.Name() + "$", "-test.count=1", "-test.v"}
		if d, ok := t.Deadline(); ok {
			args = append(args, "-test.timeout="+time.Until(d).Round(time.Second).String())
		}
		cmd := exec.Command("unshare", args...)
		cmd.Env = append(os.Environ(), tmpfsEnv+"=1")
		out, err := cmd.CombinedOutput()
		t.Logf("in a mount namespace of its own:\n%s", out)
		switch {
		case err != nil:
			t.Fatalf("the run in its own mount namespace failed: %v", err)
		case bytes.Contains(out, []byte("--- SKIP: "+t.Name())):
			t.Skip("skipped in its own mount namespace (see the log)")
		case !bytes.Contains(out, []byte("--- PASS: "+t.Name())):
			t.Fatalf("the run in its own mount namespace did not run %s", t.Name())
		}
		return ""
	}
	dir := t.TempDir()
	opts := fmt.Sprintf("size=%d,mode=0700", size)
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		t.Skipf("cannot mount a tmpfs (%s) on %s: %v", opts, dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// A disk is a tmpfs whose free space a filler file controls.
type disk struct {
	t      *testing.T
	root   string
	filler *os.File
}

func newDisk(t *testing.T, root string) *disk {
	f, err := os.OpenFile(filepath.Join(root, "filler"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		os.Remove(f.Name())
	})
	return &disk{t: t, root: root, filler: f}
}

// free is the space left, in bytes.
func (d *disk) free() int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(d.root, &st); err != nil {
		d.t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// leave grows or shrinks the filler so that n bytes (rounded down to the
// filesystem's pages) are left free.
func (d *disk) leave(n int64) {
	d.t.Helper()
	fi, err := d.filler.Stat()
	if err != nil {
		d.t.Fatal(err)
	}
	size, free := fi.Size(), d.free()
	if free < n { // give space back
		if err := d.filler.Truncate(max(0, size-(n-free))); err != nil {
			d.t.Fatal(err)
		}
		return
	}
	// Written, not truncated up: a sparse file takes no space on tmpfs.
	zero := make([]byte, 64<<10)
	for need := free - n; need > 0; {
		w, err := d.filler.WriteAt(zero[:min(int64(len(zero)), need)], size)
		size += int64(w)
		need -= int64(w)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			d.t.Fatal(err)
		}
	}
}

// tmpFiles lists what is left in the blob store's directory for writes
// in progress.
func tmpFiles(t *testing.T, data string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(data, datadir.BlobsDir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// fillBeforeSeal fills the disk just before the set's sealed record is
// written: the write that then fails is the seal's own.
type fillBeforeSeal struct {
	*ledger.Ledger
	disk  *disk
	armed bool
}

func (f *fillBeforeSeal) Append(ctx context.Context, ref string, k chain.Kind, actor chain.Person, fill ledger.AppendFunc) (*chain.Record, error) {
	if k == chain.KindSealed && f.armed {
		f.disk.leave(0)
	}
	return f.Ledger.Append(ctx, ref, k, actor, fill)
}

// TestFaultDiskFull: the data directory's filesystem — a real tmpfs —
// fills while a picture is being written, while the derivatives are
// being written, and as the set is sealed. Every failure carries
// ENOSPC, leaves the light off, no temporary file behind and no record
// naming a missing blob; the set is sealed in full or not at all, and the
// ledger passes fsck. Once space is freed the capture is carried on
// (Shoot) or finished again (Finish) and every picture and derivative is
// recorded exactly once.
func TestFaultDiskFull(t *testing.T) {
	root := tmpfsRoot(t, 48<<20)
	if root == "" {
		return
	}
	type step struct {
		stage string // "shoot" or "finish"
		err   error
	}
	for _, tc := range []struct {
		name string
		// run takes the capture to the end, making the disk full on the
		// way, and returns each failure met.
		run func(t *testing.T, ctx context.Context, d *disk, c *capture.Capture, fb *fillBeforeSeal, check func(string, error)) *capture.Result
	}{
		{"while a picture is written", func(t *testing.T, ctx context.Context, d *disk, c *capture.Capture, fb *fillBeforeSeal, check func(string, error)) *capture.Result {
			err := c.Shoot(ctx) // the disk was filled at the third shot's exposure
			var se *session.ShotError
			if !errors.As(err, &se) || se.Step != "keep" || se.Shot.ID != c.Shots()[2].ID {
				t.Fatalf("Shoot on a full disk: %v", err)
			}
			t.Logf("advice: %s", se.Advice())
			if a := capture.Advice(err); a != se.Advice() {
				t.Errorf("capture.Advice %q, the shot's %q", a, se.Advice())
			}
			if a := se.Advice(); !strings.Contains(a, "storage") || !strings.Contains(a, "kept") {
				t.Errorf("advice %q does not name the storage or say the pictures are kept", a)
			}
			check("shoot", err)
			if n := len(c.Frames()); n != 2 {
				t.Errorf("%d frames after the failure, want 2", n)
			}
			d.leave(40 << 20)
			if err := c.Shoot(ctx); err != nil {
				t.Fatalf("Shoot once space is freed: %v", err)
			}
			res, err := c.Finish(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}},
		{"while the derivatives are written", func(t *testing.T, ctx context.Context, d *disk, c *capture.Capture, fb *fillBeforeSeal, check func(string, error)) *capture.Result {
			if err := c.Shoot(ctx); err != nil {
				t.Fatal(err)
			}
			// From too little space for one derivative upwards, until it
			// fits: each Finish fails further on.
			for leave := int64(16 << 10); ; leave += 384 << 10 {
				d.leave(leave)
				res, err := c.Finish(ctx)
				if err == nil {
					return res
				}
				t.Logf("Finish with %d KiB free: %v", leave>>10, err)
				check("finish", err)
				if leave > 32<<20 {
					t.Fatalf("Finish still fails with %d KiB free: %v", leave>>10, err)
				}
			}
		}},
		{"as the set is sealed", func(t *testing.T, ctx context.Context, d *disk, c *capture.Capture, fb *fillBeforeSeal, check func(string, error)) *capture.Result {
			if err := c.Shoot(ctx); err != nil {
				t.Fatal(err)
			}
			fb.armed = true
			res, err := c.Finish(ctx)
			fb.armed = false
			if err == nil {
				t.Fatal("the set was sealed on a full disk")
			}
			if !strings.Contains(err.Error(), "sealing") {
				t.Errorf("Finish failed before the seal: %v", err)
			}
			check("finish", err)
			d.leave(40 << 20)
			if res, err = c.Finish(ctx); err != nil {
				t.Fatalf("Finish once space is freed: %v", err)
			}
			return res
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), faultGuard)
			defer cancel()
			rig := rigtest.Start(t, rigsim.Config{Seed: 41, Scene: faultScene}, netcam.Config{})
			data := filepath.Join(root, "data")
			t.Cleanup(func() { os.RemoveAll(data) })
			d := newDisk(t, root)
			l, err := datadir.Init(ctx, data, "Jo Smith", "JS", datadir.Options{})
			if err != nil {
				t.Fatal(err)
			}
			closed := false
			defer func() {
				if !closed {
					l.Close()
				}
			}()
			fb := &fillBeforeSeal{Ledger: l, disk: d}
			filled := false
			onProgress := func(pr session.Progress) {
				if tc.name == "while a picture is written" && !filled && pr.Index == 3 && pr.Step == "expose" {
					filled = true
					d.leave(64 << 10) // less than a picture
				}
			}
			c, err := capture.Begin(ctx, capture.Config{Ledger: fb, Light: rig.Light, Camera: rig.Camera,
				Profile: faultProfile(t), Set: faultSet(), OnProgress: onProgress})
			if err != nil {
				t.Fatal(err)
			}
			failures := 0
			check := func(stage string, err error) {
				t.Helper()
				failures++
				if !errors.Is(err, syscall.ENOSPC) {
					t.Errorf("%s: the error does not carry ENOSPC: %v", stage, err)
				}
				if a := capture.Advice(err); !strings.Contains(a, "storage is full") || !strings.Contains(a, "kept") {
					t.Errorf("%s: advice %q does not say the storage is full and the pictures are kept", stage, a)
				}
				lightOff(t, rig.Sim, stage+" on a full disk")
				if tmp := tmpFiles(t, data); len(tmp) > 0 {
					t.Errorf("%s: temporary files left behind: %v", stage, tmp)
				}
				v := viewLedger(t, ctx, l, c.Set()) // every blob named is present and intact
				if len(v.sealed) != 0 {
					t.Errorf("%s: the set was sealed, yet the error says otherwise", stage)
				}
				for shot, n := range v.pictures {
					if n != 1 {
						t.Errorf("%s: %s recorded %d times", stage, shot, n)
					}
				}
				fsck(t, ctx, l)
			}
			res := tc.run(t, ctx, d, c, fb, check)
			if failures == 0 {
				t.Fatal("the disk never filled")
			}
			lightOff(t, rig.Sim, "after sealing")
			shots := c.Shots()
			checkSealed(t, viewLedger(t, ctx, l, c.Set()), res, shots)
			fsck(t, ctx, l)

			// Opened again: the same, nothing left over.
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			closed = true
			l2, err := datadir.Open(ctx, data, datadir.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer l2.Close()
			if tmp := tmpFiles(t, data); len(tmp) > 0 {
				t.Errorf("temporary files after opening again: %v", tmp)
			}
			checkSealed(t, viewLedger(t, ctx, l2, c.Set()), res, shots)
			fsck(t, ctx, l2)
		})
	}
}

// TestFaultInterlockOpened: the enclosure is opened — the light engine
// simulator's interlock, reached by the real driver over its
// pseudo-terminal — as the violet shot (the third of five, a band the
// interlock guards) is about to switch its light on, while its light
// settles, and as its exposure begins. The capture stops with the
// enclosure named in the photographer's message, the light engine is
// off, no picture of the violet shot is kept (it was not lit as its
// record would say), the two pictures before it are recorded, the set is
// not sealed and the ledger passes fsck. Once the enclosure is closed,
// Shoot carries on from the violet shot and Finish seals all five.
func TestFaultInterlockOpened(t *testing.T) {
	for _, step := range []string{"light", "settle", "expose"} {
		t.Run("at "+step, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), faultGuard)
			defer cancel()
			rig := rigtest.Start(t, rigsim.Config{Seed: 51, Scene: faultScene}, netcam.Config{})
			l, err := datadir.Init(ctx, t.TempDir(), "Jo Smith", "JS", datadir.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			opened := false
			onProgress := func(pr session.Progress) {
				if !opened && pr.Index == 3 && pr.Step == step {
					opened = true
					rig.Sim.Light.SetInterlock(true)
				}
			}
			c, err := capture.Begin(ctx, capture.Config{Ledger: l, Light: rig.Light, Camera: rig.Camera,
				Profile: faultProfile(t), Set: faultSet(), OnProgress: onProgress})
			if err != nil {
				t.Fatal(err)
			}
			shots := c.Shots()
			if !shots[2].Band.NeedsInterlock() {
				t.Fatalf("shot 3 (%s) is not guarded by the interlock", shots[2].ID)
			}
			err = c.Shoot(ctx)
			var se *session.ShotError
			if !errors.As(err, &se) {
				t.Fatalf("Shoot with the enclosure opened at %s: %v", step, err)
			}
			t.Logf("error: %v", err)
			t.Logf("advice: %s", se.Advice())
			if a := capture.Advice(err); a != se.Advice() {
				t.Errorf("capture.Advice %q, the shot's %q", a, se.Advice())
			}
			if !errors.Is(err, light.ErrInterlockOpen) {
				t.Errorf("the error does not say the interlock is open: %v", err)
			}
			if se.Shot.ID != shots[2].ID {
				t.Errorf("stopped at %s, want %s", se.Shot.ID, shots[2].ID)
			}
			if a := se.Advice(); !strings.Contains(a, "enclosure") || !strings.Contains(a, "kept") {
				t.Errorf("advice %q does not name the enclosure or say the pictures are kept", a)
			}
			lightOff(t, rig.Sim, "after the enclosure was opened")
			// Exposed in the dark, the violet frame is kept but set aside.
			aside := 0
			if step == "expose" {
				aside = 1
			}
			if n, a := len(c.Frames()), len(c.Accepted()); n != 2+aside || a != 2 {
				t.Errorf("%d frames, %d accepted; want the 2 before the violet shot accepted, and %d set aside", n, a, aside)
			}
			v := viewLedger(t, ctx, l, c.Set())
			if v.nPictures() != 2 || v.pictures[shots[2].ID] != 0 || v.rejected[shots[2].ID] != aside ||
				len(v.sealed) != 0 || len(v.derivatives) != 0 {
				t.Errorf("ledger holds pictures %v, set aside %v, %d derivatives, %d sealed records; want the first two pictures and %d violet set aside",
					v.pictures, v.rejected, len(v.derivatives), len(v.sealed), aside)
			}
			fsck(t, ctx, l)

			rig.Sim.Light.SetInterlock(false)
			if err := c.Shoot(ctx); err != nil {
				t.Fatalf("Shoot once the enclosure is closed: %v", err)
			}
			if n := len(c.Frames()); n != len(shots)+aside {
				t.Errorf("%d frames after carrying on, want %d", n, len(shots)+aside)
			}
			res, err := c.Finish(ctx)
			if err != nil {
				t.Fatal(err)
			}
			lightOff(t, rig.Sim, "after sealing")
			v = viewLedger(t, ctx, l, c.Set())
			checkSealed(t, v, res, shots)
			if v.rejected[shots[2].ID] != aside {
				t.Errorf("%d violet pictures set aside after sealing, want %d", v.rejected[shots[2].ID], aside)
			}
			fsck(t, ctx, l)
		})
	}
}
