package register

import (
	"context"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/devices/camera/camsim"
	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/light/lightsim"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
	"github.com/exhibit-forensics/exhibit/internal/clock"
)

// The tests drive the camera simulator directly: a light engine that is
// always settled on the band under test, and a clock on which exposures
// take no time, so that no test waits.

// settledLight is a light engine that has been lit, settled, at full
// output on one band and filter since the beginning of time.
type settledLight struct {
	band   light.Band
	filter light.Filter
}

func (l *settledLight) EmissionAt(t time.Time) lightsim.Emission {
	return lightsim.Emission{On: true, Band: l.band, Filter: l.filter, Level: 100, Output: 100,
		Since: time.Time{}, SettledAt: time.Time{}, Settled: true, Temperature: 30}
}

// instantClock reads one fixed time, and its timers have already fired.
type instantClock struct{ now time.Time }

func (c instantClock) Now() time.Time { return c.now }

func (c instantClock) NewTimer(time.Duration) clock.Timer {
	t := firedTimer(make(chan time.Time, 1))
	t <- c.now
	return t
}

type firedTimer chan time.Time

func (t firedTimer) C() <-chan time.Time { return t }
func (t firedTimer) Stop() bool          { return false }

// bandShot is one band/filter pair a capture takes.
type bandShot struct {
	name   string
	band   light.Band
	filter light.Filter
}

// The injury-standard bands the tests register: white is the reference.
var (
	shotWhite  = bandShot{"white", light.BandWhite, light.FilterNone}
	shot415Y   = bandShot{"415+yellow", light.Band415, light.FilterYellow}
	shot450O   = bandShot{"450+orange", light.Band450, light.FilterOrange}
	shot850IR  = bandShot{"850+ir-pass", light.Band850, light.FilterIRPass}
	shotCrossP = bandShot{"cross-polarised", light.BandCrossPolarised, light.FilterNone}
	testShots  = []bandShot{shotWhite, shot415Y, shot450O, shot850IR}
)

// rig is a scene, a camera and the light it sees.
type rig struct {
	scene *scene.Scene
	cam   *camsim.Sim
	light *settledLight
}

func newRig(tb testing.TB, seed uint64, skin, width, height int) *rig {
	tb.Helper()
	sc, err := scene.New(scene.Config{Seed: seed, Skin: skin, Width: width, Height: height})
	if err != nil {
		tb.Fatal(err)
	}
	l := &settledLight{}
	cam, err := camsim.New(camsim.Config{Scene: sc, Light: l, Seed: seed,
		Clock: instantClock{time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)}})
	if err != nil {
		tb.Fatal(err)
	}
	return &rig{scene: sc, cam: cam, light: l}
}

// exposure picks an exposure and gain that put unbruised skin at about 40 %
// of the full well, as a capture profile would: the longest exposure first
// (2 s at most), then gain.
func (r *rig) exposure(s bandShot) camsim.Request {
	sn := r.cam.Sensor()
	rate := sn.PhotonFlux * scene.Brightness(s.band, s.filter, r.scene.Skin()) // e⁻/s
	sec := 0.4 * sn.FullWell / rate
	gain := 1.0
	if max := sn.MaxExposure.Seconds(); sec > max {
		gain = min(sec/max, sn.MaxGain)
		sec = max
	}
	return camsim.Request{Exposure: time.Duration(sec * float64(time.Second)), Gain: gain}
}

// shoot captures one frame of band s and returns it as a driver would,
// with the simulator's hand-motion offset.
func (r *rig) shoot(tb testing.TB, s bandShot) (*camera.Frame, [2]int) {
	tb.Helper()
	r.light.band, r.light.filter = s.band, s.filter
	req := r.exposure(s)
	f, err := r.cam.Capture(context.Background(), req)
	if err != nil {
		tb.Fatal(err)
	}
	return &camera.Frame{Width: f.Width, Height: f.Height, Channels: 1, Pix: f.Pix,
		Meta: camera.Meta{Device: "camsim", Counter: f.Counter, Exposure: f.Exposure, Gain: f.Gain,
			BitDepth: 16, Temperature: f.Temperature, TemperatureKnown: true, ExposureStart: f.Start}}, f.Offset
}
