package scale

import "math"

// shape is the second moment (covariance) of a region or of weights over
// pixels: the 2×2 symmetric matrix [[xx, xy], [xy, yy]].
type shape struct{ xx, xy, yy float64 }

// eigen returns the eigenvalues l1 ≥ l2 and the direction of the first
// eigenvector, in radians from the x axis (image coordinates, y down).
func (s shape) eigen() (l1, l2, angle float64) {
	m := (s.xx + s.yy) / 2
	d := math.Hypot((s.xx-s.yy)/2, s.xy)
	return m + d, m - d, 0.5 * math.Atan2(2*s.xy, s.xx-s.yy)
}

// ratio is the square root of the eigenvalue ratio: the axis ratio of the
// ellipse the shape describes (1 for a circle).
func (s shape) ratio() float64 {
	l1, l2, _ := s.eigen()
	if l1 <= 0 || l2 <= 0 {
		return 0
	}
	return math.Sqrt(l2 / l1)
}

// scaled returns k·s.
func (s shape) scaled(k float64) shape { return shape{s.xx * k, s.xy * k, s.yy * k} }

// relDiff is the Frobenius norm of a−b relative to that of b.
func relDiff(a, b shape) float64 {
	n := math.Sqrt(b.xx*b.xx + 2*b.xy*b.xy + b.yy*b.yy)
	dx, dxy, dy := a.xx-b.xx, a.xy-b.xy, a.yy-b.yy
	return math.Sqrt(dx*dx+2*dxy*dxy+dy*dy) / n
}

// affine is a 2×2 linear map [[a, b], [c, d]] from plane millimetres (the
// scale's own axes) to image pixels.
type affine struct{ a, b, c, d float64 }

// metric returns M·Mᵀ: the shape into which M maps the unit disc's
// second moment (times 4: a unit disc has second moment I/4).
func (m affine) metric() shape {
	return shape{m.a*m.a + m.b*m.b, m.a*m.c + m.b*m.d, m.c*m.c + m.d*m.d}
}

// singular returns M's singular values s1 ≥ s2 and the image direction
// (radians from the x axis) of the first left singular vector: the
// direction in which a millimetre covers the most pixels.
func (m affine) singular() (s1, s2, angle float64) {
	l1, l2, ang := m.metric().eigen()
	return math.Sqrt(max(l1, 0)), math.Sqrt(max(l2, 0)), ang
}

// polygonMoments returns the area, centroid and second central moment of
// the polygon through pts (Green's theorem). The area is signed by the
// orientation; the moments are normalised by it, so either orientation
// gives the same centroid and shape.
func polygonMoments(xs, ys []float64) (area, cx, cy float64, s shape) {
	var a, mx, my, mxx, mxy, myy float64
	n := len(xs)
	for i := range n {
		j := (i + 1) % n
		x0, y0, x1, y1 := xs[i], ys[i], xs[j], ys[j]
		cr := x0*y1 - x1*y0
		a += cr
		mx += (x0 + x1) * cr
		my += (y0 + y1) * cr
		mxx += (x0*x0 + x0*x1 + x1*x1) * cr
		myy += (y0*y0 + y0*y1 + y1*y1) * cr
		mxy += (x0*y1 + 2*x0*y0 + 2*x1*y1 + x1*y0) * cr
	}
	a /= 2
	if a == 0 {
		return 0, 0, 0, shape{}
	}
	cx, cy = mx/(6*a), my/(6*a)
	s = shape{mxx/(12*a) - cx*cx, mxy/(24*a) - cx*cy, myy/(12*a) - cy*cy}
	return math.Abs(a), cx, cy, s
}
