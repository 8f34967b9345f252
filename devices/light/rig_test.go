package light_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/light/lightsim"
	"github.com/exhibit-forensics/exhibit/devices/serialport/pty"
)

// rig is a simulated light engine behind a real pseudo-terminal, reachable
// at a stable symlink, as a real engine is at /dev/serial/by-id/….
type rig struct {
	sim       *lightsim.Sim
	link      pty.Link
	plugged   chan string   // each new /dev/pts path
	unplugged chan struct{} // each simulated unplug
	replug    chan struct{} // send (or close) to plug back in
}

// start serves sim at a link in a fresh temporary directory until the test
// ends.
func start(tb testing.TB, sim *lightsim.Sim) *rig {
	tb.Helper()
	return startAt(tb, sim, pty.Link(filepath.Join(tb.TempDir(), "light-engine")))
}

func startAt(tb testing.TB, sim *lightsim.Sim, link pty.Link) *rig {
	tb.Helper()
	r := &rig{
		sim:       sim,
		link:      link,
		plugged:   make(chan string, 8),
		unplugged: make(chan struct{}, 8),
		replug:    make(chan struct{}, 8),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- sim.ServePTY(ctx, link, lightsim.PTYOptions{
			OnPlug:   func(p string) { r.plugged <- p },
			OnUnplug: func() { r.unplugged <- struct{}{} },
			Replug: func(ctx context.Context) error {
				select {
				case <-r.replug:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			},
		})
	}()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("simulator: %v", err)
		}
	})
	r.waitPlugged(tb)
	return r
}

// waitPlugged waits for the simulator to be listening on a new pty.
func (r *rig) waitPlugged(tb testing.TB) string {
	tb.Helper()
	select {
	case p := <-r.plugged:
		return p
	case <-time.After(10 * time.Second):
		tb.Fatal("simulator never plugged in")
		return ""
	}
}

// open opens the driver on the rig's link. Close is left to the test or
// cleanup.
func (r *rig) open(tb testing.TB, cfg light.Config) *light.Dev {
	tb.Helper()
	cfg.Path = string(r.link)
	d, err := light.Open(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("light.Open: %v", err)
	}
	tb.Cleanup(func() { d.Close() })
	return d
}

// waitEmission waits until the simulator's current emission satisfies ok,
// driven by its change notifications, not by polling.
func waitEmission(tb testing.TB, s *lightsim.Sim, what string, ok func(lightsim.Emission) bool) {
	tb.Helper()
	timeout := time.After(10 * time.Second)
	for {
		ch := s.Changed()
		if ok(s.Emission()) {
			return
		}
		select {
		case <-ch:
		case <-timeout:
			tb.Fatalf("simulator never reached %s; emission %+v", what, s.Emission())
		}
	}
}

// result runs f in a goroutine and returns a channel with its error.
func result(f func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	return ch
}

func wait(tb testing.TB, ch <-chan error, what string) error {
	tb.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(20 * time.Second):
		tb.Fatalf("%s did not finish", what)
		return nil
	}
}
