package scene

import (
	"encoding/json"
	"io"
	"math"
	"regexp"

	"github.com/exhibit-forensics/exhibit/devices/light"
)

// TruthVersion is the version of the truth format.
const TruthVersion = 1

// Truth is what the scene really holds, for scoring imaging code. Pixel
// coordinates are frame coordinates with no hand motion (the camera
// simulator reports each frame's offset separately): x to the right, y
// down, pixel (0,0)'s centre at (0.5, 0.5). Plane coordinates are
// millimetres on the skin plane, origin at the point seen at the frame's
// centre. Numbers are rounded: pixels to 0.01, millimetres to 0.001,
// areas to 0.01 mm², contrasts to 0.001.
type Truth struct {
	Version   int           `json:"version"`
	Seed      uint64        `json:"seed"`
	SkinGroup int           `json:"skin_group"`
	Sensor    TruthSensor   `json:"sensor"`
	Geometry  TruthGeom     `json:"geometry"`
	Tilt      TruthTilt     `json:"tilt"`
	Bruises   []TruthBruise `json:"bruises"`
	Scale     TruthScale    `json:"scale"`
	Model     string        `json:"model"`
}

// TruthSensor is the frame size.
type TruthSensor struct {
	Width  int `json:"width"`
	Height int `json:"height"`
}

// TruthGeom is the camera geometry and the resulting scale.
type TruthGeom struct {
	SensorWidthMM float64 `json:"sensor_width_mm"`
	FocalMM       float64 `json:"focal_mm"`
	DistanceMM    float64 `json:"distance_mm"`
	// MMPerPixel is the scale with the plane parallel to the sensor.
	MMPerPixel float64 `json:"mm_per_px"`
	// Along and across the tilt axis (equal to MMPerPixel without tilt).
	MMPerPixelAlongAxis  float64 `json:"mm_per_px_along_tilt_axis"`
	MMPerPixelAcrossAxis float64 `json:"mm_per_px_across_tilt_axis"`
	// PlaneFromPixel is the affine map [a b c d e f]: u = a·x + b·y + c,
	// v = d·x + e·y + f.
	PlaneFromPixel [6]float64 `json:"plane_from_px"`
}

// TruthTilt is the plane's tilt.
type TruthTilt struct {
	Deg     float64 `json:"deg"`
	AxisDeg float64 `json:"axis_deg"`
}

// TruthBruise is one bruise.
type TruthBruise struct {
	ID             int     `json:"id"`
	AgeDays        float64 `json:"age_days"`
	DepthMM        float64 `json:"depth_mm"`
	MajorMM        float64 `json:"major_axis_mm"`
	MinorMM        float64 `json:"minor_axis_mm"`
	OrientationDeg float64 `json:"orientation_deg"`
	// Haemoglobin and Bilirubin are the amounts relative to a fresh bruise
	// and to a mature rim.
	Haemoglobin float64    `json:"haemoglobin"`
	Bilirubin   float64    `json:"bilirubin"`
	CentreMM    [2]float64 `json:"centre_mm"`
	CentrePx    [2]float64 `json:"centre_px"`
	// AreaMM2 is the area inside the outline (where the bruise's weight is
	// half its peak), on the plane. CoreAreaMM2: inside the haemoglobin
	// core's outline (equal to AreaMM2 while the bruise is fresh).
	AreaMM2     float64 `json:"area_mm2"`
	CoreAreaMM2 float64 `json:"core_area_mm2"`
	// AreaPx is the outline's area in the image.
	AreaPx float64 `json:"area_px"`
	// Outlines: 72 points, counter-clockwise on the plane.
	OutlineMM     [][2]float64 `json:"outline_mm"`
	OutlinePx     [][2]float64 `json:"outline_px"`
	CoreOutlinePx [][2]float64 `json:"core_outline_px"`
	// BBoxPx is [x0 y0 x1 y1] of the outline.
	BBoxPx [4]float64 `json:"bbox_px"`
	// Contrast is the model's contrast (1 − bruise/skin) at the bruise's
	// centre for common band/filter pairs, keyed "band/filter".
	Contrast map[string]float64 `json:"contrast"`
}

// TruthScale is the ABFO No. 2 scale.
type TruthScale struct {
	LengthMM       float64 `json:"length_mm"`
	ArmWidthMM     float64 `json:"arm_width_mm"`
	CircleRadiusMM float64 `json:"circle_radius_mm"`
	RotationDeg    float64 `json:"rotation_deg"`
	// Key points, each in plane mm and frame pixels.
	OuterCorner TruthPoint `json:"outer_corner"`
	// InnerCorner is the zero of both millimetre rulers.
	InnerCorner   TruthPoint `json:"inner_corner"`
	HorizontalEnd TruthPoint `json:"horizontal_arm_end"`
	VerticalEnd   TruthPoint `json:"vertical_arm_end"`
	// Circles: corner, horizontal arm end, vertical arm end.
	Circles []TruthPoint `json:"circles"`
	// OutlinePx is the L's six vertices.
	OutlinePx [][2]float64 `json:"outline_px"`
}

// TruthPoint is a point in plane mm and frame pixels.
type TruthPoint struct {
	MM [2]float64 `json:"mm"`
	Px [2]float64 `json:"px"`
}

// ContrastPairs are the band/filter pairs reported in TruthBruise.Contrast.
var ContrastPairs = []struct {
	Band   light.Band
	Filter light.Filter
}{
	{light.BandWhite, light.FilterNone}, {light.BandCrossPolarised, light.FilterNone},
	{light.Band365, light.FilterYellow}, {light.Band415, light.FilterNone}, {light.Band415, light.FilterYellow},
	{light.Band450, light.FilterYellow}, {light.Band450, light.FilterOrange}, {light.Band535, light.FilterRed},
	{light.Band850, light.FilterNone},
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	r := math.Round(v*p) / p
	if r == 0 {
		return 0 // no "-0"
	}
	return r
}

// Truth returns the scene's ground truth.
func (s *Scene) Truth() Truth {
	g := s.cfg.Geometry
	t := Truth{
		Version: TruthVersion, Seed: s.cfg.Seed, SkinGroup: s.skin,
		Sensor: TruthSensor{s.cfg.Width, s.cfg.Height},
		Tilt:   TruthTilt{round(s.cfg.TiltDeg, 3), round(s.cfg.TiltAxisDeg, 3)},
		Model:  "exhibit rig scene v1: see the doc of package devices/rigsim/scene",
	}
	cosT := math.Cos(s.cfg.TiltDeg * math.Pi / 180)
	u0, v0 := s.PlaneFromPixel(0, 0)
	t.Geometry = TruthGeom{
		SensorWidthMM: g.SensorWidthMM, FocalMM: g.FocalMM, DistanceMM: g.DistanceMM,
		MMPerPixel:           round(s.mmPx, 6),
		MMPerPixelAlongAxis:  round(s.mmPx, 6),
		MMPerPixelAcrossAxis: round(s.mmPx/cosT, 6),
		PlaneFromPixel: [6]float64{round(s.fromPx[0], 8), round(s.fromPx[1], 8), round(u0, 4),
			round(s.fromPx[2], 8), round(s.fromPx[3], 8), round(v0, 4)},
	}
	px := func(u, v float64) [2]float64 {
		x, y := s.PixelFromPlane(u, v)
		return [2]float64{round(x, 2), round(y, 2)}
	}
	mm := func(u, v float64) [2]float64 { return [2]float64{round(u, 3), round(v, 3)} }
	for _, b := range s.bruises {
		tb := TruthBruise{
			ID: b.id, AgeDays: round(b.age, 2), DepthMM: round(b.depth, 3),
			MajorMM: round(2*b.a, 3), MinorMM: round(2*b.b, 3), OrientationDeg: round(b.orient*180/math.Pi, 2),
			Haemoglobin: round(hbAmount(b.age), 3), Bilirubin: round(bilAmount(b.age), 3),
			CentreMM: mm(b.cu, b.cv), CentrePx: px(b.cu, b.cv),
			AreaMM2:     round(b.areaMM2(1), 2),
			CoreAreaMM2: round(b.areaMM2(coreFraction(b.age)), 2),
			AreaPx:      round(b.areaMM2(1)/math.Abs(s.fromPx[0]*s.fromPx[3]-s.fromPx[1]*s.fromPx[2]), 1),
			BBoxPx:      [4]float64{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)},
			Contrast:    map[string]float64{},
		}
		cf := coreFraction(b.age)
		for k := range 72 {
			th := float64(k) * 2 * math.Pi / 72
			u, v := b.outlinePoint(th, 1)
			p := px(u, v)
			tb.OutlineMM = append(tb.OutlineMM, mm(u, v))
			tb.OutlinePx = append(tb.OutlinePx, p)
			tb.BBoxPx = [4]float64{math.Min(tb.BBoxPx[0], p[0]), math.Min(tb.BBoxPx[1], p[1]), math.Max(tb.BBoxPx[2], p[0]), math.Max(tb.BBoxPx[3], p[1])}
			tb.CoreOutlinePx = append(tb.CoreOutlinePx, px(b.outlinePoint(th, cf)))
		}
		hbW, bilW := b.weights(b.cu, b.cv)
		for _, cp := range ContrastPairs {
			tb.Contrast[cp.Band.String()+"/"+cp.Filter.String()] = round(Contrast(cp.Band, cp.Filter, s.skin, b.age, b.depth, hbW, bilW), 3)
		}
		t.Bruises = append(t.Bruises, tb)
	}
	sp := s.scale
	pt := func(a, b float64) TruthPoint {
		u, v := sp.toPlane(a, b)
		return TruthPoint{MM: mm(u, v), Px: px(u, v)}
	}
	t.Scale = TruthScale{
		LengthMM: ScaleLengthMM, ArmWidthMM: ScaleArmMM, CircleRadiusMM: CircleRadiusMM,
		RotationDeg:   round(sp.psi*180/math.Pi, 3),
		OuterCorner:   pt(0, 0),
		InnerCorner:   pt(ScaleArmMM, ScaleArmMM),
		HorizontalEnd: pt(ScaleLengthMM, 0),
		VerticalEnd:   pt(0, ScaleLengthMM),
	}
	for _, c := range CircleCentresMM {
		t.Scale.Circles = append(t.Scale.Circles, pt(c[0], c[1]))
	}
	for _, c := range scaleCorners {
		t.Scale.OutlinePx = append(t.Scale.OutlinePx, pt(c[0], c[1]).Px)
	}
	return t
}

// WriteTruth writes the truth as indented JSON, with each point's
// coordinates on one line.
func (s *Scene) WriteTruth(w io.Writer) error {
	b, err := json.MarshalIndent(s.Truth(), "", "  ")
	if err != nil {
		return err
	}
	b = pointRE.ReplaceAll(b, []byte("[$1, $2]"))
	_, err = w.Write(append(b, '\n'))
	return err
}

// pointRE matches a two-number array spread over lines by MarshalIndent.
var pointRE = regexp.MustCompile(`\[\s+(-?[0-9.e+-]+),\s+(-?[0-9.e+-]+)\s+\]`)
