// Package imagingtest renders single frames of the simulated scene for the
// tests of imaging/enhance and imaging/measure: the scene
// (devices/rigsim/scene) seen by the real camera simulator
// (devices/camera/camsim) under one settled band and filter, with no hand
// motion, on a fake clock, exposed as a photographer's profile would expose
// unbruised skin. imaging/scale/scaletest is its counterpart for scale and
// quality tests, which need hand motion and over-exposure.
package imagingtest

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

// steadyLight is a light engine that has been emitting one band through
// one filter, settled, at full output, for ever.
type steadyLight struct{ e lightsim.Emission }

func (l steadyLight) EmissionAt(time.Time) lightsim.Emission { return l.e }

// ExposureFor is the exposure and gain that fill the sensor's well to
// half on unbruised skin, as a photographer's profile would: exposure
// first, up to the sensor's limit, then gain.
func ExposureFor(b light.Band, f light.Filter, group int) camsim.Request {
	sn := camsim.DefaultSensor
	sec := 0.5 * sn.FullWell / (sn.PhotonFlux * scene.Brightness(b, f, group))
	gain := 1.0
	if max := sn.MaxExposure.Seconds(); sec > max {
		gain, sec = sec/max, max
	}
	return camsim.Request{Exposure: time.Duration(sec * float64(time.Second)), Gain: gain}
}

// SimFrame captures one frame of sc lit by band b through filter f with
// the real camera simulator (noise, exposure, gain; no hand motion), on a
// fake clock. The noise depends on seed only.
func SimFrame(t testing.TB, sc *scene.Scene, b light.Band, f light.Filter, seed uint64) *camera.Frame {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))
	sn := camsim.DefaultSensor
	sn.MaxMotion = -1
	cam, err := camsim.New(camsim.Config{Scene: sc, Clock: clk, Seed: seed, Sensor: sn,
		Light: steadyLight{lightsim.Emission{On: true, Band: b, Filter: f, Level: 100, Output: 100, Settled: true}}})
	if err != nil {
		t.Fatal(err)
	}
	req := ExposureFor(b, f, sc.Skin())
	type result struct {
		f   *camsim.Frame
		err error
	}
	done := make(chan result, 1)
	go func() {
		fr, err := cam.Capture(context.Background(), req)
		done <- result{fr, err}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal("the camera never started its exposure")
	}
	exp, _ := cam.Sensor().Applied(req.Exposure, req.Gain)
	clk.Advance(exp + cam.Sensor().Readout)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	return &camera.Frame{Width: r.f.Width, Height: r.f.Height, Channels: 1, Pix: r.f.Pix,
		Meta: camera.Meta{Device: "camsim", Counter: r.f.Counter, Exposure: r.f.Exposure, Gain: r.f.Gain, BitDepth: 16}}
}
