package profile

import (
	"context"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/camera/netcam"
	"github.com/exhibit-forensics/exhibit/devices/rigsim"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/rigtest"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
)

// TestRigDrivers takes every shot of injury-standard as the kiosk will: the
// real light-engine driver over a pseudo-terminal and the real network
// camera driver over HTTP, against `exhibit sim rig` in-process (rigsim),
// on skin groups 1 and 6. The light engine accepts each band, filter and
// level (and the interlocked bands with the enclosure closed) without
// derating, the camera applies each gain as written and each exposure to
// within one line time of the NC12M sensor (14.8 µs), and the frames meet
// the same exposure targets as TestExposure's. The rig runs on the wall clock, as its own
// tests do: the drivers wait for the light to settle and for the exposure.
func TestRigDrivers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the simulated rig")
	}
	p, err := Lookup("injury-standard")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const lineTime = 14800 * time.Nanosecond
	frames := make([][7]exposure, len(p.Shots))
	for _, g := range []int{1, 6} {
		r := rigtest.Start(t, rigsim.Config{Seed: 10, Scene: scene.Config{Skin: g, Width: 1000, Height: 750, MaxLayers: 2}}, netcam.Config{})
		ld, cam := r.Light, r.Camera
		for i, s := range p.Shots {
			for _, err := range []error{ld.SetBand(ctx, s.Band), ld.SetFilter(ctx, s.Filter), ld.SetLevel(ctx, s.Level), ld.On(ctx)} {
				if err != nil {
					t.Fatalf("%s: %v", s.ID, err)
				}
			}
			st, err := ld.WaitSettled(ctx, 5*time.Millisecond)
			if err != nil {
				t.Fatalf("%s: %v", s.ID, err)
			}
			if st.Band != s.Band || st.Filter != s.Filter || st.Level != s.Level || !st.On || st.Derating < s.Level {
				t.Fatalf("%s: light engine reports %v", s.ID, st)
			}
			cam.LightChanged()
			applied, err := cam.Configure(ctx, s.Camera)
			if err != nil {
				t.Fatalf("%s: %v", s.ID, err)
			}
			if d := applied.Exposure - s.Camera.Exposure; d < -lineTime || d > lineTime || applied.Gain != s.Camera.Gain {
				t.Errorf("%s: camera applied %v, the profile asks for %v", s.ID, applied, s.Camera)
			}
			f, err := cam.Capture(ctx)
			if err != nil {
				t.Fatalf("%s: %v", s.ID, err)
			}
			frames[i][g] = measure(r.Sim.Scene, f.Pix, f.Width, f.Height, [2]int{})
		}
		if err := ld.Off(ctx); err != nil {
			t.Fatal(err)
		}
	}
	tableHeader(t)
	for i, s := range p.Shots {
		checkExposure(t, p, s, frames[i])
	}
}
