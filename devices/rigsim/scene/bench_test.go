package scene

import (
	"testing"

	"github.com/exhibit-forensics/exhibit/devices/light"
)

// BenchmarkPrepare12MP is the one-off cost of the default scene's
// per-pixel maps (texture, shading, bruise and scale maps).
func BenchmarkPrepare12MP(b *testing.B) {
	for b.Loop() {
		s, err := New(Config{Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		s.Prepare()
	}
}

// BenchmarkLayer12MP is the one-off cost of one band/filter layer at
// 12 MP, once the maps exist.
func BenchmarkLayer12MP(b *testing.B) {
	s, err := New(Config{Seed: 1, MaxLayers: 1})
	if err != nil {
		b.Fatal(err)
	}
	s.Prepare()
	pairs := []layerKey{{light.Band415, light.FilterYellow}, {light.BandWhite, light.FilterNone}}
	i := 0
	for b.Loop() {
		k := pairs[i%2]
		i++
		s.Layer(k.b, k.f) // MaxLayers 1: each call builds afresh
	}
}
