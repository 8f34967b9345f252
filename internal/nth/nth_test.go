package nth

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func same(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }

func sortedMedian(s []float64) float64 {
	c := slices.Clone(s)
	slices.Sort(c)
	n := len(c)
	if n%2 == 1 {
		return c[n/2]
	}
	return (c[n/2-1] + c[n/2]) / 2
}

// check compares Nth and Median with sorting, for every k.
func check(t *testing.T, s []float64) {
	t.Helper()
	want := slices.Clone(s)
	slices.Sort(want)
	for k := range s {
		c := slices.Clone(s)
		if got := Nth(c, k); !same(got, want[k]) {
			t.Fatalf("Nth(%v, %d) = %v, want %v", s, k, got, want[k])
		}
		for i := range c {
			if i < k && less(c[k], c[i]) || i > k && less(c[i], c[k]) {
				t.Fatalf("Nth(%v, %d) left %v unpartitioned", s, k, c)
			}
		}
	}
	if len(s) > 0 {
		if got, w := Median(slices.Clone(s)), sortedMedian(s); !same(got, w) {
			t.Fatalf("Median(%v) = %v, want %v", s, got, w)
		}
	}
}

func TestNth(t *testing.T) {
	nan := math.NaN()
	for _, s := range [][]float64{
		{1}, {2, 1}, {1, 1, 1, 1}, {3, 1, 2}, {nan, 1, nan, 0}, {math.Inf(1), math.Inf(-1), 0, -0.0},
		{5, 5, 5, 1, 1, 1, 9, 9}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {10, 9, 8, 7, 6, 5, 4, 3, 2, 1},
	} {
		check(t, s)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		s := make([]float64, 1+r.IntN(60))
		levels := 1 + r.IntN(6) // many duplicates, as in image data
		for i := range s {
			s[i] = float64(r.IntN(levels))
			if r.IntN(20) == 0 {
				s[i] = nan
			}
		}
		check(t, s)
	}
	// Large, with the float32 a focus measure uses.
	big := make([]float32, 100_001)
	for i := range big {
		big[i] = float32(r.IntN(1000))
	}
	c := slices.Clone(big)
	slices.Sort(c)
	if got := Median(slices.Clone(big)); got != c[len(c)/2] {
		t.Errorf("Median of 100001 = %v, want %v", got, c[len(c)/2])
	}
}

func FuzzNth(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, uint8(0))
	f.Fuzz(func(t *testing.T, b []byte, k uint8) {
		var s []float64
		for len(b) >= 8 {
			s = append(s, math.Float64frombits(binary.LittleEndian.Uint64(b)))
			b = b[8:]
		}
		if len(s) == 0 {
			return
		}
		check(t, s)
	})
}

func BenchmarkMedian(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	s := make([]float32, 400_000)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	b.Run("sort", func(b *testing.B) {
		for b.Loop() {
			c := slices.Clone(s)
			slices.Sort(c)
			_ = c[len(c)/2]
		}
	})
	b.Run("nth", func(b *testing.B) {
		for b.Loop() {
			_ = Median(slices.Clone(s))
		}
	})
}
