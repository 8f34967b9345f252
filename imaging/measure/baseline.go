package measure

import (
	"math"
)

// baselineContrast fits the skin baseline (a polynomial of the given degree
// in x and y to the log of the band, over the pixels of skin, three times
// with outliers left out) and returns the contrast map 1 − band/baseline
// over the pixels of out, 0 elsewhere.
func baselineContrast(band []float32, skin, out []bool, w, h, degree int) []float32 {
	pw := newPowers(w, h, degree)
	logb := make([]float64, len(band))
	use := make([]bool, len(band))
	for i, v := range band {
		if v > 0 {
			logb[i] = math.Log(float64(v))
			use[i] = skin[i]
		}
	}
	var fit []float64
	for iter := range 3 {
		if iter > 0 {
			// Leave out what the last fit calls bruise or glare.
			var res []float64
			for i := range logb {
				if skin[i] && band[i] > 0 && (i%w)%2 == 0 && (i/w)%2 == 0 {
					res = append(res, logb[i]-fit[i])
				}
			}
			med := median(res)
			for j := range res {
				res[j] = math.Abs(res[j] - med)
			}
			// A floor for noise-free pictures (synthetic tests), where
			// the skin's residuals are rounding error.
			sigma := max(1.4826*median(res), 1e-6)
			for i := range logb {
				if !skin[i] || band[i] <= 0 {
					continue
				}
				d := logb[i] - fit[i] - med
				use[i] = d > -2*sigma && d < 2.5*sigma
			}
		}
		fit = pw.evaluate(pw.leastSquares(logb, use))
	}
	c := make([]float32, len(band))
	for i, v := range band {
		if out[i] {
			c[i] = float32(1 - float64(v)/math.Exp(fit[i]))
		}
	}
	return c
}

// powers holds the polynomial's terms x^i·y^j (i + j ≤ degree) and the
// powers of every column's and row's coordinate, mapped to −1…1 so that the
// normal equations stay well conditioned, up to twice the degree (the
// normal equations multiply two terms).
type powers struct {
	w, h, degree int
	terms        [][2]int
	u, v         [][]float64 // u[x][p] = ux^p, v[y][q] = vy^q
}

func newPowers(w, h, degree int) *powers {
	p := &powers{w: w, h: h, degree: degree}
	for d := 0; d <= degree; d++ {
		for i := d; i >= 0; i-- {
			p.terms = append(p.terms, [2]int{i, d - i})
		}
	}
	table := func(n int) [][]float64 {
		t := make([][]float64, n)
		for k := range t {
			c := 2*(float64(k)+0.5)/float64(n) - 1
			t[k] = make([]float64, 2*degree+1)
			x := 1.0
			for e := range t[k] {
				t[k][e] = x
				x *= c
			}
		}
		return t
	}
	p.u, p.v = table(w), table(h)
	return p
}

// leastSquares solves the normal equations for the pixels in use. The sums
// are separable — Σ ux^(i+i')·vy^(j+j') is, row by row, (Σ_x ux^(i+i'))·
// vy^(j+j') — so each pixel costs a few additions, not a term-by-term
// product; the order of summation is fixed, so the result is the same
// every run.
func (p *powers) leastSquares(z []float64, use []bool) []float64 {
	n, m := len(p.terms), 2*p.degree+1
	a := make([]float64, n*n)
	b := make([]float64, n)
	s := make([]float64, m)          // Σ_x u^e over the row's pixels in use
	t := make([]float64, p.degree+1) // Σ_x z·u^e
	for y := range p.h {
		clear(s)
		clear(t)
		any := false
		for x := range p.w {
			i := y*p.w + x
			if !use[i] {
				continue
			}
			any = true
			ux := p.u[x]
			for e := range s {
				s[e] += ux[e]
			}
			for e := range t {
				t[e] += z[i] * ux[e]
			}
		}
		if !any {
			continue
		}
		vy := p.v[y]
		for r, tr := range p.terms {
			b[r] += t[tr[0]] * vy[tr[1]]
			for c := r; c < n; c++ {
				tc := p.terms[c]
				a[r*n+c] += s[tr[0]+tc[0]] * vy[tr[1]+tc[1]]
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

// evaluate returns the polynomial with coefficients coef at every pixel.
func (p *powers) evaluate(coef []float64) []float64 {
	out := make([]float64, p.w*p.h)
	rc := make([]float64, p.degree+1) // Σ_j coef(i,j)·vy^j, per power of u
	for y := range p.h {
		clear(rc)
		for k, t := range p.terms {
			rc[t[0]] += coef[k] * p.v[y][t[1]]
		}
		row := out[y*p.w : (y+1)*p.w]
		for x := range row {
			ux := p.u[x]
			var f float64
			for i, c := range rc {
				f += c * ux[i]
			}
			row[x] = f
		}
	}
	return out
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
