package scale

import (
	"fmt"
	"math"
	"slices"

	"github.com/exhibit-forensics/exhibit/devices/camera"
)

// Ring windows, in units of the outline's radius (ρ = 1 on the printed
// circle's outer edge): the white base inside the ring, and the band that
// holds the ring with a margin of white base on either side.
const (
	baseOuter = 0.6
	ringInner = 0.7
	ringOuter = 1.15
)

// measure refines the three circles at full resolution and computes the
// result from them.
func measure(f *camera.Frame, tri [3]candidate, g Geometry) (*Result, error) {
	var res Result
	var rings [3]shape
	for i, c := range tri {
		circ, ring, err := refine(f, c)
		if err != nil {
			return nil, err
		}
		res.Circles[i], rings[i] = circ, ring
	}
	// Print side up, the horizontal arm's end comes first when turning
	// from it to the vertical arm's end is anticlockwise on the page — a
	// negative determinant in image coordinates, whose y runs down.
	if cross(res.Circles[0], res.Circles[1], res.Circles[2]) > 0 {
		res.Circles[1], res.Circles[2] = res.Circles[2], res.Circles[1]
		rings[1], rings[2] = rings[2], rings[1]
	}
	c := res.Circles
	res.m = affine{
		(c[1].X - c[0].X) / g.CentreDistanceMM, (c[2].X - c[0].X) / g.CentreDistanceMM,
		(c[1].Y - c[0].Y) / g.CentreDistanceMM, (c[2].Y - c[0].Y) / g.CentreDistanceMM,
	}
	s1, s2, axis := res.m.singular()
	if s2 <= 0 {
		return nil, fmt.Errorf("%w: the circles lie on one line", ErrNoScale)
	}
	res.MMPerPixel, res.MMPerPixelAcross = 1/s1, 1/s2
	res.TiltDeg = acosDeg(s2 / s1)
	res.TiltAxisDeg = math.Mod(axis*180/math.Pi+180, 180)
	var ratio float64
	for _, c := range c {
		ratio += c.Ratio / 3
	}
	res.EllipseTiltDeg = acosDeg(ratio)

	// Confidence: the rings' own shapes against the shape the centres
	// predict (a printed circle is round, so each ring's second moment is
	// proportional to M·Mᵀ), and the rings' contrast against the noise.
	want := res.m.metric()
	want = want.scaled(1 / (want.xx + want.yy))
	worst, minContrast := 0.0, math.Inf(1)
	for i, r := range rings {
		worst = max(worst, relDiff(r.scaled(1/(r.xx+r.yy)), want))
		minContrast = min(minContrast, c[i].Contrast)
	}
	res.Confidence = clamp01(1-worst/0.1) * clamp01(minContrast/10)
	return &res, nil
}

// cross is the z component of (b−a)×(c−a).
func cross(a, b, c Circle) float64 {
	return (b.X-a.X)*(c.Y-a.Y) - (b.Y-a.Y)*(c.X-a.X)
}

func acosDeg(r float64) float64 { return math.Acos(min(1, max(-1, r))) * 180 / math.Pi }

func clamp01(v float64) float64 { return min(1, max(0, v)) }

// refine measures one ring at full resolution. Around the candidate's
// outline it takes the white base inside the ring (its median W and noise
// σ) and the darkest tenth of the ring band (B), weighs every pixel of the
// band by how dark it is between the two — a ramp, so that pixels the edge
// crosses count in part and the centre comes out to a fraction of a pixel —
// and takes the weighted centroid and second moment. The window follows
// the centroid for three rounds.
func refine(f *camera.Frame, c candidate) (Circle, shape, error) {
	det := c.outer.xx*c.outer.yy - c.outer.xy*c.outer.xy
	l1, _, _ := c.outer.eigen()
	reach := 2 * math.Sqrt(l1) * ringOuter // outer semi-axis times the window
	cx, cy := c.x, c.y
	var ring shape
	var contrast float64
	for range 3 {
		x0, x1 := max(0, int(cx-reach)), min(f.Width, int(cx+reach)+2)
		y0, y1 := max(0, int(cy-reach)), min(f.Height, int(cy+reach)+2)
		if x1-x0 < 4 || y1-y0 < 4 {
			return Circle{}, shape{}, fmt.Errorf("%w: a circle lies at the frame's edge", ErrNoScale)
		}
		rho := func(x, y int) float64 {
			dx, dy := float64(x)+0.5-cx, float64(y)+0.5-cy
			q := (c.outer.yy*dx*dx - 2*c.outer.xy*dx*dy + c.outer.xx*dy*dy) / det
			return math.Sqrt(max(q, 0)) / 2
		}
		var base, band []float64
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				r := rho(x, y)
				v := float64(f.Pix[y*f.Width+x])
				switch {
				case r < baseOuter:
					base = append(base, v)
				case r >= ringInner && r <= ringOuter:
					band = append(band, v)
				}
			}
		}
		if len(base) < 8 || len(band) < 16 {
			return Circle{}, shape{}, fmt.Errorf("%w: a circle is too small to measure", ErrNoScale)
		}
		slices.Sort(base)
		slices.Sort(band)
		white := base[len(base)/2]
		for i := range base {
			base[i] = math.Abs(base[i] - white)
		}
		slices.Sort(base)
		sigma := max(1, 1.4826*base[len(base)/2])
		black := band[len(band)/10]
		span := white - black
		contrast = span / sigma
		if span <= 3*sigma {
			return Circle{}, shape{}, fmt.Errorf("%w: a circle's ring is not darker than the scale around it", ErrNoScale)
		}
		var sw, sx, sy, sxx, sxy, syy float64
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				r := rho(x, y)
				if r < ringInner || r > ringOuter {
					continue
				}
				d := (white - float64(f.Pix[y*f.Width+x])) / span
				w := clamp01((d - 0.15) / 0.7)
				if w == 0 {
					continue
				}
				px, py := float64(x)+0.5, float64(y)+0.5
				sw += w
				sx += w * px
				sy += w * py
				sxx += w * px * px
				sxy += w * px * py
				syy += w * py * py
			}
		}
		if sw == 0 {
			return Circle{}, shape{}, fmt.Errorf("%w: a circle's ring is empty", ErrNoScale)
		}
		cx, cy = sx/sw, sy/sw
		ring = shape{sxx/sw - cx*cx, sxy/sw - cx*cy, syy/sw - cy*cy}
	}
	_, _, ang := ring.eigen()
	return Circle{X: cx, Y: cy, Ratio: ring.ratio(), AngleDeg: math.Mod(ang*180/math.Pi+180, 180), Contrast: contrast}, ring, nil
}
