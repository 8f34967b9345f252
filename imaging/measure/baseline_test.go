package measure

import (
	"math"
	"testing"
)

// TestBaselineRecoversPolynomial: a band that is exactly exp(polynomial)
// has contrast 0 everywhere, and a patch 10 % darker than it shows as 0.1,
// for every degree the fit allows.
func TestBaselineRecoversPolynomial(t *testing.T) {
	const w, h = 120, 90
	for _, deg := range []int{0, 1, 2, 4, 6} {
		band := make([]float32, w*h)
		skin := make([]bool, w*h)
		for y := range h {
			for x := range w {
				u, v := 2*(float64(x)+0.5)/w-1, 2*(float64(y)+0.5)/h-1
				l := 10.0
				if deg >= 1 {
					l += 0.2*u - 0.1*v
				}
				if deg >= 2 {
					l += 0.15 * u * v
				}
				if deg >= 4 {
					l -= 0.1 * u * u * v * v
				}
				f := math.Exp(l)
				if x >= 50 && x < 60 && y >= 40 && y < 50 {
					f *= 0.9
				}
				band[y*w+x] = float32(f)
				skin[y*w+x] = true
			}
		}
		c := baselineContrast(band, skin, skin, w, h, deg)
		for y := range h {
			for x := range w {
				want := 0.0
				if x >= 50 && x < 60 && y >= 40 && y < 50 {
					want = 0.1
				}
				if got := float64(c[y*w+x]); math.Abs(got-want) > 1e-4 {
					t.Fatalf("degree %d: contrast at (%d, %d) = %.6f, want %.1f", deg, x, y, got, want)
				}
			}
		}
	}
}
