package scene

import "math"

// ABFO No. 2 geometry. The domain notes give the outline (L-shaped,
// 105 × 105 mm), millimetre marks, three circles, 18 % grey areas and
// 1 cm black/white bars; the arm width, circle size and placement of the
// features below are assumptions of this simulator, recorded in the truth.
const (
	ScaleLengthMM  = 105.0 // each arm, outer edge
	ScaleArmMM     = 20.0  // arm width (assumed)
	CircleRadiusMM = 5.0   // outer radius of each circle (assumed)
	circleRingMM   = 0.8   // ring width (assumed)
	barStripMM     = 3.0   // width of the 1 cm bar strip along the outer edges
	tickWidthMM    = 0.2
	albedoWhite    = 0.85
	albedoBlack    = 0.04
	albedoGrey     = 0.18 // the 18 % grey areas
)

// CircleCentresMM are the circles' centres in the scale's own frame: a runs
// along the horizontal arm from the outer corner, b along the vertical arm.
var CircleCentresMM = [3][2]float64{{10, 10}, {ScaleLengthMM - 10, 10}, {10, ScaleLengthMM - 10}}

// scalePattern evaluates the scale at (a, b) mm in its own frame. inside
// reports whether the point is on the scale; fluor is 1 on the fluorescent
// white base, 0 on print.
func scalePattern(a, b float64) (inside bool, albedo, fluor float64) {
	onH := a >= 0 && a <= ScaleLengthMM && b >= 0 && b <= ScaleArmMM
	onV := a >= 0 && a <= ScaleArmMM && b >= 0 && b <= ScaleLengthMM
	if !onH && !onV {
		return false, 0, 0
	}
	black := func() (bool, float64, float64) { return true, albedoBlack, 0 }
	// Circles (rings).
	for _, c := range CircleCentresMM {
		d := math.Hypot(a-c[0], b-c[1])
		if d <= CircleRadiusMM && d >= CircleRadiusMM-circleRingMM {
			return black()
		}
	}
	// 1 cm black/white bars along the outer edges, from the inner corner.
	if onH && b <= barStripMM && a >= ScaleArmMM {
		if int(math.Floor((a-ScaleArmMM)/10))%2 == 0 {
			return black()
		}
		return true, albedoWhite, 1
	}
	if onV && a <= barStripMM && b >= ScaleArmMM {
		if int(math.Floor((b-ScaleArmMM)/10))%2 == 0 {
			return black()
		}
		return true, albedoWhite, 1
	}
	// Millimetre marks along the inner edges, zero at the inner corner.
	if onH && a >= ScaleArmMM-tickWidthMM/2 && tick(a-ScaleArmMM, ScaleArmMM-b) {
		return black()
	}
	if onV && b >= ScaleArmMM-tickWidthMM/2 && tick(b-ScaleArmMM, ScaleArmMM-a) {
		return black()
	}
	// 18 % grey areas in the middle of each arm.
	if (onH && a >= 35 && a <= 80 && b >= 5 && b <= 12) || (onV && b >= 35 && b <= 80 && a >= 5 && a <= 12) {
		return true, albedoGrey, 0
	}
	return true, albedoWhite, 1
}

// tick reports whether a point at distance along (mm from zero) and depth
// from the inner edge is on a millimetre mark: 1.5 mm long each mm, 2.5 mm
// each 5 mm, 3.5 mm each 10 mm.
func tick(along, depth float64) bool {
	if along < -tickWidthMM/2 || along > ScaleLengthMM-ScaleArmMM+tickWidthMM/2 || depth < 0 {
		return false
	}
	k := math.Round(along)
	if math.Abs(along-k) > tickWidthMM/2 {
		return false
	}
	length := 1.5
	switch {
	case int(k)%10 == 0:
		length = 3.5
	case int(k)%5 == 0:
		length = 2.5
	}
	return depth <= length
}

// scaleFluorescence is the relative fluorescence of the scale's white base
// under excitation at w (an optical brightener: strong in the UV and
// violet, weaker in the blue).
func scaleFluorescence(w wl) float64 {
	switch w {
	case nm365:
		return 0.06
	case nm415:
		return 0.05
	case nm450:
		return 0.025
	case nm540:
		return 0.003
	}
	return 0
}
