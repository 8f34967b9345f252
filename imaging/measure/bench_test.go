package measure

import (
	"image"
	"math"
	"sync"
	"testing"

	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
	"github.com/exhibit-forensics/exhibit/imaging/imagingtest"
)

// benchFrames are 12 MP frames (4000 × 3000, the rig's sensor) of the
// default scene, seed 1, skin group 4, four bruises: 450 nm + orange and
// 850 nm + IR-pass.
var benchFrames = sync.OnceValues(func() ([2]*camera.Frame, error) {
	sc, err := scene.New(scene.Config{Seed: 1, Skin: 4, Bruises: 4})
	if err != nil {
		return [2]*camera.Frame{}, err
	}
	return [2]*camera.Frame{
		imagingtest.SimFrame(tb{}, sc, light.Band450, light.FilterOrange, 1),
		imagingtest.SimFrame(tb{}, sc, light.Band850, light.FilterIRPass, 2),
	}, nil
})

func benchParams() Params {
	sc, _ := scene.New(scene.Config{Seed: 1, Skin: 4, Bruises: 4})
	tr := sc.Truth()
	var scale []image.Point
	for _, p := range tr.Scale.OutlinePx {
		scale = append(scale, image.Pt(int(math.Round(p[0])), int(math.Round(p[1]))))
	}
	return Params{MMPerPixel: tr.Geometry.MMPerPixel, Exclude: [][]image.Point{scale}}
}

// BenchmarkMeasure12MP measures a 12 MP 450 nm + orange frame against its
// 850 nm reference with the default parameters (Reduce 4).
func BenchmarkMeasure12MP(b *testing.B) {
	fs, err := benchFrames()
	if err != nil {
		b.Fatal(err)
	}
	p := benchParams()
	b.SetBytes(int64(4 * len(fs[0].Pix)))
	for b.Loop() {
		res, err := Measure(fs[0], fs[1], p)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Bruises) == 0 {
			b.Fatal("no bruise found")
		}
	}
}

// BenchmarkMeasureAlone12MP measures the same band without a reference.
func BenchmarkMeasureAlone12MP(b *testing.B) {
	fs, err := benchFrames()
	if err != nil {
		b.Fatal(err)
	}
	p := benchParams()
	for b.Loop() {
		if _, err := Measure(fs[0], nil, p); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFullResolution measures the benchmark's 12 MP frames with the default
// parameters (Reduce 4): every bruise found, each area within ±10 % of the
// truth. The accuracy runs work at half resolution to save time; this shows
// the defaults hold at the rig's own.
func TestFullResolution(t *testing.T) {
	if testing.Short() {
		t.Skip("12 MP")
	}
	fs, err := benchFrames()
	if err != nil {
		t.Fatal(err)
	}
	res, err := Measure(fs[0], fs[1], benchParams())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scene.New(scene.Config{Seed: 1, Skin: 4, Bruises: 4})
	if err != nil {
		t.Fatal(err)
	}
	truth := sc.Truth().Bruises
	if len(res.Bruises) != len(truth) {
		t.Errorf("found %d bruises, the scene has %d", len(res.Bruises), len(truth))
	}
	for _, tb := range truth {
		found := false
		for _, b := range res.Bruises {
			if inside(tb.OutlinePx, b.CentroidPx[0], b.CentroidPx[1]) {
				found = true
				e := b.AreaMM2/tb.AreaMM2 - 1
				t.Logf("bruise %d (%.1f days): %.1f mm², truth %.1f (%+.1f %%); %.1f × %.1f mm", tb.ID, tb.AgeDays, b.AreaMM2, tb.AreaMM2, 100*e, b.MajorMM, b.MinorMM)
				if math.Abs(e) > 0.10 {
					t.Errorf("bruise %d: area %.1f mm², truth %.1f (%+.1f %%)", tb.ID, b.AreaMM2, tb.AreaMM2, 100*e)
				}
			}
		}
		if !found {
			t.Errorf("bruise %d not found", tb.ID)
		}
	}
}
