package quality

import (
	"errors"
	"fmt"
	"image"
	"math"
	"runtime"

	"gocv.io/x/gocv"

	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/imaging/scale"
)

// motionSide is the longer side, in pixels, of the reduced copies the
// shift is measured on.
const motionSide = 2000

// Shift is a translation between two frames: frame f shows at (x, y) what
// the reference showed at (x + DX, y + DY). (The scene moved by −DX, −DY
// in the picture.)
type Shift struct {
	DX, DY float64
	// Response is the height of the phase-correlation peak, about 1 for a
	// clean match and near 0 when the frames have nothing in common.
	Response float64
}

// Px is the length of the shift in pixels.
func (s Shift) Px() float64 { return math.Hypot(s.DX, s.DY) }

// EstimateShift measures the translation between ref and f by phase
// correlation (gocv PhaseCorrelate) on copies reduced to about 2000
// pixels across, high-passed (each minus its Gaussian blur of σ = 4
// pixels, over its standard deviation) so that what the bands share — the
// scale's print, edges, skin texture — counts and what they do not — the
// overall brightness and the ring light's fall-off — does not, and
// windowed (Hann) against the frame's edges.
func EstimateShift(ref, f *camera.Frame) (Shift, error) {
	if err := grey(ref); err != nil {
		return Shift{}, err
	}
	if err := grey(f); err != nil {
		return Shift{}, err
	}
	if ref.Width != f.Width || ref.Height != f.Height {
		return Shift{}, fmt.Errorf("quality: frames of different sizes (%d × %d and %d × %d)", ref.Width, ref.Height, f.Width, f.Height)
	}
	k := max(1, int(math.Round(float64(max(f.Width, f.Height))/motionSide)))
	a, err := prepare(ref, k)
	if err != nil {
		return Shift{}, err
	}
	defer a.Close()
	b, err := prepare(f, k)
	if err != nil {
		return Shift{}, err
	}
	defer b.Close()
	w := hann(a.Cols(), a.Rows())
	defer w.Close()
	p, resp := gocv.PhaseCorrelate(a, b, w)
	dx, dy := -float64(p.X)*float64(k), -float64(p.Y)*float64(k)
	if math.IsNaN(dx) || math.IsNaN(dy) || math.IsNaN(resp) {
		return Shift{}, errors.New("quality: the frames could not be compared (no common detail)")
	}
	return Shift{DX: dx, DY: dy, Response: resp}, nil
}

// prepare reduces f by k, converts it to float and high-passes it.
func prepare(f *camera.Frame, k int) (gocv.Mat, error) {
	full, err := mat16(f)
	if err != nil {
		return gocv.Mat{}, err
	}
	defer full.Close()
	small := gocv.NewMat()
	defer small.Close()
	gocv.Resize(full, &small, image.Pt(f.Width/k, f.Height/k), 0, 0, gocv.InterpolationArea)
	runtime.KeepAlive(f)
	out := gocv.NewMat()
	small.ConvertTo(&out, gocv.MatTypeCV32F)
	blur := gocv.NewMat()
	defer blur.Close()
	gocv.GaussianBlur(out, &blur, image.Pt(0, 0), 4, 4, gocv.BorderReflect101)
	gocv.Subtract(out, blur, &out)
	mean, sd := gocv.NewMat(), gocv.NewMat()
	defer mean.Close()
	defer sd.Close()
	gocv.MeanStdDev(out, &mean, &sd)
	if s := sd.GetDoubleAt(0, 0); s > 0 {
		out.ConvertToWithParams(&out, gocv.MatTypeCV32F, float32(1/s), 0)
	}
	return out, nil
}

// hann is the w × h Hann window.
func hann(w, h int) gocv.Mat {
	m := gocv.NewMatWithSize(h, w, gocv.MatTypeCV32F)
	d, _ := m.DataPtrFloat32()
	wx := make([]float64, w)
	for x := range wx {
		wx[x] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(x)/float64(max(1, w-1)))
	}
	for y := range h {
		wy := 0.5 - 0.5*math.Cos(2*math.Pi*float64(y)/float64(max(1, h-1)))
		for x := range w {
			d[y*w+x] = float32(wy * wx[x])
		}
	}
	return m
}

// Motion judges how far f moved since ref, the reference band. With a
// scale (sc, from either frame) the message gives the distance on the skin
// too.
func (t Thresholds) Motion(ref, f *camera.Frame, sc *scale.Result) (Finding, error) {
	t = t.filled()
	s, err := EstimateShift(ref, f)
	if err != nil {
		return Finding{}, err
	}
	px := s.Px()
	dist, small := fmt.Sprintf("%.0f pixels", px), fmt.Sprintf("%.1f pixels", px)
	if sc != nil {
		mm := sc.LengthMM(s.DX, s.DY)
		dist, small = fmt.Sprintf("%.1f mm (%.0f pixels)", mm, px), fmt.Sprintf("%.1f mm, %.1f pixels", mm, px)
	}
	out := Finding{Gate: GateMotion, Value: px, Threshold: t.MotionWarnPx, Unit: "px"}
	switch {
	case s.Response < t.MotionMinResponse:
		out.Level, out.Value, out.Threshold, out.Unit = Warn, s.Response, t.MotionMinResponse, "response"
		out.Message = "Movement since the first band could not be checked: the two pictures have too little in common. " +
			"If this one is too dark or blurred, fix that first; otherwise check that the same area of skin and the scale " +
			"are in view, and take this band again if they are not."
	case px > t.MotionFailPx:
		out.Level, out.Threshold = Fail, t.MotionFailPx
		out.Message = fmt.Sprintf("The skin or the camera moved %s since the first band, too far for the bands to be lined up. "+
			"Ask the person to rest comfortably, steady the camera, and take this band again.", dist)
	case px > t.MotionWarnPx:
		out.Level = Warn
		out.Message = fmt.Sprintf("The skin or the camera moved %s since the first band. "+
			"It can be corrected, but steady the camera for the remaining bands.", dist)
	default:
		out.Message = fmt.Sprintf("The picture has hardly moved since the first band (%s).", small)
	}
	return out, nil
}
