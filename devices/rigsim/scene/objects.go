package scene

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// bruise is one bruise, defined in plane millimetres.
type bruise struct {
	id     int
	cu, cv float64                         // centre
	a, b   float64                         // semi-axes
	orient float64                         // radians, major axis from the u axis
	harm   [4]struct{ amp, phase float64 } // outline harmonics k = 2..5
	age    float64                         // days
	depth  float64                         // mm
	att    attenuation
	m      objMap // a: haemoglobin weight, b: bilirubin weight
}

// softEdge is the half-width of a bruise's edge, as a fraction of its
// radius: the weight falls from 1 to 0 between 1−softEdge and 1+softEdge of
// the outline, crossing 0.5 on it.
const softEdge = 0.12

// rho is the outline's radius in the bruise's normalised frame at angle θ.
func (b *bruise) rho(theta float64) float64 {
	r := 1.0
	for i, h := range b.harm {
		r += h.amp * math.Cos(float64(i+2)*theta+h.phase)
	}
	return r
}

// maxRho bounds rho.
func (b *bruise) maxRho() float64 {
	r := 1.0
	for _, h := range b.harm {
		r += math.Abs(h.amp)
	}
	return r
}

// outlinePoint is the point of the contour at fraction f of the outline
// (f = 1: the outline itself) at angle θ, in plane mm.
func (b *bruise) outlinePoint(theta, f float64) (u, v float64) {
	r := b.rho(theta) * f
	x, y := b.a*r*math.Cos(theta), b.b*r*math.Sin(theta)
	c, s := math.Cos(b.orient), math.Sin(b.orient)
	return b.cu + c*x - s*y, b.cv + s*x + c*y
}

// areaMM2 is the area inside the contour at fraction f: a·b·f²·½∫ρ²dθ =
// π·a·b·f²·(1 + ½Σamp²).
func (b *bruise) areaMM2(f float64) float64 {
	s := 1.0
	for _, h := range b.harm {
		s += h.amp * h.amp / 2
	}
	return math.Pi * b.a * b.b * f * f * s
}

// radius bounds the bruise's extent including its soft edge.
func (b *bruise) radius() float64 { return b.a * b.maxRho() * (1 + softEdge) }

// weights returns the haemoglobin and bilirubin weights at plane (u, v).
func (b *bruise) weights(u, v float64) (hb, bil float64) {
	c, s := math.Cos(b.orient), math.Sin(b.orient)
	du, dv := u-b.cu, v-b.cv
	x, y := (c*du+s*dv)/b.a, (-s*du+c*dv)/b.b
	r := math.Hypot(x, y)
	if r > b.maxRho()*(1+softEdge) {
		return 0, 0
	}
	t := r / b.rho(math.Atan2(y, x))
	out := 1 - smoothstep(1-softEdge, 1+softEdge, t)
	cf := coreFraction(b.age)
	inCore := 1 - smoothstep(cf-softEdge, cf+softEdge, t)
	return inCore, out * (0.3 + 0.7*(1-inCore))
}

func smoothstep(e0, e1, x float64) float64 {
	t := clamp01((x - e0) / (e1 - e0))
	return t * t * (3 - 2*t)
}

// spot is a specular highlight.
type spot struct{ u, v, sigma, peak float64 }

// scalePose places the ABFO scale on the plane: its outer corner at
// (cu, cv); its a axis (horizontal arm) along (cos ψ, sin ψ), its b axis
// (vertical arm) along (sin ψ, −cos ψ).
type scalePose struct {
	cu, cv, psi float64
}

func (p scalePose) toPlane(a, b float64) (u, v float64) {
	c, s := math.Cos(p.psi), math.Sin(p.psi)
	return p.cu + a*c + b*s, p.cv + a*s - b*c
}

func (p scalePose) fromPlane(u, v float64) (a, b float64) {
	c, s := math.Cos(p.psi), math.Sin(p.psi)
	du, dv := u-p.cu, v-p.cv
	return du*c + dv*s, du*s - dv*c
}

// corners are the L's outline vertices in the scale frame.
var scaleCorners = [][2]float64{{0, 0}, {ScaleLengthMM, 0}, {ScaleLengthMM, ScaleArmMM}, {ScaleArmMM, ScaleArmMM}, {ScaleArmMM, ScaleLengthMM}, {0, ScaleLengthMM}}

func (s *Scene) placeScale(rng *rand.Rand) error {
	wmm := float64(s.cfg.Width) * s.mmPx
	hmm := float64(s.cfg.Height) * s.mmPx
	// Draw the pose first, so that the sequence does not depend on
	// whether it fits; then nudge it into the frame.
	jx, jy, psi := rng.Float64(), rng.Float64(), (rng.Float64()*2-1)*8*math.Pi/180
	s.scale = scalePose{cu: -wmm/2 + 6 + 10*jx, cv: hmm/2 - 6 - 10*jy, psi: psi}
	for range 200 {
		if s.scaleFits() {
			return nil
		}
		// Move towards the centre until it fits.
		s.scale.cu *= 0.97
		s.scale.cv *= 0.97
	}
	return fmt.Errorf("%w for the %.0f mm ABFO scale in a %.0f × %.0f mm field", errNoRoom, ScaleLengthMM, wmm, hmm)
}

func (s *Scene) scaleFits() bool {
	for _, c := range scaleCorners {
		u, v := s.scale.toPlane(c[0], c[1])
		if !s.inFrame(u, v, 4) {
			return false
		}
	}
	return true
}

// scaleDistance is the distance from plane (u, v) to the scale's L (0
// inside).
func (s *Scene) scaleDistance(u, v float64) float64 {
	a, b := s.scale.fromPlane(u, v)
	rect := func(a0, b0, a1, b1 float64) float64 {
		da := math.Max(0, math.Max(a0-a, a-a1))
		db := math.Max(0, math.Max(b0-b, b-b1))
		return math.Hypot(da, db)
	}
	return math.Min(rect(0, 0, ScaleLengthMM, ScaleArmMM), rect(0, 0, ScaleArmMM, ScaleLengthMM))
}

func (s *Scene) placeBruises(rng *rand.Rand, n int) error {
	wmm := float64(s.cfg.Width) * s.mmPx
	hmm := float64(s.cfg.Height) * s.mmPx
	for i := range n {
		b := &bruise{id: i + 1}
		// Shape and history are drawn before the position, so that a
		// retry of the position does not change them.
		major := 15 + 30*rng.Float64()
		if lim := 0.3 * math.Min(wmm, hmm); major > lim {
			major = lim
		}
		b.a = major / 2
		b.b = b.a * (0.55 + 0.35*rng.Float64())
		b.orient = rng.Float64() * math.Pi
		for k := range b.harm {
			b.harm[k].amp = 0.08 * rng.Float64() / float64(k+1)
			b.harm[k].phase = rng.Float64() * 2 * math.Pi
		}
		b.age = 0.5 + 13.5*rng.Float64()*rng.Float64() // more fresh than old
		b.depth = 0.05 + 0.45*rng.Float64()*rng.Float64()
		b.att = bruiseAttenuation(b.age, b.depth)
		placed := false
		for range 300 {
			b.cu = (rng.Float64() - 0.5) * wmm
			b.cv = (rng.Float64() - 0.5) * hmm
			if s.bruiseFits(b) {
				placed = true
				break
			}
		}
		if !placed {
			break
		}
		s.bruises = append(s.bruises, b)
	}
	if len(s.bruises) == 0 {
		return fmt.Errorf("%w for a bruise beside the scale in a %dx%d frame", errNoRoom, s.cfg.Width, s.cfg.Height)
	}
	return nil
}

func (s *Scene) bruiseFits(b *bruise) bool {
	r := b.radius()
	pad := 8 + float64(s.cfg.Margin)
	for k := range 16 {
		th := float64(k) * math.Pi / 8
		if !s.inFrame(b.cu+r*math.Cos(th), b.cv+r*math.Sin(th), pad) {
			return false
		}
	}
	if s.scaleDistance(b.cu, b.cv) < r+5 {
		return false
	}
	for _, o := range s.bruises {
		if math.Hypot(b.cu-o.cu, b.cv-o.cv) < r+o.radius()+3 {
			return false
		}
	}
	return true
}

// buildBruiseMap renders a bruise's weights over its bounding box.
func (s *Scene) buildBruiseMap(b *bruise) {
	r := b.radius()
	x0, y0, x1, y1 := s.planeBoxToLayer([][2]float64{{b.cu - r, b.cv - r}, {b.cu + r, b.cv - r}, {b.cu - r, b.cv + r}, {b.cu + r, b.cv + r}})
	m := objMap{x0: x0, y0: y0, w: x1 - x0, h: y1 - y0}
	m.a = make([]float32, m.w*m.h)
	m.b = make([]float32, m.w*m.h)
	parallelRows(0, m.h, func(ra, rb int) {
		for j := ra; j < rb; j++ {
			for i := range m.w {
				u, v := s.layerPlane(x0+i, y0+j)
				hb, bil := b.weights(u, v)
				m.a[j*m.w+i] = float32(hb)
				m.b[j*m.w+i] = float32(bil)
			}
		}
	})
	b.m = m
}

// scaleSuper is the supersampling of the scale's edges (n × n per pixel).
const scaleSuper = 3

// buildScaleMap renders the scale's coverage, mean albedo and mean
// fluorescence over its bounding box.
func (s *Scene) buildScaleMap() {
	var pts [][2]float64
	for _, c := range scaleCorners {
		u, v := s.scale.toPlane(c[0], c[1])
		pts = append(pts, [2]float64{u, v})
	}
	x0, y0, x1, y1 := s.planeBoxToLayer(pts)
	m := objMap{x0: x0, y0: y0, w: x1 - x0, h: y1 - y0}
	m.a = make([]float32, m.w*m.h)
	m.b = make([]float32, m.w*m.h)
	m.c = make([]float32, m.w*m.h)
	mg := float64(s.cfg.Margin)
	parallelRows(0, m.h, func(ra, rb int) {
		for j := ra; j < rb; j++ {
			for i := range m.w {
				var n, alb, fl float64
				for sy := range scaleSuper {
					for sx := range scaleSuper {
						x := float64(x0+i) - mg + (float64(sx)+0.5)/scaleSuper
						y := float64(y0+j) - mg + (float64(sy)+0.5)/scaleSuper
						a, b := s.scale.fromPlane(s.PlaneFromPixel(x, y))
						if in, al, f := scalePattern(a, b); in {
							n++
							alb += al
							fl += f
						}
					}
				}
				k := j*m.w + i
				if n > 0 {
					m.a[k] = float32(n / (scaleSuper * scaleSuper))
					m.b[k] = float32(alb / n)
					m.c[k] = float32(fl / n)
				}
			}
		}
	})
	s.scaleM = m
}

// buildShade renders illumination fall-off times skin texture.
func (s *Scene) buildShade(texSeed uint64) {
	s.shade = make([]float32, s.stride*s.rows)
	parallelRows(0, s.rows, func(a, b int) {
		for ly := a; ly < b; ly++ {
			for lx := range s.stride {
				u, v := s.layerPlane(lx, ly)
				tex := 1 + 0.04*valueNoise(texSeed, u/5, v/5) + 0.02*valueNoise(texSeed^0xa5a5, u, v)
				s.shade[ly*s.stride+lx] = float32(s.illumination(lx, ly) * tex)
			}
		}
	})
}

// illumination is the ring light's fall-off at a layer pixel: 1 at the
// centre, 0.7 in the corners.
func (s *Scene) illumination(lx, ly int) float64 {
	m := float64(s.cfg.Margin)
	w, h := float64(s.cfg.Width), float64(s.cfg.Height)
	dx := (float64(lx) - m + 0.5 - w/2) / (w / 2)
	dy := (float64(ly) - m + 0.5 - h/2) / (h / 2)
	return 1 - 0.15*(dx*dx+dy*dy)
}

// valueNoise is smooth lattice noise in [−1, 1] with unit cell size.
func valueNoise(seed uint64, x, y float64) float64 {
	fx, fy := math.Floor(x), math.Floor(y)
	ix, iy := int64(fx), int64(fy)
	tx, ty := x-fx, y-fy
	tx, ty = tx*tx*(3-2*tx), ty*ty*(3-2*ty)
	h := func(i, j int64) float64 {
		z := seed ^ uint64(i)*0x9e3779b97f4a7c15 ^ uint64(j)*0xc2b2ae3d27d4eb4f
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		z ^= z >> 31
		return float64(z>>11)/float64(1<<52) - 1
	}
	a := h(ix, iy) + tx*(h(ix+1, iy)-h(ix, iy))
	b := h(ix, iy+1) + tx*(h(ix+1, iy+1)-h(ix, iy+1))
	return a + ty*(b-a)
}
