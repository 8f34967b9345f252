package scale_test

import (
	"testing"

	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
	"github.com/exhibit-forensics/exhibit/imaging/scale"
	"github.com/exhibit-forensics/exhibit/imaging/scale/scaletest"
)

// BenchmarkFind12MP finds the scale in a 12 MP (4000 × 3000) 16-bit frame
// of the simulated rig, 415 nm behind the yellow filter, tilted 15°.
func BenchmarkFind12MP(b *testing.B) {
	r := scaletest.NewRig(b, scene.Config{Seed: 9, Skin: 4, TiltDeg: 15, TiltAxisDeg: 40}, -1)
	f, _ := r.Capture(b, scaletest.Shot{Band: light.Band415, Filter: light.FilterYellow})
	b.ResetTimer()
	for range b.N {
		if _, err := scale.Find(f, scale.ABFO2); err != nil {
			b.Fatal(err)
		}
	}
}
