// Package rigsim runs the simulated multispectral rig of `exhibit sim rig`
// in one process: the light engine (devices/light/lightsim) behind a real
// pseudo-terminal reachable at a stable symlink, and the network camera
// (devices/camera/camsim) on HTTP, both looking at one scene
// (devices/rigsim/scene) and sharing one clock, so that every frame shows
// the scene as lit by the band and filter the light engine was emitting
// during the exposure — settle time included.
//
// The real drivers talk to it unchanged: devices/light opens the symlink
// through go.bug.st/serial, devices/camera/netcam speaks HTTP to the
// camera's URL. Everything is deterministic from the seed except what
// depends on wall-clock timing (which frames catch the light settling).
package rigsim

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/camera/camsim"
	"github.com/exhibit-forensics/exhibit/devices/light/lightsim"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
	"github.com/exhibit-forensics/exhibit/devices/serialport/pty"
	"github.com/exhibit-forensics/exhibit/internal/clock"
)

// Config configures a rig.
type Config struct {
	// LightLink is the path of the symlink to the light engine's
	// pseudo-terminal (the stand-in for /dev/serial/by-id/…). Required. An
	// existing symlink there is replaced; any other file is refused.
	LightLink string
	// CameraAddr is the camera's listen address; default 127.0.0.1:0 (a
	// free port).
	CameraAddr string
	// Seed seeds the scene, the camera's noise and motion, and the light
	// engine's fault generator.
	Seed uint64
	// Scene; its Seed is set from Seed.
	Scene scene.Config
	// LightFaults and CameraFaults are the injected faults.
	LightFaults  lightsim.Faults
	CameraFaults camsim.Faults
	// Sensor overrides the camera's sensor model (zero fields: defaults).
	Sensor camsim.Sensor
	// ReplugAfter is how long the light engine's adapter stays unplugged
	// after the unplug fault fires; default 2 s.
	ReplugAfter time.Duration
	// Clock is shared by both simulators; default the wall clock.
	Clock clock.Clock
	// Logger receives plug events; nil discards.
	Logger *slog.Logger
}

// Rig is a running simulated rig.
type Rig struct {
	Scene  *scene.Scene
	Light  *lightsim.Sim
	Camera *camsim.Sim

	link   pty.Link
	url    string
	cancel context.CancelFunc
	done   chan struct{}

	mu  sync.Mutex
	pts string
	err error
}

// Start builds the scene and starts both simulators. They run until ctx
// is done or Close is called.
func Start(ctx context.Context, cfg Config) (*Rig, error) {
	if cfg.LightLink == "" {
		return nil, errors.New("rigsim: Config.LightLink is empty")
	}
	if fi, err := os.Lstat(cfg.LightLink); err == nil && fi.Mode()&fs.ModeSymlink == 0 {
		return nil, fmt.Errorf("rigsim: %s exists and is not a symlink; refusing to replace it", cfg.LightLink)
	}
	if cfg.CameraAddr == "" {
		cfg.CameraAddr = "127.0.0.1:0"
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System
	}
	if cfg.ReplugAfter <= 0 {
		cfg.ReplugAfter = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	sc := cfg.Scene
	sc.Seed = cfg.Seed
	sn, err := scene.New(sc)
	if err != nil {
		return nil, fmt.Errorf("rigsim: %w", err)
	}
	sn.Prepare()
	ls := lightsim.New(lightsim.Config{Clock: cfg.Clock, Seed: cfg.Seed, Faults: cfg.LightFaults})
	cs, err := camsim.New(camsim.Config{Scene: sn, Light: ls, Clock: cfg.Clock, Seed: cfg.Seed ^ 0xca3e7a, Faults: cfg.CameraFaults, Sensor: cfg.Sensor})
	if err != nil {
		return nil, fmt.Errorf("rigsim: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.CameraAddr)
	if err != nil {
		return nil, fmt.Errorf("rigsim: camera listen: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &Rig{Scene: sn, Light: ls, Camera: cs, link: pty.Link(cfg.LightLink),
		url: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan struct{})}
	plugged := make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		r.prefetch(ctx)
	}()
	go func() {
		defer wg.Done()
		err := ls.ServePTY(ctx, r.link, lightsim.PTYOptions{
			OnPlug: func(p string) {
				r.mu.Lock()
				r.pts = p
				r.mu.Unlock()
				cfg.Logger.Info("light engine plugged in", "pts", p, "link", cfg.LightLink)
				select {
				case plugged <- struct{}{}:
				default:
				}
			},
			OnUnplug: func() {
				r.mu.Lock()
				r.pts = ""
				r.mu.Unlock()
				cfg.Logger.Info("light engine unplugged (fault)", "replug_in", cfg.ReplugAfter)
			},
			Replug: func(ctx context.Context) error { return clock.Sleep(ctx, cfg.Clock, cfg.ReplugAfter) },
		})
		r.fail(err)
	}()
	go func() {
		defer wg.Done()
		r.fail(cs.Serve(ctx, ln))
	}()
	go func() {
		wg.Wait()
		// ServePTY removes the link on the way out; make sure of it even
		// if it failed before pointing it.
		if t, err := r.link.Target(); err == nil && t != "" {
			r.fail(r.link.Remove())
		}
		close(r.done)
	}()
	select {
	case <-plugged:
		return r, nil
	case <-r.done:
		cancel()
		return nil, fmt.Errorf("rigsim: start: %w", r.Err())
	}
}

// prefetch builds the scene layer for whatever the light engine switches
// to while the light settles, so that the first capture under a new band
// or filter does not wait for it. (A real camera has nothing to build; the
// simulator should not look slower than one.)
func (r *Rig) prefetch(ctx context.Context) {
	for {
		ch := r.Light.Changed()
		if e := r.Light.Emission(); e.On {
			r.Scene.Layer(e.Band, e.Filter)
		}
		select {
		case <-ctx.Done():
			return
		case <-ch:
		}
	}
}

func (r *Rig) fail(err error) {
	if err == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = errors.Join(r.err, err)
	r.cancel()
}

// LightLink is the symlink the light driver opens.
func (r *Rig) LightLink() string { return string(r.link) }

// PTS is the pseudo-terminal currently behind the link ("" while
// unplugged).
func (r *Rig) PTS() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pts
}

// CameraURL is the camera's base URL.
func (r *Rig) CameraURL() string { return r.url }

// Done is closed when the rig has stopped (and its link is removed).
func (r *Rig) Done() <-chan struct{} { return r.done }

// Err is why the rig stopped, nil if it was asked to.
func (r *Rig) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Close stops both simulators, waits for them and removes the link.
func (r *Rig) Close() error {
	r.cancel()
	<-r.done
	return r.Err()
}
