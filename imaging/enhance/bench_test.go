package enhance

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
	"github.com/exhibit-forensics/exhibit/imaging/imagingtest"
)

// fullBands are 12 MP frames (4000 × 3000, the rig's sensor) of the default
// scene, seed 1, skin group 4.
var fullBands = sync.OnceValues(func() (map[string]*camera.Frame, error) {
	sc, err := scene.New(scene.Config{Seed: 1, Skin: 4, Bruises: 4})
	if err != nil {
		return nil, err
	}
	m := map[string]*camera.Frame{}
	m["415y"] = imagingtest.SimFrame(tb{}, sc, light.Band415, light.FilterYellow, 1)
	m["450o"] = imagingtest.SimFrame(tb{}, sc, light.Band450, light.FilterOrange, 2)
	m["850"] = imagingtest.SimFrame(tb{}, sc, light.Band850, light.FilterNone, 3)
	return m, nil
})

func benchBands(b *testing.B) map[string]*camera.Frame {
	m, err := fullBands()
	if err != nil {
		b.Fatal(err)
	}
	return m
}

func BenchmarkCLAHE12MP(b *testing.B) {
	f := benchBands(b)["450o"]
	b.SetBytes(int64(2 * len(f.Pix)))
	for b.Loop() {
		if _, _, err := CLAHE(f, CLAHEParams{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRatio12MP(b *testing.B) {
	m := benchBands(b)
	b.SetBytes(int64(2 * len(m["450o"].Pix)))
	for b.Loop() {
		if _, _, err := Ratio(m["450o"], m["850"], RatioParams{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkComposite12MP(b *testing.B) {
	m := benchBands(b)
	b.SetBytes(int64(2 * len(m["450o"].Pix)))
	for b.Loop() {
		if _, _, err := Composite(m["850"], m["450o"], m["415y"], CompositeParams{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPreview12MP(b *testing.B) {
	f := benchBands(b)["415y"]
	for b.Loop() {
		if _, _, err := Preview(f, PreviewParams{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCLAHEDeterministicFullSize runs CLAHE three times on a 12 MP frame of
// seeded noise: OpenCV spreads CLAHE over its own worker threads (gocv
// v0.31.0 has no setNumThreads to stop it), and the bytes must not depend
// on how the work was shared.
func TestCLAHEDeterministicFullSize(t *testing.T) {
	if testing.Short() {
		t.Skip("12 MP")
	}
	rng := rand.New(rand.NewPCG(10, 10))
	f := &camera.Frame{Width: 4000, Height: 3000, Channels: 1, Pix: make([]uint16, 12_000_000), Meta: camera.Meta{BitDepth: 16}}
	for i := range f.Pix {
		f.Pix[i] = uint16(20000 + rng.IntN(20000) + (i%4000)*3)
	}
	var first string
	for i := range 3 {
		out, _, err := CLAHE(f, CLAHEParams{})
		if err != nil {
			t.Fatal(err)
		}
		_, sum := digest(t, out)
		if i == 0 {
			first = sum
		} else if sum != first {
			t.Fatalf("run %d: %s, first run %s", i+1, sum, first)
		}
	}
}
