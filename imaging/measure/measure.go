package measure

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"slices"

	"github.com/exhibit-forensics/exhibit/internal/nth"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"gocv.io/x/gocv"

	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/imaging/enhance"
)

// ErrInput: the frame or the parameters cannot be used.
var ErrInput = errors.New("measure: unusable input")

// Params are the measurement's parameters. Zero fields take the defaults;
// MMPerPixel is required.
type Params struct {
	// MMPerPixel is the size of one frame pixel on the skin, in mm.
	MMPerPixel float64 `json:"mm_per_px"`
	// Reduce: the frame is block-averaged Reduce × Reduce before
	// measuring. Default 4 (0.23 mm per pixel at the rig's 0.057).
	Reduce int `json:"reduce"`
	// BaselineDegree is the degree of the skin baseline's polynomial;
	// default 4.
	BaselineDegree int `json:"baseline_degree"`
	// DetectSmoothMM and SmoothMM are the standard deviations of the
	// detection and outline smoothing, mm; defaults 3 and 0.5.
	DetectSmoothMM float64 `json:"detect_smooth_mm"`
	SmoothMM       float64 `json:"smooth_mm"`
	// DetectSigmas is k in the detection threshold median + k·σ; default 5.
	DetectSigmas float64 `json:"detect_sigmas"`
	// OutlineFraction is where the outline lies, as a fraction of the
	// bruise's peak contrast above the skin; default 0.5.
	OutlineFraction float64 `json:"outline_fraction"`
	// TailFraction: the region in which the edge's top is looked for
	// reaches down to this fraction of the peak contrast; default 0.1.
	TailFraction float64 `json:"tail_fraction"`
	// EdgeDepth is how far inside the region down to TailFraction, as a
	// fraction of its equivalent radius, the contrast at the top of the
	// bruise's edge is read; default 0.15.
	EdgeDepth float64 `json:"edge_depth"`
	// MinAreaMM2: smaller regions are not reported; default 20 mm².
	MinAreaMM2 float64 `json:"min_area_mm2"`
	// GlareSigmas: reference pixels brighter than their baseline by more
	// than this many σ are glare and left out; default 4.
	GlareSigmas float64 `json:"glare_sigmas"`
	// Exclude are polygons in frame pixels that are not skin (the scale's
	// outline); ExcludeMarginMM widens them (default 3 mm).
	Exclude         [][]image.Point `json:"exclude,omitempty"`
	ExcludeMarginMM float64         `json:"exclude_margin_mm"`
	// Method is the version of the method (package doc); 0 is the
	// latest, MethodLatest. A recipe names the one that made its
	// derivative, so that the derivative can be made again after the
	// method has changed; parameters decoded from JSON without a method
	// are MethodGlareMasked's, which came before the field did.
	Method int `json:"method"`
}

// The methods.
const (
	// MethodGlareMasked: the reference's hot spots are left out of the
	// skin, and every basin is outlined on its own.
	MethodGlareMasked = 1
	// MethodGlareFilled: under the reference's hot spots the reference is
	// estimated from the skin around, and an outline may cross them;
	// outlines that touch are one bruise.
	MethodGlareFilled = 2
	// MethodLatest is what Measure uses when Params.Method is 0.
	MethodLatest = MethodGlareFilled
)

// UnmarshalJSONFrom decodes p with the decoder's options (a recipe's are
// strict: no unknown members); without a "method" member, p.Method is
// MethodGlareMasked.
func (p *Params) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	type plain Params
	q := plain{}
	if err := jsonv2.Unmarshal(v, &q, dec.Options()); err != nil {
		return err
	}
	var has struct {
		Method *int `json:"method"`
	}
	if err := jsonv2.Unmarshal(v, &has, jsonv2.RejectUnknownMembers(false)); err != nil {
		return err
	}
	if has.Method == nil {
		q.Method = MethodGlareMasked
	}
	*p = Params(q)
	return nil
}

// UnmarshalJSON is UnmarshalJSONFrom for encoding/json.
func (p *Params) UnmarshalJSON(b []byte) error { return jsonv2.Unmarshal(b, p) }

func (p Params) withDefaults() Params {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	if p.Reduce == 0 {
		p.Reduce = 4
	}
	if p.BaselineDegree == 0 {
		p.BaselineDegree = 4
	}
	def(&p.DetectSmoothMM, 3)
	def(&p.SmoothMM, 0.5)
	def(&p.DetectSigmas, 5)
	def(&p.OutlineFraction, 0.5)
	def(&p.MinAreaMM2, 20)
	def(&p.EdgeDepth, 0.15)
	def(&p.TailFraction, 0.1)
	def(&p.ExcludeMarginMM, 3)
	def(&p.GlareSigmas, 4)
	if p.Method == 0 {
		p.Method = MethodLatest
	}
	return p
}

func (p Params) check() error {
	finitePos := func(v float64) bool { return v > 0 && !math.IsInf(v, 0) }
	switch {
	case !finitePos(p.MMPerPixel):
		return fmt.Errorf("%w: mm per pixel %g: want a positive number (from the scale)", ErrInput, p.MMPerPixel)
	case p.Reduce < 1 || p.Reduce > 64:
		return fmt.Errorf("%w: reduce %d: want 1 to 64", ErrInput, p.Reduce)
	case p.BaselineDegree < 0 || p.BaselineDegree > 8:
		return fmt.Errorf("%w: baseline degree %d: want 0 to 8", ErrInput, p.BaselineDegree)
	case !finitePos(p.DetectSmoothMM) || !finitePos(p.SmoothMM) || !finitePos(p.DetectSigmas) ||
		!finitePos(p.MinAreaMM2) || !finitePos(p.ExcludeMarginMM) || !finitePos(p.GlareSigmas):
		return fmt.Errorf("%w: smoothing, detection sigmas, minimum area and margin must be positive", ErrInput)
	case !(p.TailFraction > 0 && p.TailFraction < 1):
		return fmt.Errorf("%w: tail fraction %g: want between 0 and 1", ErrInput, p.TailFraction)
	case !(p.EdgeDepth > 0 && p.EdgeDepth < 1):
		return fmt.Errorf("%w: edge depth %g: want between 0 and 1", ErrInput, p.EdgeDepth)
	case !(p.OutlineFraction > 0 && p.OutlineFraction < 1):
		return fmt.Errorf("%w: outline fraction %g: want between 0 and 1", ErrInput, p.OutlineFraction)
	case p.Method < MethodGlareMasked || p.Method > MethodLatest:
		return fmt.Errorf("%w: method %d: want %d to %d", ErrInput, p.Method, MethodGlareMasked, MethodLatest)
	}
	return nil
}

// Bruise is one measured bruise.
type Bruise struct {
	// AreaMM2 is the area inside the outline.
	AreaMM2 float64 `json:"area_mm2"`
	// MajorMM and MinorMM are the full lengths of the axes of the ellipse
	// with the region's second moments; OrientationDeg is the major axis's
	// angle from the frame's x axis towards its y axis, 0–180°.
	MajorMM        float64 `json:"major_axis_mm"`
	MinorMM        float64 `json:"minor_axis_mm"`
	OrientationDeg float64 `json:"orientation_deg"`
	// CentroidPx is the centroid in frame pixels (pixel (0,0)'s centre at
	// 0.5, 0.5).
	CentroidPx [2]float64 `json:"centroid_px"`
	// PeakContrast is the bruise's contrast at its darkest (wide
	// smoothing), above the skin's median.
	PeakContrast float64 `json:"peak_contrast"`
	// BBoxPx is [x0 y0 x1 y1] in frame pixels.
	BBoxPx [4]int `json:"bbox_px"`

	label int32
}

// Skin are the skin's statistics the threshold came from.
type Skin struct {
	// Median and Sigma of the wide-smoothed contrast map over skin.
	Median float64 `json:"median"`
	Sigma  float64 `json:"sigma"`
	// Threshold is Median + DetectSigmas·Sigma.
	Threshold float64 `json:"threshold"`
}

// Result is what Measure found.
type Result struct {
	// Bruises, largest first.
	Bruises []Bruise
	Skin    Skin
	// Step records the operation, its parameters (defaults filled in) and
	// the library versions.
	Step enhance.Step

	width, height int     // frame
	w, h          int     // reduced
	reduce        int     //
	labels        []int32 // per reduced pixel: 0 or a Bruise's label
}

// Measure finds and measures the bruises in f, a registered band frame
// (415 nm + yellow or 450 nm + orange are best). ref, if not nil, is a
// frame of the same scene in a band that bruises hardly absorb (850 nm),
// registered to f: the skin's texture and the light's fall-off are the same
// in both, so f is divided by it before the baseline is fitted, and what
// is left is the bruise (see the package doc).
func Measure(f, ref *camera.Frame, p Params) (*Result, error) {
	p = p.withDefaults()
	inputs := []string{"band"}
	if ref != nil {
		inputs = append(inputs, "reference")
	}
	res := &Result{Step: enhance.Step{Op: "measure", Inputs: inputs, Params: p, Libraries: enhance.OpenCVLibraries()}}
	if err := p.check(); err != nil {
		return nil, err
	}
	for i, g := range []*camera.Frame{f, ref} {
		if g == nil {
			if i == 0 {
				return nil, fmt.Errorf("%w: no frame", ErrInput)
			}
			continue
		}
		if err := g.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInput, inputs[i], err)
		}
		if g.Channels != 1 {
			return nil, fmt.Errorf("%w: %s has %d channels, want one band", ErrInput, inputs[i], g.Channels)
		}
		if g.Width != f.Width || g.Height != f.Height {
			return nil, fmt.Errorf("%w: the reference is %d×%d, the band %d×%d (register them first)",
				ErrInput, g.Width, g.Height, f.Width, f.Height)
		}
	}
	r := p.Reduce
	w, h := f.Width/r, f.Height/r
	if w < 16 || h < 16 {
		return nil, fmt.Errorf("%w: %d×%d reduced by %d is too small to measure", ErrInput, f.Width, f.Height, r)
	}
	res.width, res.height, res.w, res.h, res.reduce = f.Width, f.Height, w, h, r
	pxMM := p.MMPerPixel * float64(r) // mm per reduced pixel

	band := reduce(f, r, w, h)
	skin, err := skinMask(p, w, h, pxMM)
	if err != nil {
		return nil, err
	}
	// trusted is the skin where the contrast map is as good as the
	// reference makes it: the skin's statistics, the baseline and the
	// detection use only these pixels. Under the reference's hot spots the
	// band is still skin, and a bruise's outline may cross them (package
	// doc, step 1).
	trusted := skin
	if ref != nil {
		rb := reduce(ref, r, w, h)
		glare, rc, err := findGlare(rb, skin, w, h, p, pxMM)
		if err != nil {
			return nil, err
		}
		if p.Method == MethodGlareMasked {
			for i, g := range glare {
				if g {
					skin[i] = false
				}
			}
		} else {
			if err := fillGlare(rb, rc, skin, glare, w, h, p, pxMM); err != nil {
				return nil, err
			}
			trusted = make([]bool, w*h)
			for i, s := range skin {
				trusted[i] = s && !glare[i]
			}
		}
		for i, v := range rb {
			if v > 0 {
				band[i] /= v
			} else {
				band[i] = 0
			}
		}
	}
	contrast := baselineContrast(band, trusted, skin, w, h, p.BaselineDegree)
	narrow, err := smooth(contrast, w, h, p.SmoothMM/pxMM)
	if err != nil {
		return nil, err
	}
	for i, t := range trusted {
		if !t {
			contrast[i] = 0
		}
	}
	wide, err := smooth(contrast, w, h, p.DetectSmoothMM/pxMM)
	if err != nil {
		return nil, err
	}
	med, sigma := robustStats(wide, trusted, w)
	res.Skin = Skin{Median: med, Sigma: sigma, Threshold: med + p.DetectSigmas*sigma}

	seeds, basin, err := candidates(wide, trusted, w, h, float32(res.Skin.Threshold), float32(p.DetectSigmas*sigma))
	if err != nil {
		return nil, err
	}
	res.labels = make([]int32, w*h)
	minPx := p.MinAreaMM2 / (pxMM * pxMM)
	// outline draws the outline of the bruise made of the basins in ks
	// (package doc, step 5), labels its pixels and returns them and its
	// peak; nil if it is too small.
	outline := func(ks []int, label int32) ([]int, float32) {
		// A bruise grows only over its own basins of trusted skin and
		// over the reference's hot spots.
		own := make([]bool, w*h)
		for i, b := range basin {
			own[i] = skin[i] && (!trusted[i] || b >= 0 && slices.Contains(ks, int(b)))
		}
		var seed []int
		for _, k := range ks {
			seed = append(seed, seeds[k]...)
		}
		peak := float32(math.Inf(-1))
		for _, i := range seed {
			peak = max(peak, wide[i])
		}
		// The top of the bruise's edge: the contrast a little inside the
		// region down to a tenth of the peak, which ends in the outer
		// edge's fading tail.
		low := float32(med) + float32(p.TailFraction)*(peak-float32(med))
		region := grow(narrow, own, res.labels, w, h, seed, max(low, float32(res.Skin.Threshold)), label)
		inner := ringMedian(narrow, res.labels, region, w, h, label, p.EdgeDepth)
		for _, i := range region {
			res.labels[i] = 0
		}
		level := float32(med + p.OutlineFraction*(inner-med))
		region = grow(narrow, own, res.labels, w, h, seed, max(level, float32(res.Skin.Threshold)), label)
		region = fillHoles(region, res.labels, w, h, label)
		if float64(len(region)) < minPx {
			for _, i := range region {
				res.labels[i] = 0
			}
			return nil, peak
		}
		return region, peak
	}
	// First each basin on its own, highest peak first.
	var groups, regions [][]int
	for k, seed := range seeds {
		if float64(len(seed)) < minPx {
			continue // its outline lies within its basin: too small
		}
		if region, _ := outline([]int{k}, int32(len(groups)+1)); region != nil {
			groups, regions = append(groups, []int{k}), append(regions, region)
		}
	}
	// Then the bruises whose outlines touch along at least a millimetre
	// are one: between them the contrast never fell to the outline's
	// level, only the basins' dividing line ran there (a ring-shaped
	// older bruise, whose core is paler than its rim, has several
	// peaks). They are outlined again together.
	merged := []int(nil)
	if p.Method >= MethodGlareFilled {
		merged = touching(res.labels, w, h, len(groups), int(math.Ceil(1/pxMM)))
	}
	if merged != nil {
		clear(res.labels)
		var joined [][]int
		for g, root := range merged {
			if root == g {
				joined = append(joined, nil)
			}
		}
		index := map[int]int{}
		for g, root := range merged {
			if _, ok := index[root]; !ok {
				index[root] = len(index)
			}
			joined[index[root]] = append(joined[index[root]], groups[g]...)
		}
		groups, regions = groups[:0], regions[:0]
		for _, ks := range joined {
			if region, _ := outline(ks, int32(len(groups)+1)); region != nil {
				groups, regions = append(groups, ks), append(regions, region)
			}
		}
	}
	for g, ks := range groups {
		label, region := int32(g+1), regions[g]
		peak := float32(math.Inf(-1))
		for _, k := range ks {
			for _, i := range seeds[k] {
				peak = max(peak, wide[i])
			}
		}
		b := moments(region, w, float64(r), p.MMPerPixel)
		b.PeakContrast = float64(peak) - med
		b.label = label
		res.Bruises = append(res.Bruises, b)
	}
	slices.SortStableFunc(res.Bruises, func(a, b Bruise) int {
		switch {
		case a.AreaMM2 > b.AreaMM2:
			return -1
		case a.AreaMM2 < b.AreaMM2:
			return 1
		}
		return 0
	})
	return res, nil
}

// reduce block-averages f by r into a w × h float map.
func reduce(f *camera.Frame, r, w, h int) []float32 {
	out := make([]float32, w*h)
	acc := make([]float64, w)
	inv := 1 / float64(r*r)
	for y := range h {
		clear(acc)
		for dy := range r {
			row := f.Pix[(y*r+dy)*f.Width:]
			for x := range w {
				var s uint64
				for _, v := range row[x*r : x*r+r] {
					s += uint64(v)
				}
				acc[x] += float64(s)
			}
		}
		for x := range w {
			out[y*w+x] = float32(acc[x] * inv)
		}
	}
	return out
}

// skinMask is true where the reduced frame shows skin: outside every
// excluded polygon widened by the margin.
func skinMask(p Params, w, h int, pxMM float64) ([]bool, error) {
	skin := make([]bool, w*h)
	for i := range skin {
		skin[i] = true
	}
	if len(p.Exclude) == 0 {
		return skin, nil
	}
	m := gocv.NewMatWithSize(h, w, gocv.MatTypeCV8UC1)
	defer m.Close()
	polys := make([][]image.Point, 0, len(p.Exclude))
	for _, poly := range p.Exclude {
		if len(poly) < 3 {
			return nil, fmt.Errorf("%w: an excluded polygon has %d points", ErrInput, len(poly))
		}
		q := make([]image.Point, len(poly))
		for i, pt := range poly {
			q[i] = image.Pt(pt.X/p.Reduce, pt.Y/p.Reduce)
		}
		polys = append(polys, q)
	}
	pv := gocv.NewPointsVectorFromPoints(polys)
	defer pv.Close()
	gocv.FillPoly(&m, pv, color.RGBA{255, 255, 255, 255})
	k := int(math.Ceil(p.ExcludeMarginMM / pxMM))
	kernel := gocv.GetStructuringElement(gocv.MorphEllipse, image.Pt(2*k+1, 2*k+1))
	defer kernel.Close()
	gocv.Dilate(m, &m, kernel)
	d, err := m.DataPtrUint8()
	if err != nil {
		return nil, fmt.Errorf("measure: %w", err)
	}
	for i, v := range d {
		skin[i] = v == 0
	}
	return skin, nil
}

// findGlare finds the reference's specular hot spots: skin brighter than
// the reference's own baseline by more than GlareSigmas·σ, widened by the
// exclusion margin. In a ratio they would show as dark spots that are not
// bruises. It returns them and the reference's contrast against its
// baseline (1 − reference/baseline).
func findGlare(ref []float32, skin []bool, w, h int, p Params, pxMM float64) ([]bool, []float32, error) {
	c := baselineContrast(ref, skin, skin, w, h, p.BaselineDegree)
	cs, err := smooth(c, w, h, p.SmoothMM/pxMM)
	if err != nil {
		return nil, nil, err
	}
	med, sigma := robustStats(cs, skin, w)
	m := gocv.NewMatWithSize(h, w, gocv.MatTypeCV8UC1)
	defer m.Close()
	d, err := m.DataPtrUint8()
	if err != nil {
		return nil, nil, fmt.Errorf("measure: %w", err)
	}
	for i, v := range cs {
		d[i] = 0
		if skin[i] && float64(v) < med-p.GlareSigmas*sigma {
			d[i] = 255
		}
	}
	k := int(math.Ceil(p.ExcludeMarginMM / pxMM))
	kernel := gocv.GetStructuringElement(gocv.MorphEllipse, image.Pt(2*k+1, 2*k+1))
	defer kernel.Close()
	gocv.Dilate(m, &m, kernel)
	d, err = m.DataPtrUint8()
	if err != nil {
		return nil, nil, fmt.Errorf("measure: %w", err)
	}
	glare := make([]bool, w*h)
	for i, v := range d {
		glare[i] = v != 0
	}
	return glare, c, nil
}

// fillGlare replaces the reference under its hot spots (on skin) by an
// estimate from the skin around: its baseline times the skin's texture
// (reference ÷ baseline, 1 − c) averaged with Gaussian weights of
// ExcludeMarginMM over the skin outside the hot spots (a normalised
// convolution), drawn towards 1 — the baseline alone — where little of
// that skin is near.
func fillGlare(ref, c []float32, skin, glare []bool, w, h int, p Params, pxMM float64) error {
	num := make([]float32, w*h)
	den := make([]float32, w*h)
	any := false
	for i, s := range skin {
		switch {
		case s && glare[i]:
			any = true
		case s:
			num[i] = 1 - c[i]
			den[i] = 1
		}
	}
	if !any {
		return nil
	}
	sg := p.ExcludeMarginMM / pxMM
	num, err := smooth(num, w, h, sg)
	if err != nil {
		return err
	}
	if den, err = smooth(den, w, h, sg); err != nil {
		return err
	}
	// The baseline weighs as much as 5 % of a neighbourhood of skin.
	const prior = 0.05
	for i, s := range skin {
		if s && glare[i] {
			q := (float64(num[i]) + prior) / (float64(den[i]) + prior)
			ref[i] = float32(float64(ref[i]) / (1 - float64(c[i])) * q)
		}
	}
	return nil
}

// smooth is a Gaussian of standard deviation sigma (reduced pixels), in
// OpenCV, border reflected.
func smooth(src []float32, w, h int, sigma float64) ([]float32, error) {
	m := gocv.NewMatWithSize(h, w, gocv.MatTypeCV32FC1)
	defer m.Close()
	d, err := m.DataPtrFloat32()
	if err != nil {
		return nil, fmt.Errorf("measure: %w", err)
	}
	copy(d, src)
	k := 2*int(math.Ceil(3*sigma)) + 1
	out := gocv.NewMat()
	defer out.Close()
	gocv.GaussianBlur(m, &out, image.Pt(k, k), sigma, sigma, gocv.BorderReflect101)
	o, err := out.DataPtrFloat32()
	if err != nil {
		return nil, fmt.Errorf("measure: %w", err)
	}
	return slices.Clone(o), nil
}

// robustStats are the median and the σ estimated from the median absolute
// deviation (× 1.4826) of v over the mask, on every other pixel of every
// other row.
func robustStats(v []float32, mask []bool, w int) (med, sigma float64) {
	var s []float64
	for i, x := range v {
		if mask[i] && (i%w)%2 == 0 && (i/w)%2 == 0 {
			s = append(s, float64(x))
		}
	}
	if len(s) == 0 {
		return 0, 0
	}
	med = median(s)
	for i := range s {
		s[i] = math.Abs(s[i] - med)
	}
	return med, 1.4826 * median(s)
}

func median(s []float64) float64 { return nth.Median(s) }

// candidates splits the skin pixels above the threshold (after a 3 × 3
// opening that removes specks) into one region per bruise: each pixel
// joins the basin of the peak of the wide map it belongs to. Pixels are
// taken from the highest down; where two regions meet, the one with the
// lower peak stays a bruise of its own only if its peak rises above the
// meeting point by at least minProm — otherwise (noise on one bruise's
// plateau) the two merge. It returns each region's pixels, highest peak
// first, and every pixel's region (−1: none).
func candidates(wide []float32, skin []bool, w, h int, thr, minProm float32) ([][]int, []int32, error) {
	m := gocv.NewMatWithSize(h, w, gocv.MatTypeCV8UC1)
	defer m.Close()
	d, err := m.DataPtrUint8()
	if err != nil {
		return nil, nil, fmt.Errorf("measure: %w", err)
	}
	for i, v := range wide {
		if skin[i] && v > thr {
			d[i] = 255
		} else {
			d[i] = 0
		}
	}
	kernel := gocv.GetStructuringElement(gocv.MorphEllipse, image.Pt(3, 3))
	defer kernel.Close()
	gocv.MorphologyEx(m, &m, gocv.MorphOpen, kernel)
	d, err = m.DataPtrUint8()
	if err != nil {
		return nil, nil, fmt.Errorf("measure: %w", err)
	}
	var order []int
	for i, v := range d {
		if v != 0 {
			order = append(order, i)
		}
	}
	// Highest first; ties by position, so the order is the same every run.
	slices.SortFunc(order, func(a, b int) int {
		switch {
		case wide[a] > wide[b]:
			return -1
		case wide[a] < wide[b]:
			return 1
		}
		return a - b
	})
	parent := make([]int32, w*h)
	for i := range parent {
		parent[i] = -1
	}
	var find func(i int32) int32
	find = func(i int32) int32 {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	var roots []int32
	for _, p := range order {
		x, y := p%w, p/w
		roots = roots[:0]
		for dy := -1; dy <= 1; dy++ {
			for dx := -1; dx <= 1; dx++ {
				nx, ny := x+dx, y+dy
				if (dx == 0 && dy == 0) || nx < 0 || ny < 0 || nx >= w || ny >= h {
					continue
				}
				if j := ny*w + nx; parent[j] >= 0 {
					if r := find(int32(j)); !slices.Contains(roots, r) {
						roots = append(roots, r)
					}
				}
			}
		}
		if len(roots) == 0 {
			parent[p] = int32(p) // a new peak
			continue
		}
		// The root with the highest peak (a root is its region's peak).
		main := roots[0]
		for _, r := range roots[1:] {
			if wide[r] > wide[main] || (wide[r] == wide[main] && r < main) {
				main = r
			}
		}
		for _, r := range roots {
			if r != main && wide[r]-wide[p] < minProm {
				parent[r] = main
			}
		}
		parent[p] = main
	}
	region := make([]int32, w*h)
	index := map[int32]int32{}
	var comps [][]int
	for i := range region {
		region[i] = -1
	}
	// Regions numbered in the order of their peaks, highest first.
	for _, p := range order {
		r := find(int32(p))
		k, ok := index[r]
		if !ok {
			k = int32(len(comps))
			index[r] = k
			comps = append(comps, nil)
		}
		region[p] = k
		comps[k] = append(comps[k], p)
	}
	return comps, region, nil
}

// touching finds the labelled regions 1…n that share a boundary at least
// minContact pixels long (pixels of one with a 4-neighbour in the other)
// and returns, for each region (index label − 1), the lowest-numbered
// region it is joined to, directly or through others; nil if none touch.
func touching(labels []int32, w, h, n, minContact int) []int {
	if n < 2 {
		return nil
	}
	contact := map[[2]int32]int{}
	for i, l := range labels {
		if l == 0 {
			continue
		}
		x, y := i%w, i/w
		seen := [2]int32{}
		for k, j := range []int{i - 1, i + 1, i - w, i + w} {
			if (k == 0 && x == 0) || (k == 1 && x == w-1) || (k == 2 && y == 0) || (k == 3 && y == h-1) {
				continue
			}
			if m := labels[j]; m != 0 && m != l && m != seen[0] && m != seen[1] {
				if seen[0] == 0 {
					seen[0] = m
				} else {
					seen[1] = m
				}
				contact[[2]int32{l, m}]++
			}
		}
	}
	root := make([]int, n)
	for g := range root {
		root[g] = g
	}
	var find func(g int) int
	find = func(g int) int {
		for root[g] != g {
			g = root[g]
		}
		return g
	}
	any := false
	// In a fixed order: map iteration is random, the result must not be.
	pairs := make([][2]int32, 0, len(contact))
	for pr := range contact {
		pairs = append(pairs, pr)
	}
	slices.SortFunc(pairs, func(a, b [2]int32) int {
		if a[0] != b[0] {
			return int(a[0] - b[0])
		}
		return int(a[1] - b[1])
	})
	for _, pr := range pairs {
		if contact[pr] < minContact {
			continue
		}
		a, b := find(int(pr[0]-1)), find(int(pr[1]-1))
		if a != b {
			root[max(a, b)] = min(a, b)
			any = true
		}
	}
	if !any {
		return nil
	}
	for g := range root {
		root[g] = find(g)
	}
	return root
}

// flood returns the 8-connected set of pixels reachable from start for
// which in is true, marking them in seen.
func flood(w, h, start int, seen []bool, in func(int) bool) []int {
	seen[start] = true
	out := []int{start}
	for k := 0; k < len(out); k++ {
		i := out[k]
		x, y := i%w, i/w
		for dy := -1; dy <= 1; dy++ {
			for dx := -1; dx <= 1; dx++ {
				nx, ny := x+dx, y+dy
				if nx < 0 || ny < 0 || nx >= w || ny >= h {
					continue
				}
				j := ny*w + nx
				if !seen[j] && in(j) {
					seen[j] = true
					out = append(out, j)
				}
			}
		}
	}
	return out
}

// grow labels the skin pixels of the narrow map at or above level that are
// connected to a seed pixel at or above it (or, if none is, to the seed's
// highest pixel).
func grow(narrow []float32, skin []bool, labels []int32, w, h int, seed []int, level float32, label int32) []int {
	seen := make([]bool, w*h)
	var region []int
	in := func(j int) bool { return skin[j] && labels[j] == 0 && narrow[j] >= level }
	top := seed[0]
	for _, s := range seed {
		if narrow[s] > narrow[top] {
			top = s
		}
		if !seen[s] && in(s) {
			region = append(region, flood(w, h, s, seen, in)...)
		}
	}
	if len(region) == 0 && labels[top] == 0 {
		region = flood(w, h, top, seen, func(j int) bool { return in(j) || j == top })
	}
	for _, i := range region {
		labels[i] = label
	}
	return region
}

// ringMedian is the median of the narrow map over the region's pixels at
// depth × its equivalent radius (√(area/π)) from its edge, ± one pixel
// (chessboard distance to the nearest pixel outside it).
func ringMedian(narrow []float32, labels []int32, region []int, w, h int, label int32, depth float64) float64 {
	dist := make(map[int]int, len(region))
	var queue []int
	for _, i := range region {
		x, y := i%w, i/w
		for _, d := range [][2]int{{-1, 0}, {1, 0}, {0, -1}, {0, 1}, {-1, -1}, {1, 1}, {1, -1}, {-1, 1}} {
			nx, ny := x+d[0], y+d[1]
			if nx < 0 || ny < 0 || nx >= w || ny >= h || labels[ny*w+nx] != label {
				dist[i] = 1
				queue = append(queue, i)
				break
			}
		}
	}
	for k := 0; k < len(queue); k++ {
		i := queue[k]
		x, y := i%w, i/w
		for _, d := range [][2]int{{-1, 0}, {1, 0}, {0, -1}, {0, 1}, {-1, -1}, {1, 1}, {1, -1}, {-1, 1}} {
			nx, ny := x+d[0], y+d[1]
			if nx < 0 || ny < 0 || nx >= w || ny >= h {
				continue
			}
			j := ny*w + nx
			if _, ok := dist[j]; !ok && labels[j] == label {
				dist[j] = dist[i] + 1
				queue = append(queue, j)
			}
		}
	}
	want := max(1, int(math.Round(depth*math.Sqrt(float64(len(region))/math.Pi))))
	var vals []float64
	deepest := 0
	for _, i := range region {
		deepest = max(deepest, dist[i])
	}
	want = min(want, deepest)
	for _, i := range region {
		if d := dist[i]; d >= want-1 && d <= want+1 {
			vals = append(vals, float64(narrow[i]))
		}
	}
	if len(vals) == 0 {
		return 0
	}
	return median(vals)
}

// fillHoles adds to region the pixels it encloses (those its bounding box's
// border cannot reach without crossing it).
func fillHoles(region []int, labels []int32, w, h int, label int32) []int {
	if len(region) == 0 {
		return region
	}
	x0, y0, x1, y1 := w, h, -1, -1
	for _, i := range region {
		x, y := i%w, i/w
		x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
	}
	x0, y0, x1, y1 = max(0, x0-1), max(0, y0-1), min(w-1, x1+1), min(h-1, y1+1)
	bw, bh := x1-x0+1, y1-y0+1
	outside := make([]bool, bw*bh)
	var queue []int
	mark := func(x, y int) {
		j := (y-y0)*bw + (x - x0)
		if !outside[j] && labels[y*w+x] != label {
			outside[j] = true
			queue = append(queue, j)
		}
	}
	for x := x0; x <= x1; x++ {
		mark(x, y0)
		mark(x, y1)
	}
	for y := y0; y <= y1; y++ {
		mark(x0, y)
		mark(x1, y)
	}
	for k := 0; k < len(queue); k++ {
		x, y := queue[k]%bw+x0, queue[k]/bw+y0
		if x > x0 {
			mark(x-1, y)
		}
		if x < x1 {
			mark(x+1, y)
		}
		if y > y0 {
			mark(x, y-1)
		}
		if y < y1 {
			mark(x, y+1)
		}
	}
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			i := y*w + x
			if !outside[(y-y0)*bw+(x-x0)] && labels[i] != label {
				labels[i] = label
				region = append(region, i)
			}
		}
	}
	return region
}

// moments measures a region of reduced pixels (r frame pixels each way).
func moments(region []int, w int, r, mmPerPx float64) Bruise {
	var sx, sy float64
	x0, y0, x1, y1 := math.MaxInt, math.MaxInt, -1, -1
	for _, i := range region {
		x, y := i%w, i/w
		sx += float64(x)
		sy += float64(y)
		x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
	}
	n := float64(len(region))
	mx, my := sx/n, sy/n
	var cxx, cyy, cxy float64
	for _, i := range region {
		dx, dy := float64(i%w)-mx, float64(i/w)-my
		cxx += dx * dx
		cyy += dy * dy
		cxy += dx * dy
	}
	// Each pixel is a unit square, not a point: its own variance is 1/12
	// along each axis.
	cxx, cyy, cxy = cxx/n+1.0/12, cyy/n+1.0/12, cxy/n
	tr, det := cxx+cyy, cxx*cyy-cxy*cxy
	disc := math.Sqrt(max(0, tr*tr/4-det))
	l1, l2 := tr/2+disc, max(0, tr/2-disc)
	theta := 0.5 * math.Atan2(2*cxy, cxx-cyy) * 180 / math.Pi
	if theta < 0 {
		theta += 180
	}
	mm := r * mmPerPx
	ri := int(r)
	return Bruise{
		AreaMM2:        n * mm * mm,
		MajorMM:        4 * math.Sqrt(l1) * mm,
		MinorMM:        4 * math.Sqrt(l2) * mm,
		OrientationDeg: theta,
		CentroidPx:     [2]float64{(mx + 0.5) * r, (my + 0.5) * r},
		BBoxPx:         [4]int{x0 * ri, y0 * ri, (x1 + 1) * ri, (y1 + 1) * ri},
	}
}
