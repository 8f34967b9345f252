package quality_test

import (
	"testing"

	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
	"github.com/exhibit-forensics/exhibit/imaging/quality"
	"github.com/exhibit-forensics/exhibit/imaging/scale/scaletest"
)

// frames12MP returns two 12 MP (4000 × 3000) 16-bit frames of the
// simulated rig, white light and 415 nm behind the yellow filter, with hand
// motion between them.
func frames12MP(b *testing.B) (ref, f *camera.Frame) {
	b.Helper()
	r := rig(b, scene.Config{Seed: 9, Skin: 4}, 4)
	ref, _ = r.Capture(b, scaletest.Shot{Band: light.BandWhite})
	f, _ = r.Capture(b, scaletest.Shot{Band: light.Band415, Filter: light.FilterYellow})
	return ref, f
}

func BenchmarkFocus12MP(b *testing.B) {
	_, f := frames12MP(b)
	b.ResetTimer()
	for range b.N {
		if _, err := (quality.Thresholds{}).Focus(f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExposure12MP(b *testing.B) {
	_, f := frames12MP(b)
	b.ResetTimer()
	for range b.N {
		if _, _, err := (quality.Thresholds{}).Exposure(f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMotion12MP(b *testing.B) {
	ref, f := frames12MP(b)
	b.ResetTimer()
	for range b.N {
		if _, err := (quality.Thresholds{}).Motion(ref, f, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScale12MP(b *testing.B) {
	_, f := frames12MP(b)
	b.ResetTimer()
	for range b.N {
		if g, _, err := (quality.Thresholds{}).Scale(f); err != nil || g.Level == quality.Fail {
			b.Fatal(g, err)
		}
	}
}

func BenchmarkFrame12MP(b *testing.B) {
	ref, f := frames12MP(b)
	b.ResetTimer()
	for range b.N {
		if _, _, err := (quality.Thresholds{}).Frame(f, ref); err != nil {
			b.Fatal(err)
		}
	}
}
