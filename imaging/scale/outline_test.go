package scale_test

import (
	"math"
	"testing"

	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
	"github.com/exhibit-forensics/exhibit/imaging/scale"
	"github.com/exhibit-forensics/exhibit/imaging/scale/scaletest"
)

// TestOutline: the L outline mapped from the found circles lands on the
// simulator's own outline of the scale to within 2 pixels at every vertex,
// square and tilted.
func TestOutline(t *testing.T) {
	for _, tilt := range []float64{0, 25} {
		rig := scaletest.NewRig(t, scene.Config{Seed: 5, Skin: 3, Width: 2000, Height: 1500, TiltDeg: tilt, TiltAxisDeg: 70}, -1)
		f, _ := rig.Capture(t, scaletest.Shot{Band: light.BandWhite})
		r, err := scale.Find(f, scale.Geometry{})
		if err != nil {
			t.Fatal(err)
		}
		got := r.Outline(scale.Geometry{})
		want := rig.Scene.Truth().Scale.OutlinePx
		if len(got) != len(want) {
			t.Fatalf("tilt %v: %d vertices, truth %d", tilt, len(got), len(want))
		}
		// The truth may start the L at another vertex: find the rotation
		// that matches best.
		best := math.Inf(1)
		for k := range want {
			worst := 0.0
			for i, p := range got {
				w := want[(i+k)%len(want)]
				worst = math.Max(worst, math.Hypot(float64(p.X)+0.5-w[0], float64(p.Y)+0.5-w[1]))
			}
			best = math.Min(best, worst)
		}
		if best > 2 {
			t.Errorf("tilt %v: outline %v, truth %v: a vertex %.1f px off", tilt, got, want, best)
		}
	}
}
