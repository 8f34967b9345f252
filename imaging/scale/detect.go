package scale

import (
	"fmt"
	"image"
	"math"
	"runtime"
	"slices"
	"unsafe"

	"gocv.io/x/gocv"

	"github.com/exhibit-forensics/exhibit/devices/camera"
)

// workSide is the longer side, in pixels, of the reduced copy in which the
// circles are first looked for.
const workSide = 1000

// candidate is a dark ring found in the reduced copy, in full-resolution
// pixel coordinates.
type candidate struct {
	x, y  float64
	outer shape // second moment of the ring's outer outline, filled
	fit   float64
}

// mat16 wraps a monochrome frame's samples in a Mat without copying. The
// frame must stay alive (runtime.KeepAlive) while the Mat is in use.
func mat16(f *camera.Frame) (gocv.Mat, error) {
	b := unsafe.Slice((*byte)(unsafe.Pointer(&f.Pix[0])), len(f.Pix)*2)
	m, err := gocv.NewMatFromBytes(f.Height, f.Width, gocv.MatTypeCV16UC1, b)
	if err != nil {
		return m, fmt.Errorf("scale: wrapping the frame: %w", err)
	}
	return m, nil
}

// work returns the reduced 8-bit copy of f in which dark rings are looked
// for, and its reduction factor: the frame is area-averaged down to at most
// workSide pixels on its longer side (which also averages the noise away)
// and stretched so that its 0.5th and 99.9th percentiles span 0–255.
func work(f *camera.Frame) (gocv.Mat, int, error) {
	k := max(1, int(math.Round(float64(max(f.Width, f.Height))/workSide)))
	full, err := mat16(f)
	if err != nil {
		return gocv.Mat{}, 0, err
	}
	defer full.Close()
	small := gocv.NewMat()
	defer small.Close()
	gocv.Resize(full, &small, image.Pt(f.Width/k, f.Height/k), 0, 0, gocv.InterpolationArea)
	runtime.KeepAlive(f)
	pix, err := small.DataPtrUint16()
	if err != nil {
		return gocv.Mat{}, 0, fmt.Errorf("scale: %w", err)
	}
	lo, hi := percentiles(pix, 0.005, 0.999)
	if hi <= lo {
		hi = lo + 1
	}
	alpha := 255 / (hi - lo)
	out := gocv.NewMat()
	small.ConvertToWithParams(&out, gocv.MatTypeCV8UC1, float32(alpha), float32(-lo*alpha))
	return out, k, nil
}

// percentiles returns two quantiles of 16-bit samples from their histogram.
func percentiles(pix []uint16, q1, q2 float64) (float64, float64) {
	var h [65536]int32
	for _, v := range pix {
		h[v]++
	}
	n := float64(len(pix))
	want := [2]float64{q1 * n, q2 * n}
	var got [2]float64
	acc, j := 0.0, 0
	for v, c := range h {
		acc += float64(c)
		for j < 2 && acc >= want[j] {
			got[j] = float64(v)
			j++
		}
		if j == 2 {
			break
		}
	}
	return got[0], got[1]
}

// candidates finds dark rings — dark outlines with a hole, elliptical
// inside and out — in the reduced copy of f.
func candidates(f *camera.Frame) ([]candidate, error) {
	w8, k, err := work(f)
	if err != nil {
		return nil, err
	}
	defer w8.Close()
	// Dark against the local mean: block about 1/40 of the frame, so that
	// a ring's dark print is judged against the white base around it.
	block := max(7, (max(w8.Cols(), w8.Rows())/40)|1)
	bin := gocv.NewMat()
	defer bin.Close()
	gocv.AdaptiveThreshold(w8, &bin, 255, gocv.AdaptiveThresholdMean, gocv.ThresholdBinaryInv, block, 12)
	hier := gocv.NewMat()
	defer hier.Close()
	contours := gocv.FindContoursWithParams(bin, &hier, gocv.RetrievalCComp, gocv.ChainApproxNone)
	defer contours.Close()

	n := contours.Size()
	minSide := float64(min(w8.Cols(), w8.Rows()))
	var out []candidate
	for i := range n {
		h := hier.GetVeciAt(0, i)
		if h[3] != -1 || h[2] == -1 { // not top-level, or no hole
			continue
		}
		xs, ys := contourXY(contours.At(i))
		if len(xs) < 16 {
			continue
		}
		area, cx, cy, s := polygonMoments(xs, ys)
		l1, l2, _ := s.eigen()
		a, b := 2*math.Sqrt(max(l1, 0)), 2*math.Sqrt(max(l2, 0)) // semi-axes
		if b < 4 || a > minSide/4 || b/a < 0.3 {
			continue
		}
		if r := area / (math.Pi * a * b); r < 0.9 || r > 1.1 {
			continue
		}
		dev := radialDeviation(xs, ys, cx, cy, s)
		if dev > 0.1+1.5/b {
			continue
		}
		// The largest hole must sit in the middle and be elliptical too.
		hole, hx, hy, hs := largestHole(contours, hier, h[2])
		if hole < 0.2*area || hole > 0.95*area {
			continue
		}
		if math.Hypot(hx-cx, hy-cy) > 0.15*a || math.Abs(hs.ratio()-s.ratio()) > 0.15 {
			continue
		}
		kf := float64(k)
		out = append(out, candidate{x: (cx + 0.5) * kf, y: (cy + 0.5) * kf, outer: s.scaled(kf * kf), fit: dev})
	}
	slices.SortFunc(out, func(a, b candidate) int { return cmpFloat(a.fit, b.fit) })
	if len(out) > 40 {
		out = out[:40]
	}
	return out, nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func contourXY(pv gocv.PointVector) (xs, ys []float64) {
	pts := pv.ToPoints()
	xs, ys = make([]float64, len(pts)), make([]float64, len(pts))
	for i, p := range pts {
		xs[i], ys[i] = float64(p.X), float64(p.Y)
	}
	return xs, ys
}

// largestHole returns the area, centroid and shape of the largest of the
// holes in the sibling chain starting at child.
func largestHole(contours gocv.PointsVector, hier gocv.Mat, child int32) (area, cx, cy float64, s shape) {
	for c := int(child); c != -1; c = int(hier.GetVeciAt(0, c)[0]) {
		xs, ys := contourXY(contours.At(c))
		if len(xs) < 8 {
			continue
		}
		a, x, y, sh := polygonMoments(xs, ys)
		if a > area {
			area, cx, cy, s = a, x, y, sh
		}
	}
	return area, cx, cy, s
}

// radialDeviation is the largest |ρ − 1| over the outline, where ρ is a
// point's radius in the ellipse of the outline's own moments (1 on it).
func radialDeviation(xs, ys []float64, cx, cy float64, s shape) float64 {
	det := s.xx*s.yy - s.xy*s.xy
	if det <= 0 {
		return math.Inf(1)
	}
	worst := 0.0
	for i := range xs {
		dx, dy := xs[i]-cx, ys[i]-cy
		q := (s.yy*dx*dx - 2*s.xy*dx*dy + s.xx*dy*dy) / det // dᵀS⁻¹d; 4 on the ellipse
		worst = max(worst, math.Abs(math.Sqrt(q)/2-1))
	}
	return worst
}

// pickTriple chooses, among the candidates, the three that one scale seen
// through one affine view explains best: with circle i at the corner and
// j, k at the arms' ends, the map M = [cj−ci, ck−ci]/D from the scale's
// millimetres to pixels predicts every circle's outline (M applied to a
// disc of the printed diameter), and the worst mismatch of the three is the
// triple's score. The wrong corner, or rings that are not the scale's,
// predict outlines of the wrong size or shape.
func pickTriple(cs []candidate, g Geometry) ([3]candidate, error) {
	if len(cs) < 3 {
		return [3]candidate{}, fmt.Errorf("%w: %d of the scale's 3 circles are visible", ErrNoScale, len(cs))
	}
	best, bestScore := [3]candidate{}, math.Inf(1)
	r := g.CircleDiameterMM / 2
	for i := range cs {
		for j := range cs {
			for k := j + 1; k < len(cs); k++ {
				if i == j || i == k {
					continue
				}
				m := affine{
					(cs[j].x - cs[i].x) / g.CentreDistanceMM, (cs[k].x - cs[i].x) / g.CentreDistanceMM,
					(cs[j].y - cs[i].y) / g.CentreDistanceMM, (cs[k].y - cs[i].y) / g.CentreDistanceMM,
				}
				want := m.metric().scaled(r * r / 4)
				score := 0.0
				for _, c := range [3]candidate{cs[i], cs[j], cs[k]} {
					score = max(score, relDiff(c.outer, want))
				}
				if score < bestScore {
					best, bestScore = [3]candidate{cs[i], cs[j], cs[k]}, score
				}
			}
		}
	}
	if bestScore > 0.3 {
		return best, fmt.Errorf("%w: no three dark rings fit the scale's layout (best mismatch %.0f %%)", ErrNoScale, 100*bestScore)
	}
	return best, nil
}
