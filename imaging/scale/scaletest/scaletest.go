// Package scaletest renders frames of the simulated rig for the tests of
// imaging/scale and imaging/quality: a scene (devices/rigsim/scene) seen by
// the camera simulator (devices/camera/camsim) under one settled band and
// filter, returned as the *camera.Frame a capture session would hand over,
// with the scene's ground truth beside it.
//
// It drives camsim directly on a clock on which every wait is over at once
// (time jumps ahead by the wait), so a 2-second exposure costs no wall time
// and no goroutine, and it chooses each exposure from the layer
// the camera will see, so that every band — white light or a dim
// barrier-filtered one — comes out well exposed unless the test asks for
// more (Shot.Overexpose).
package scaletest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/devices/camera/camsim"
	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/light/lightsim"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
	"github.com/exhibit-forensics/exhibit/internal/clock"
)

// Rig is a scene and a camera looking at it.
type Rig struct {
	Scene *scene.Scene
	cam   *camsim.Sim
	clk   *instant
	emit  *emitter
	mu    sync.Mutex // one capture at a time
}

// NewRig builds a scene from cfg and a camera simulator seeded with
// cfg.Seed. maxMotion is the camera's hand motion in pixels (negative for
// none).
func NewRig(tb testing.TB, cfg scene.Config, maxMotion int) *Rig {
	tb.Helper()
	sc, err := scene.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	clk := &instant{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	em := &emitter{}
	cam, err := camsim.New(camsim.Config{Scene: sc, Light: em, Clock: clk, Seed: cfg.Seed,
		Sensor: camsim.Sensor{MaxMotion: maxMotion}})
	if err != nil {
		tb.Fatal(err)
	}
	return &Rig{Scene: sc, cam: cam, clk: clk, emit: em}
}

// emitter is a light engine that is always settled on one band and filter.
type emitter struct {
	mu sync.Mutex
	e  lightsim.Emission
}

func (e *emitter) EmissionAt(time.Time) lightsim.Emission {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.e
}

// Shot is what to capture.
type Shot struct {
	Band   light.Band
	Filter light.Filter
	// Fill is the share of the full well the brightest 0.5 % of the
	// scene reaches; default 0.6. Over 1 over-exposes.
	Fill float64
}

// Exposure returns the exposure and gain that make the 99.5th percentile
// of the scene's radiance under (b, f) fill share fill of the full well.
func (r *Rig) Exposure(b light.Band, f light.Filter, fill float64) (time.Duration, float64) {
	l := r.Scene.Layer(b, f)
	sample := make([]uint16, 0, len(l.Pix)/97+1)
	for i := 0; i < len(l.Pix); i += 97 {
		sample = append(sample, l.Pix[i])
	}
	slices.Sort(sample)
	p := float64(sample[len(sample)*995/1000]) * l.Unit
	sn := r.cam.Sensor()
	sec := fill * sn.FullWell / (sn.PhotonFlux * p)
	gain := 1.0
	if max := sn.MaxExposure.Seconds(); sec > max {
		gain = min(sec/max, sn.MaxGain)
		sec = max
	}
	return time.Duration(sec * float64(time.Second)), gain
}

// Capture exposes one frame of s. It returns the frame as a capture
// session would see it and the camera simulator's own record of it (hand
// motion offset included).
func (r *Rig) Capture(tb testing.TB, s Shot) (*camera.Frame, *camsim.Frame) {
	tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.Fill == 0 {
		s.Fill = 0.6
	}
	r.emit.mu.Lock()
	r.emit.e = lightsim.Emission{On: true, Band: s.Band, Filter: s.Filter, Level: 100, Output: 100, Settled: true}
	r.emit.mu.Unlock()
	exp, gain := r.Exposure(s.Band, s.Filter, s.Fill)
	f, err := r.cam.Capture(context.Background(), camsim.Request{Exposure: exp, Gain: gain})
	if err != nil {
		tb.Fatal(err)
	}
	return Frame(f), f
}

// instant is a clock.Clock on which every timer has fired as soon as it is
// made: time jumps ahead by the timer's duration.
type instant struct {
	mu  sync.Mutex
	now time.Time
}

var _ clock.Clock = (*instant)(nil)

func (c *instant) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *instant) NewTimer(d time.Duration) clock.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(max(d, 0))
	t := firedTimer(make(chan time.Time, 1))
	t <- c.now
	return t
}

type firedTimer chan time.Time

func (t firedTimer) C() <-chan time.Time { return t }
func (t firedTimer) Stop() bool          { return false }

// Frame converts a camera simulator frame to the frame a driver returns.
func Frame(f *camsim.Frame) *camera.Frame {
	return &camera.Frame{Width: f.Width, Height: f.Height, Channels: 1, Pix: f.Pix,
		Meta: camera.Meta{Device: "camsim", Counter: f.Counter, Exposure: f.Exposure, Gain: f.Gain, BitDepth: 16,
			Temperature: f.Temperature, TemperatureKnown: true, ExposureStart: f.Start}}
}

// Name is a short label for a band and filter, for test names and tables.
func Name(b light.Band, f light.Filter) string {
	if f == light.FilterNone {
		return b.String()
	}
	return fmt.Sprintf("%s+%s", b, f)
}
