package quality

import (
	"fmt"

	"github.com/exhibit-forensics/exhibit/devices/camera"
)

// Exposure judges f's exposure at both ends: the share of pixels at or
// near full scale (clipping: detail lost to white) and the share at the
// noise floor (detail lost to black). Full scale is 65,535 for 16-bit and
// widened 8-bit frames, 2^BitDepth − 1 for others.
func (t Thresholds) Exposure(f *camera.Frame) (clip, floor Finding, err error) {
	t = t.filled()
	if err := grey(f); err != nil {
		return Finding{}, Finding{}, err
	}
	full := fullScale(f)
	hi, lo := t.ClipLevel*full, t.FloorLevel*full
	var nHi, nLo int
	for _, v := range f.Pix {
		if float64(v) >= hi {
			nHi++
		} else if float64(v) <= lo {
			nLo++
		}
	}
	n := float64(len(f.Pix))
	sHi, sLo := float64(nHi)/n, float64(nLo)/n

	clip = Finding{Gate: GateClipping, Value: sHi, Threshold: t.ClipWarn, Unit: "share"}
	switch {
	case sHi > t.ClipFail:
		clip.Level, clip.Threshold = Fail, t.ClipFail
		clip.Message = fmt.Sprintf("%s of the picture is over-exposed, pure white with no detail (at most %s is allowed). "+
			"Shorten the exposure or lower the gain for this band, then take it again.", pct(sHi), pct(t.ClipFail))
	case sHi > t.ClipWarn:
		clip.Level = Warn
		clip.Message = fmt.Sprintf("%s of the picture is pure white. Check that the injury itself is not white; "+
			"if it is, shorten the exposure for this band and take it again.", pct(sHi))
	default:
		clip.Message = fmt.Sprintf("Nothing important is over-exposed (%s of the picture is pure white).", pct(sHi))
	}

	floor = Finding{Gate: GateNoiseFloor, Value: sLo, Threshold: t.FloorWarn, Unit: "share"}
	switch {
	case sLo > t.FloorFail:
		floor.Level, floor.Threshold = Fail, t.FloorFail
		floor.Message = fmt.Sprintf("%s of the picture is too dark to show anything (at most %s is allowed). "+
			"Lengthen the exposure or raise the gain for this band, check the light is on, then take it again.", pct(sLo), pct(t.FloorFail))
	case sLo > t.FloorWarn:
		floor.Level = Warn
		floor.Message = fmt.Sprintf("%s of the picture is black. Check that the injury shows; "+
			"if it is too dark, lengthen the exposure for this band and take it again.", pct(sLo))
	default:
		floor.Message = fmt.Sprintf("The picture is bright enough (%s of it is black).", pct(sLo))
	}
	return clip, floor, nil
}
