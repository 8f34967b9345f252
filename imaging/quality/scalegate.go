package quality

import (
	"errors"
	"fmt"

	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/imaging/scale"
)

// Scale checks that the ABFO No. 2 scale is in view (imaging/scale) and
// square to the camera. It fails when the scale is not found and warns when
// it is tilted more than TiltWarnDeg or found with low confidence. It
// returns the scale it found, nil if none.
func (t Thresholds) Scale(f *camera.Frame) (Finding, *scale.Result, error) {
	t = t.filled()
	if err := grey(f); err != nil {
		return Finding{}, nil, err
	}
	r, err := scale.Find(f, scale.ABFO2)
	if errors.Is(err, scale.ErrNoScale) {
		return Finding{Gate: GateScale, Level: Fail, Unit: "°",
			Message: "The scale is not in the picture. Lay the ABFO scale flat on the skin beside the injury, " +
				"with all three of its circles in view and uncovered, then take this band again."}, nil, nil
	}
	if err != nil {
		return Finding{}, nil, fmt.Errorf("quality: %w", err)
	}
	out := Finding{Gate: GateScale, Value: r.TiltDeg, Threshold: t.TiltWarnDeg, Unit: "°"}
	switch {
	case r.TiltDeg > t.TiltWarnDeg:
		out.Level = Warn
		out.Message = fmt.Sprintf("The scale is tilted %.0f° — hold the camera square to the skin, then take this band again.", r.TiltDeg)
	case r.Confidence < t.ScaleConfidenceWarn:
		out.Level, out.Value, out.Threshold, out.Unit = Warn, r.Confidence, t.ScaleConfidenceWarn, "confidence"
		out.Message = fmt.Sprintf("The scale is hard to read (confidence %.0f %%). Check that it lies flat, "+
			"is not covered or in shadow, and take this band again if in doubt.", 100*r.Confidence)
	default:
		out.Message = fmt.Sprintf("The scale is in view and square to the camera (tilt %.0f°, %.4f mm per pixel).", r.TiltDeg, r.MMPerPixel)
	}
	return out, r, nil
}
