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
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
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
var faultScene = scene.Config{Width: 800, Height: 600, Skin: 3}

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
	pictures    map[string]int // by shot id: originals recorded (retakes counted)
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
	v := ledgerView{pictures: map[string]int{}, derivatives: map[string]int{}}
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
			v.pictures[r.Statement.Predicate.Image.Shot]++
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

var _ = fmt.Sprint
var _ = light.BandWhite
