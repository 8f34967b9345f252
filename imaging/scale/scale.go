package scale

import (
	"errors"
	"fmt"
	"math"

	"github.com/exhibit-forensics/exhibit/devices/camera"
)

// ErrNoScale is wrapped by every error Find returns when the frame does not
// show the scale's three circles.
var ErrNoScale = errors.New("scale: no ABFO No. 2 scale found")

// Geometry is what Find knows about the printed scale.
type Geometry struct {
	// CentreDistanceMM is the distance between the centre of the corner
	// circle and the centre of each of the two circles at the ends of
	// the arms (the two legs of a right angle).
	CentreDistanceMM float64
	// CircleDiameterMM is the printed circles' outer diameter. It is used
	// only to tell the circles from other dark rings; the measurement
	// comes from the centres.
	CircleDiameterMM float64
}

// ABFO2 is the ABFO No. 2 scale: circles 10 mm across, centred 10 mm in
// from the corner and from each arm's end of a 105 mm L, so 85 mm apart
// along each arm.
var ABFO2 = Geometry{CentreDistanceMM: 85, CircleDiameterMM: 10}

// Circle is one of the scale's circles as seen in the frame: an ellipse
// when the camera is not square to the skin.
type Circle struct {
	// X, Y is the centre in pixels (pixel (0,0)'s centre at 0.5, 0.5; x
	// to the right, y down).
	X float64 `json:"x"`
	Y float64 `json:"y"`
	// Ratio is the minor/major axis ratio of the ring's ellipse; AngleDeg
	// the direction of its major axis (degrees from the x axis, turning
	// towards y, 0–180).
	Ratio    float64 `json:"axis_ratio"`
	AngleDeg float64 `json:"angle_deg"`
	// Contrast is how much darker the printed ring is than the white base
	// around it, in units of the pixel noise there.
	Contrast float64 `json:"contrast"`
}

// Result is a found scale and what it says about the camera's view of the
// skin.
type Result struct {
	// MMPerPixel is the scale along the tilt axis (the direction the tilt
	// does not foreshorten): what the frame would have everywhere if the
	// camera were square to the skin.
	MMPerPixel float64 `json:"mm_per_px"`
	// MMPerPixelAcross is the scale across the tilt axis, where the skin is
	// foreshortened: MMPerPixel / cos(TiltDeg).
	MMPerPixelAcross float64 `json:"mm_per_px_across"`
	// TiltDeg is the angle between the sensor and the skin (0 = square).
	// TiltAxisDeg is the image direction of the axis the skin is tilted
	// about (degrees from the x axis, turning towards y, 0–180);
	// meaningless when TiltDeg is near 0.
	TiltDeg     float64 `json:"tilt_deg"`
	TiltAxisDeg float64 `json:"tilt_axis_deg"`
	// EllipseTiltDeg is the tilt read from the mean axis ratio of the three
	// ring ellipses alone (axis ratio = cos tilt): a check on TiltDeg,
	// which comes from the circles' centres and is the more precise
	// (see the package documentation).
	EllipseTiltDeg float64 `json:"ellipse_tilt_deg"`
	// Circles are the corner circle first, then the one at the end of the
	// scale's first arm, then the one at the end of its second: seen print
	// side up, the second arm is a quarter turn anticlockwise from the
	// first (the first runs right when the second runs up).
	Circles [3]Circle `json:"circles"`
	// Confidence, 0–1, is how well the three circles agree with one scale
	// seen through one affine view (see the package documentation).
	Confidence float64 `json:"confidence"`

	m affine // plane mm (scale axes) to pixels
}

// LengthMM converts a displacement of (dx, dy) pixels in the frame into
// millimetres on the skin plane, through the map the circles' centres fix.
// It needs a Result that Find returned (a decoded one lacks the map and
// gives NaN).
func (r *Result) LengthMM(dx, dy float64) float64 {
	// Solve M·p = (dx, dy) for p in plane mm.
	m := r.m
	det := m.a*m.d - m.b*m.c
	if det == 0 {
		return math.NaN()
	}
	u := (m.d*dx - m.b*dy) / det
	v := (-m.c*dx + m.a*dy) / det
	return math.Hypot(u, v)
}

// AreaMM2 converts an area of px square pixels in the frame into square
// millimetres on the skin plane (each pixel covers MMPerPixel ×
// MMPerPixelAcross).
func (r *Result) AreaMM2(px float64) float64 {
	return px * r.MMPerPixel * r.MMPerPixelAcross
}

// String summarises the result in one line.
func (r *Result) String() string {
	return fmt.Sprintf("%.5f mm/px (%.5f across), tilt %.1f° about %.0f°, confidence %.2f",
		r.MMPerPixel, r.MMPerPixelAcross, r.TiltDeg, r.TiltAxisDeg, r.Confidence)
}

// Find locates the scale's three circles in a monochrome frame and measures
// the frame's scale and tilt from them. A zero Geometry means ABFO2.
// When the circles are not found the error wraps ErrNoScale.
func Find(f *camera.Frame, g Geometry) (*Result, error) {
	if g == (Geometry{}) {
		g = ABFO2
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("scale: %w", err)
	}
	if f.Channels != 1 {
		return nil, fmt.Errorf("scale: a %d-channel frame; Find works on monochrome frames", f.Channels)
	}
	if f.Width < 64 || f.Height < 64 {
		return nil, fmt.Errorf("%w: the frame is %d × %d pixels, too small", ErrNoScale, f.Width, f.Height)
	}
	cands, err := candidates(f)
	if err != nil {
		return nil, err
	}
	tri, err := pickTriple(cands, g)
	if err != nil {
		return nil, err
	}
	return measure(f, tri, g)
}
