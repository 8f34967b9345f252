package measure

import (
	"math"
)

// baselineContrast fits the skin baseline (a polynomial of the given degree
// in x and y to the log of the band, over skin, three times with outliers
// left out) and returns the contrast map 1 − band/baseline, 0 off the skin.
func baselineContrast(band []float32, skin []bool, w, h, degree int) []float32 {
	terms := polyTerms(degree)
	logb := make([]float64, len(band))
	use := make([]bool, len(band))
	for i, v := range band {
		if v > 0 {
			logb[i] = math.Log(float64(v))
			use[i] = skin[i]
		}
	}
	coef := make([]float64, len(terms))
	basis := make([]float64, len(terms))
	fit := func(i int) float64 {
		polyBasis(terms, i%w, i/w, w, h, basis)
		var s float64
		for k, c := range coef {
			s += c * basis[k]
		}
		return s
	}
	for iter := range 3 {
		if iter > 0 {
			// Leave out what the last fit calls bruise or glare.
			var res []float64
			for i := range logb {
				if skin[i] && band[i] > 0 && (i%w)%2 == 0 && (i/w)%2 == 0 {
					res = append(res, logb[i]-fit(i))
				}
			}
			med := median(res)
			for j := range res {
				res[j] = math.Abs(res[j] - med)
			}
			sigma := 1.4826 * median(res)
			for i := range logb {
				if !skin[i] || band[i] <= 0 {
					continue
				}
				d := logb[i] - fit(i) - med
				use[i] = d > -2*sigma && d < 2.5*sigma
			}
		}
		coef = leastSquares(terms, logb, use, w, h)
	}
	out := make([]float32, len(band))
	for i, v := range band {
		if skin[i] {
			out[i] = float32(1 - float64(v)/math.Exp(fit(i)))
		}
	}
	return out
}

// polyTerms are the exponents (i, j) of x^i·y^j with i + j ≤ degree.
func polyTerms(degree int) [][2]int {
	var t [][2]int
	for d := 0; d <= degree; d++ {
		for i := d; i >= 0; i-- {
			t = append(t, [2]int{i, d - i})
		}
	}
	return t
}

// polyBasis evaluates the terms at pixel (x, y), coordinates mapped to
// −1…1 so that the normal equations stay well conditioned.
func polyBasis(terms [][2]int, x, y, w, h int, out []float64) {
	u := 2*(float64(x)+0.5)/float64(w) - 1
	v := 2*(float64(y)+0.5)/float64(h) - 1
	for k, t := range terms {
		out[k] = ipow(u, t[0]) * ipow(v, t[1])
	}
}

func ipow(x float64, n int) float64 {
	r := 1.0
	for range n {
		r *= x
	}
	return r
}

// leastSquares solves the normal equations for the pixels in use, in raster
// order (a fixed summation order: the same bytes every run).
func leastSquares(terms [][2]int, z []float64, use []bool, w, h int) []float64 {
	n := len(terms)
	a := make([]float64, n*n)
	b := make([]float64, n)
	basis := make([]float64, n)
	for i, ok := range use {
		if !ok {
			continue
		}
		polyBasis(terms, i%w, i/w, w, h, basis)
		for r := range n {
			b[r] += basis[r] * z[i]
			for c := r; c < n; c++ {
				a[r*n+c] += basis[r] * basis[c]
			}
		}
	}
	for r := range n {
		for c := range r {
			a[r*n+c] = a[c*n+r]
		}
	}
	return solve(a, b, n)
}

// solve solves a·x = b by Gaussian elimination with partial pivoting; a
// singular system (no skin to fit) gives zeros.
func solve(a, b []float64, n int) []float64 {
	for col := range n {
		p := col
		for r := col + 1; r < n; r++ {
			if math.Abs(a[r*n+col]) > math.Abs(a[p*n+col]) {
				p = r
			}
		}
		if a[p*n+col] == 0 {
			return make([]float64, n)
		}
		if p != col {
			for c := range n {
				a[p*n+c], a[col*n+c] = a[col*n+c], a[p*n+c]
			}
			b[p], b[col] = b[col], b[p]
		}
		for r := col + 1; r < n; r++ {
			f := a[r*n+col] / a[col*n+col]
			for c := col; c < n; c++ {
				a[r*n+c] -= f * a[col*n+c]
			}
			b[r] -= f * b[col]
		}
	}
	x := make([]float64, n)
	for r := n - 1; r >= 0; r-- {
		s := b[r]
		for c := r + 1; c < n; c++ {
			s -= a[r*n+c] * x[c]
		}
		x[r] = s / a[r*n+r]
	}
	return x
}
