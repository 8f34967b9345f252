package quality

import (
	"fmt"
	"math"

	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/imaging/scale"
)

// Level is how a gate judges a frame.
type Level int

// Levels, from good to bad.
const (
	OK   Level = iota // nothing to do
	Warn              // usable, but the photographer should look and may retake
	Fail              // retake: the frame does not meet the standard
)

var levelNames = [...]string{"ok", "warn", "fail"}

func (l Level) String() string {
	if l < 0 || int(l) >= len(levelNames) {
		return fmt.Sprintf("Level(%d)", int(l))
	}
	return levelNames[l]
}

// MarshalText writes the level's name ("ok", "warn", "fail").
func (l Level) MarshalText() ([]byte, error) {
	if l < 0 || int(l) >= len(levelNames) {
		return nil, fmt.Errorf("quality: no level %d", int(l))
	}
	return []byte(l.String()), nil
}

// UnmarshalText reads a level's name.
func (l *Level) UnmarshalText(b []byte) error {
	for i, n := range levelNames {
		if string(b) == n {
			*l = Level(i)
			return nil
		}
	}
	return fmt.Errorf("quality: %q is not a level (ok, warn, fail)", b)
}

// Gate names a check.
type Gate string

// The gates.
const (
	GateFocus      Gate = "focus"       // sharpness: noise-corrected variance of the Laplacian
	GateClipping   Gate = "clipping"    // share of pixels at or near full scale
	GateNoiseFloor Gate = "noise-floor" // share of pixels at the noise floor
	GateMotion     Gate = "motion"      // shift of the picture since the reference band
	GateScale      Gate = "scale"       // the ABFO No. 2 scale is in view and square to the camera
)

// Finding is one gate's verdict on a frame.
type Finding struct {
	Gate  Gate  `json:"gate"`
	Level Level `json:"level"`
	// Value is what the gate measured, in Unit; Threshold is the limit
	// it was judged against (the warning limit when the level is OK or
	// Warn, the failure limit when it is Fail).
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
	Unit      string  `json:"unit"`
	// Message tells the photographer, in plain words, what is wrong and
	// what to do; for OK it says what was checked.
	Message string `json:"message"`
}

func (f Finding) String() string {
	return fmt.Sprintf("%s %s: %.4g %s (limit %.4g): %s", f.Gate, f.Level, f.Value, f.Unit, f.Threshold, f.Message)
}

// Thresholds are the limits the gates judge by. A zero field takes its
// value from Defaults.
type Thresholds struct {
	// FocusWarn and FocusFail: a focus score below these warns or fails.
	// The score is 10⁴ × (variance of the Laplacian − its noise part) /
	// (the frame's 99.9th − 0.1st percentile)²; see the package
	// documentation. Sharp frames of the simulated rig score 19–24 in
	// every band, a blur of 1 pixel brings them to 2–3.
	FocusWarn, FocusFail float64
	// ClipLevel is the share of full scale from which a pixel counts as
	// clipped (0.98); ClipWarn and ClipFail the shares of clipped pixels
	// that warn (0.1 %) or fail (1 %).
	ClipLevel, ClipWarn, ClipFail float64
	// FloorLevel is the share of full scale up to which a pixel counts as
	// lost in the noise floor (0.002: 131 of 65,535); FloorWarn and
	// FloorFail the shares of such pixels that warn (10 %) or fail (30 %).
	// A barrier-filtered band shows the scale's black print at the floor
	// (it does not fluoresce): a few per cent is normal.
	FloorLevel, FloorWarn, FloorFail float64
	// MotionWarnPx and MotionFailPx: a shift since the reference band
	// above these, in pixels, warns (20) or fails (100). Registration
	// takes out small shifts; large ones mean the skin or the camera moved
	// and the bands' lighting and focus differ.
	MotionWarnPx, MotionFailPx float64
	// MotionMinResponse: when the phase-correlation peak (Shift.Response)
	// is lower than this (0.5), the two frames have too little in common
	// for the shift to be trusted, and the gate warns instead of judging
	// the shift. Band pairs of the simulated rig score 0.85–0.99, two
	// different scenes about 0.3.
	MotionMinResponse float64
	// TiltWarnDeg: a scale tilted more than this warns (10°).
	TiltWarnDeg float64
	// ScaleConfidenceWarn: a scale found with less confidence than this
	// warns (0.5).
	ScaleConfidenceWarn float64
}

// Defaults are the thresholds used for zero fields.
var Defaults = Thresholds{
	FocusWarn: 10, FocusFail: 5,
	ClipLevel: 0.98, ClipWarn: 0.001, ClipFail: 0.01,
	FloorLevel: 0.002, FloorWarn: 0.10, FloorFail: 0.30,
	MotionWarnPx: 20, MotionFailPx: 100, MotionMinResponse: 0.5,
	TiltWarnDeg:         10,
	ScaleConfidenceWarn: 0.5,
}

// filled returns t with zero fields taken from Defaults.
func (t Thresholds) filled() Thresholds {
	d := Defaults
	for _, p := range []struct{ v, d *float64 }{
		{&t.FocusWarn, &d.FocusWarn}, {&t.FocusFail, &d.FocusFail},
		{&t.ClipLevel, &d.ClipLevel}, {&t.ClipWarn, &d.ClipWarn}, {&t.ClipFail, &d.ClipFail},
		{&t.FloorLevel, &d.FloorLevel}, {&t.FloorWarn, &d.FloorWarn}, {&t.FloorFail, &d.FloorFail},
		{&t.MotionWarnPx, &d.MotionWarnPx}, {&t.MotionFailPx, &d.MotionFailPx}, {&t.MotionMinResponse, &d.MotionMinResponse},
		{&t.TiltWarnDeg, &d.TiltWarnDeg}, {&t.ScaleConfidenceWarn, &d.ScaleConfidenceWarn},
	} {
		if *p.v == 0 {
			*p.v = *p.d
		}
	}
	return t
}

// Frame runs every gate on f: focus, clipping, noise floor, scale and,
// when ref is not nil, motion since ref (the profile's reference band).
// It returns the findings in that order and the scale it found (nil if
// none).
func (t Thresholds) Frame(f, ref *camera.Frame) ([]Finding, *scale.Result, error) {
	focus, err := t.Focus(f)
	if err != nil {
		return nil, nil, err
	}
	clip, floor, err := t.Exposure(f)
	if err != nil {
		return nil, nil, err
	}
	sc, res, err := t.Scale(f)
	if err != nil {
		return nil, nil, err
	}
	out := []Finding{focus, clip, floor, sc}
	if ref != nil {
		m, err := t.Motion(ref, f, res)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, m)
	}
	return out, res, nil
}

// Worst returns the worst level among findings (OK for none).
func Worst(findings []Finding) Level {
	w := OK
	for _, f := range findings {
		w = max(w, f.Level)
	}
	return w
}

// grey checks that f is a valid monochrome frame.
func grey(f *camera.Frame) error {
	if f == nil {
		return fmt.Errorf("quality: no frame")
	}
	if err := f.Validate(); err != nil {
		return fmt.Errorf("quality: %w", err)
	}
	if f.Channels != 1 {
		return fmt.Errorf("quality: a %d-channel frame; the gates work on monochrome frames", f.Channels)
	}
	if f.Width < 16 || f.Height < 16 {
		return fmt.Errorf("quality: a %d × %d frame is too small to judge", f.Width, f.Height)
	}
	return nil
}

// fullScale is the largest sample value the frame's device can deliver.
func fullScale(f *camera.Frame) float64 {
	if f.Meta.Widened || f.Meta.BitDepth <= 0 || f.Meta.BitDepth >= 16 {
		return 65535
	}
	return math.Exp2(float64(f.Meta.BitDepth)) - 1
}

// pct formats a share as a percentage with sensible precision.
func pct(share float64) string {
	p := 100 * share
	switch {
	case p >= 10:
		return fmt.Sprintf("%.0f %%", p)
	case p >= 1:
		return fmt.Sprintf("%.1f %%", p)
	}
	return fmt.Sprintf("%.2f %%", p)
}
