package quality_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/devices/camera/netcam"
	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/rigsim"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/rigtest"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
	"github.com/exhibit-forensics/exhibit/imaging/quality"
)

// TestGatesThroughTheRealDrivers runs the gates on frames that came the
// way a capture session's do: the simulated rig (devices/rigsim) behind the
// real light-engine driver on a pseudo-terminal and the real network-camera
// driver over HTTP, the camera tilted 14° from square.
func TestGatesThroughTheRealDrivers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole simulated rig")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rig := rigtest.Start(t, rigsim.Config{Seed: 42, Scene: scene.Config{Width: 2000, Height: 1500, Skin: 5, TiltDeg: 14, TiltAxisDeg: 20}}, netcam.Config{})
	ld, cam := rig.Light, rig.Camera

	shoot := func(b light.Band, f light.Filter, exposure time.Duration) *camera.Frame {
		t.Helper()
		for _, err := range []error{ld.SetBand(ctx, b), ld.SetFilter(ctx, f), ld.SetLevel(ctx, 100), ld.On(ctx)} {
			if err != nil {
				t.Fatal(err)
			}
		}
		if _, err := ld.WaitSettled(ctx, 5*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		cam.LightChanged()
		if _, err := cam.Configure(ctx, camera.Settings{Exposure: exposure, Gain: 1}); err != nil {
			t.Fatal(err)
		}
		fr, err := cam.Capture(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return fr
	}
	white := shoot(light.BandWhite, light.FilterNone, 5*time.Millisecond)
	violet := shoot(light.Band415, light.FilterYellow, 120*time.Millisecond)

	findings, sc, err := quality.Thresholds{}.Frame(violet, white)
	if err != nil {
		t.Fatal(err)
	}
	want := map[quality.Gate]quality.Level{
		quality.GateFocus: quality.OK, quality.GateClipping: quality.OK, quality.GateNoiseFloor: quality.OK,
		quality.GateScale: quality.Warn, quality.GateMotion: quality.OK,
	}
	for _, f := range findings {
		t.Log(f)
		if f.Level != want[f.Gate] {
			t.Errorf("%s: %v, want %v", f.Gate, f.Level, want[f.Gate])
		}
	}
	truth := rig.Sim.Scene.Truth()
	if sc == nil {
		t.Fatal("no scale")
	}
	if e := sc.MMPerPixel/truth.Geometry.MMPerPixelAlongAxis - 1; math.Abs(e) > 0.01 {
		t.Errorf("%.5f mm/px, truth %.5f", sc.MMPerPixel, truth.Geometry.MMPerPixelAlongAxis)
	}
	if math.Abs(sc.TiltDeg-truth.Tilt.Deg) > 2 {
		t.Errorf("tilt %.2f°, truth %.2f°", sc.TiltDeg, truth.Tilt.Deg)
	}
}
