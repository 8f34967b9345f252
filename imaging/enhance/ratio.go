package enhance

import (
	"fmt"
	"math"

	"github.com/exhibit-forensics/exhibit/devices/camera"
)

// RatioParams are the parameters of a band ratio image. The mapping from
// the ratio to 16 bits is fixed by them and by nothing in the picture:
//
//	r   = (numerator − NumeratorOffset) / (denominator − DenominatorOffset) × Gain
//	out = round(r × Scale), clamped to 0…65535
//
// where a denominator at or below its offset gives 0 if the numerator is at
// or below its own, and 65535 otherwise. Zero fields take the defaults.
type RatioParams struct {
	// NumeratorOffset and DenominatorOffset are subtracted first (a dark
	// level); default 0.
	NumeratorOffset   float64 `json:"numerator_offset"`
	DenominatorOffset float64 `json:"denominator_offset"`
	// Gain corrects for the two frames' exposures, so that r compares
	// radiances rather than counts: (exposure × gain of the denominator) ÷
	// (exposure × gain of the numerator). Default 1 (counts compared as
	// they are).
	Gain float64 `json:"gain"`
	// Scale is the output value of a ratio of 1. Default 16384: ratios 0
	// to 4 fill the 16 bits in steps of 1/16384; larger ones clip at 65535.
	Scale float64 `json:"scale"`
}

func (p RatioParams) withDefaults() RatioParams {
	if p.Gain == 0 {
		p.Gain = 1
	}
	if p.Scale == 0 {
		p.Scale = 16384
	}
	return p
}

// Ratio divides one band by another, pixel by pixel (for example 450 nm by
// 850 nm: haemoglobin absorbs the first and hardly the second, so a bruise
// shows as a low ratio while skin shading, the same in both, cancels). The
// result is mapped to 16 bits as RatioParams says.
func Ratio(num, den *camera.Frame, p RatioParams) (*camera.Frame, Step, error) {
	p = p.withDefaults()
	step := Step{Op: "ratio", Inputs: []string{"numerator", "denominator"}, Params: p, Libraries: GoLibraries()}
	if !(p.Gain > 0) || !(p.Scale > 0) || math.IsInf(p.Gain, 0) || math.IsInf(p.Scale, 0) ||
		math.IsNaN(p.NumeratorOffset) || math.IsNaN(p.DenominatorOffset) {
		return nil, step, fmt.Errorf("enhance: ratio gain %g and scale %g must be positive and finite, offsets numbers",
			p.Gain, p.Scale)
	}
	if err := checkFrames(num, den); err != nil {
		return nil, step, err
	}
	out := derived(num.Width, num.Height)
	k := p.Gain * p.Scale
	for i, a := range num.Pix {
		n := float64(a) - p.NumeratorOffset
		d := float64(den.Pix[i]) - p.DenominatorOffset
		var v float64
		switch {
		case d > 0:
			v = math.Round(max(0, n) / d * k)
		case n > 0:
			v = 65535
		}
		out.Pix[i] = uint16(min(v, 65535))
	}
	return out, step, nil
}
