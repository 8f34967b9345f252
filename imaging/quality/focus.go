package quality

import (
	"fmt"
	"math"
	"runtime"

	"github.com/exhibit-forensics/exhibit/internal/nth"

	"gocv.io/x/gocv"

	"github.com/exhibit-forensics/exhibit/devices/camera"
)

// FocusScore measures how sharp f is: 10⁴ × (variance of the Laplacian −
// the part of it that is sensor noise) / (the frame's 99.9th − 0.1st
// percentile)². See the package documentation for why each part is there.
func FocusScore(f *camera.Frame) (float64, error) {
	if err := grey(f); err != nil {
		return 0, err
	}
	m, err := mat16(f)
	if err != nil {
		return 0, err
	}
	defer m.Close()
	lap := gocv.NewMat()
	defer lap.Close()
	gocv.Laplacian(m, &lap, gocv.MatTypeCV32F, 1, 1, 0, gocv.BorderReflect101)
	runtime.KeepAlive(f)
	mean, sd := gocv.NewMat(), gocv.NewMat()
	defer mean.Close()
	defer sd.Close()
	gocv.MeanStdDev(lap, &mean, &sd)
	variance := sd.GetDoubleAt(0, 0) * sd.GetDoubleAt(0, 0)

	// The noise part: most of a frame is smooth skin, where the Laplacian
	// is sensor noise, so the median absolute Laplacian (× 1.4826, the
	// normal distribution's ratio of standard deviation to median
	// absolute deviation) estimates the noise's standard deviation; edges
	// are too few to move the median.
	d, err := lap.DataPtrFloat32()
	if err != nil {
		return 0, fmt.Errorf("quality: %w", err)
	}
	stride := max(1, len(d)/400_000)
	abs := make([]float32, 0, len(d)/stride+1)
	for i := 0; i < len(d); i += stride {
		abs = append(abs, float32(math.Abs(float64(d[i]))))
	}
	noise := 1.4826 * float64(nth.Nth(abs, len(abs)/2)) // the upper median, as sorting gives it

	excess := max(0, variance-noise*noise)

	h := histogram(f.Pix)
	span := quantile(h, len(f.Pix), 0.999) - quantile(h, len(f.Pix), 0.001)
	if span < 1 {
		return 0, nil
	}
	return 1e4 * excess / (span * span), nil
}

// Focus judges f's sharpness by FocusScore.
func (t Thresholds) Focus(f *camera.Frame) (Finding, error) {
	t = t.filled()
	s, err := FocusScore(f)
	if err != nil {
		return Finding{}, err
	}
	out := Finding{Gate: GateFocus, Value: s, Threshold: t.FocusWarn, Unit: "score"}
	switch {
	case s < t.FocusFail:
		out.Level, out.Threshold = Fail, t.FocusFail
		out.Message = fmt.Sprintf("The picture is blurred (focus %.1f; it needs at least %.0f). "+
			"Hold the camera still at its working distance, let it focus on the scale, then take this band again.", s, t.FocusFail)
	case s < t.FocusWarn:
		out.Level = Warn
		out.Message = fmt.Sprintf("The picture is a little soft (focus %.1f; %.0f or more is sharp). "+
			"Check that the millimetre marks on the scale are crisp; if not, refocus and take this band again.", s, t.FocusWarn)
	default:
		out.Message = fmt.Sprintf("The picture is sharp (focus %.1f).", s)
	}
	return out, nil
}
