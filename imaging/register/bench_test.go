package register

import (
	"context"
	"sync"
	"testing"

	"github.com/exhibit-forensics/exhibit/devices/light"
)

// The benchmark capture: a 12 MP (4000 × 3000) 16-bit cross-polarised
// reference and five bands, from the simulator, rendered once per process.
var (
	benchOnce sync.Once
	benchCap  capture
)

var benchShots = []bandShot{shotWhite, shot415Y, shot450O, shot850IR,
	{"450+yellow", light.Band450, light.FilterYellow}}

func benchCapture(b *testing.B) capture {
	benchOnce.Do(func() {
		r := newRig(b, 1, 3, 4000, 3000)
		benchCap.ref, _ = r.shoot(b, shotCrossP)
		for _, s := range benchShots {
			f, _ := r.shoot(b, s)
			benchCap.names = append(benchCap.names, s.name)
			benchCap.bands = append(benchCap.bands, f)
		}
	})
	return benchCap
}

// BenchmarkRegister is the time to register one 12 MP band (estimate and
// warp), for each of five bands, to a reference prepared once. Its median
// over -count=5 is the figure docs quote.
func BenchmarkRegister(b *testing.B) {
	c := benchCapture(b)
	reg, err := New(c.ref, Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer reg.Close()
	for i, band := range c.bands {
		b.Run(c.names[i], func(b *testing.B) {
			for b.Loop() {
				if _, err := reg.Register(context.Background(), band); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParts splits a band's registration: preparing the reference
// (once per capture), estimating one band's warp, and applying it.
func BenchmarkParts(b *testing.B) {
	c := benchCapture(b)
	b.Run("reference", func(b *testing.B) {
		for b.Loop() {
			reg, err := New(c.ref, Config{})
			if err != nil {
				b.Fatal(err)
			}
			reg.Close()
		}
	})
	reg, err := New(c.ref, Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer reg.Close()
	band := c.bands[1]
	est, err := reg.Estimate(context.Background(), band)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("estimate", func(b *testing.B) {
		for b.Loop() {
			if _, err := reg.Estimate(context.Background(), band); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("apply", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := Apply(band, est.Warp); err != nil {
				b.Fatal(err)
			}
		}
	})
}
