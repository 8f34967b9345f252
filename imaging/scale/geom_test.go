package scale

import (
	"math"
	"testing"
)

func TestPolygonMomentsOfAnEllipse(t *testing.T) {
	// An ellipse with semi-axes 40 and 25, turned 30°, centred at (100, 50):
	// area πab, second moments a²/4 and b²/4 along its axes.
	const a, b, th = 40.0, 25.0, math.Pi / 6
	var xs, ys []float64
	for i := range 720 {
		p := 2 * math.Pi * float64(i) / 720
		u, v := a*math.Cos(p), b*math.Sin(p)
		xs = append(xs, 100+u*math.Cos(th)-v*math.Sin(th))
		ys = append(ys, 50+u*math.Sin(th)+v*math.Cos(th))
	}
	area, cx, cy, s := polygonMoments(xs, ys)
	if math.Abs(area/(math.Pi*a*b)-1) > 1e-3 || math.Abs(cx-100) > 1e-9 || math.Abs(cy-50) > 1e-9 {
		t.Fatalf("area %.2f centre (%.3f, %.3f), want %.2f at (100, 50)", area, cx, cy, math.Pi*a*b)
	}
	l1, l2, ang := s.eigen()
	if math.Abs(l1/(a*a/4)-1) > 1e-3 || math.Abs(l2/(b*b/4)-1) > 1e-3 || math.Abs(ang-th) > 1e-6 {
		t.Errorf("moments %.2f %.2f at %.4f rad, want %.2f %.2f at %.4f", l1, l2, ang, a*a/4, b*b/4, th)
	}
	if r := s.ratio(); math.Abs(r-b/a) > 1e-3 {
		t.Errorf("ratio %.4f, want %.4f", r, b/a)
	}
}

func TestAffineSingularValues(t *testing.T) {
	// R(φ)·diag(s1, s2)·R(ψ) has singular values s1, s2 and its first left
	// singular vector at φ.
	for _, c := range []struct{ s1, s2, phi, psi float64 }{
		{10, 10 * math.Cos(0.3), 0.4, -1.1}, {17.7, 12, -0.7, 2.0}, {5, 5, 0, 0.5},
	} {
		cp, sp, cq, sq := math.Cos(c.phi), math.Sin(c.phi), math.Cos(c.psi), math.Sin(c.psi)
		m := affine{
			cp*c.s1*cq - sp*c.s2*sq, -cp*c.s1*sq - sp*c.s2*cq,
			sp*c.s1*cq + cp*c.s2*sq, -sp*c.s1*sq + cp*c.s2*cq,
		}
		s1, s2, ang := m.singular()
		if math.Abs(s1-c.s1) > 1e-9 || math.Abs(s2-c.s2) > 1e-9 {
			t.Errorf("%+v: singular values %.6f %.6f", c, s1, s2)
		}
		if c.s1 != c.s2 && math.Abs(math.Remainder(ang-c.phi, math.Pi)) > 1e-9 {
			t.Errorf("%+v: axis %.6f rad, want %.6f", c, ang, c.phi)
		}
	}
}
