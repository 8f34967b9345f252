package camsim

import (
	"sync"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
)

var (
	benchOnce  sync.Once
	benchScene *scene.Scene
	benchErr   error
)

// benchSim is a camera on the default 12 MP scene whose 415 nm + yellow
// layer has been built (a one-off cost per band, not per frame).
func benchSim(b *testing.B) *Sim {
	benchOnce.Do(func() {
		benchScene, benchErr = scene.New(scene.Config{Seed: 1})
		if benchErr == nil {
			benchScene.Layer(light.Band415, light.FilterYellow)
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	s, err := New(Config{Scene: benchScene, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkRenderBandFrame renders 12 MP 16-bit frames of a settled 415 nm
// band behind the yellow filter: scaling, shot and read noise, motion.
// Run with GOMAXPROCS=1 for the one-core figure.
func BenchmarkRenderBandFrame(b *testing.B) {
	s := benchSim(b)
	light := []LightShare{{Band: light.Band415, Filter: light.FilterYellow, Weight: 1, Settled: true}}
	w, h := s.width, s.hgt
	dst := make([]uint16, w*h)
	b.SetBytes(int64(2 * w * h))
	b.ResetTimer()
	var n uint64
	for b.Loop() {
		n++
		f := &Frame{Width: w, Height: h, Counter: n, Exposure: 200 * time.Millisecond, Gain: 4,
			Temperature: temperature(n), Light: light, Offset: s.motion(n)}
		p := s.plan(f)
		s.renderParallel(dst, &p)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(w*h), "ns/px")
}

// BenchmarkEncodePNG is the cost of the PNG the camera sends per 12 MP
// frame (not part of the render target; reported for context).
func BenchmarkEncodePNG(b *testing.B) {
	const w, h = 4000, 3000
	pix := make([]uint16, w*h)
	for i := range pix {
		pix[i] = uint16(i * 7919)
	}
	b.SetBytes(2 * w * h)
	for b.Loop() {
		if _, err := EncodePNG(pix, w, h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderTransitionFrame renders a 12 MP frame exposed while the
// filter wheel moved: two layers mixed.
func BenchmarkRenderTransitionFrame(b *testing.B) {
	s := benchSim(b)
	benchScene.Layer(light.Band415, light.FilterNone)
	shares := []LightShare{
		{Band: light.Band415, Filter: light.FilterYellow, Weight: 0.6},
		{Band: light.Band415, Filter: light.FilterNone, Weight: 0.4},
	}
	w, h := s.width, s.hgt
	dst := make([]uint16, w*h)
	var n uint64
	for b.Loop() {
		n++
		f := &Frame{Width: w, Height: h, Counter: n, Exposure: 20 * time.Millisecond, Gain: 1,
			Temperature: temperature(n), Light: shares, Offset: s.motion(n)}
		p := s.plan(f)
		s.renderParallel(dst, &p)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(w*h), "ns/px")
}
