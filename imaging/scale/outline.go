package scale

import (
	"image"
	"math"
)

// ABFO No. 2 outer size: each arm 105 mm long at its outer edge. The arm
// width is not in the published description this package works from; 20 mm
// is assumed (as the simulated rig draws it), and callers widen the outline
// by a margin.
const (
	LengthMM = 105.0
	ArmMM    = 20.0
)

// Outline returns the scale's L-shaped outline in frame pixels, mapped
// from its own millimetres through the affine view its three circles give
// (corner circle at (c, c) mm from the outer corner, c = (LengthMM −
// CentreDistanceMM) / 2): what a measurement excludes as not skin.
func (r *Result) Outline(g Geometry) []image.Point {
	if g.CentreDistanceMM == 0 {
		g = ABFO2
	}
	d := g.CentreDistanceMM
	c := (LengthMM - d) / 2
	o, a, b := r.Circles[0], r.Circles[1], r.Circles[2]
	at := func(x, y float64) image.Point {
		u, v := (x-c)/d, (y-c)/d
		px := o.X + u*(a.X-o.X) + v*(b.X-o.X)
		py := o.Y + u*(a.Y-o.Y) + v*(b.Y-o.Y)
		return image.Pt(int(math.Round(px-0.5)), int(math.Round(py-0.5)))
	}
	return []image.Point{at(0, 0), at(LengthMM, 0), at(LengthMM, ArmMM), at(ArmMM, ArmMM), at(ArmMM, LengthMM), at(0, LengthMM)}
}
