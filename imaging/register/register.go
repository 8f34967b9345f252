package register

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"

	"gocv.io/x/gocv"

	"github.com/exhibit-forensics/exhibit/devices/camera"
)

// Motion is the geometric model ECC fits between a band and the
// reference.
type Motion int

const (
	// Euclidean: rotation and translation (3 parameters). The default; see
	// the package doc for why.
	Euclidean Motion = iota
	// Affine: rotation, translation, scale and shear (6 parameters).
	Affine
)

func (m Motion) String() string {
	switch m {
	case Euclidean:
		return "euclidean"
	case Affine:
		return "affine"
	}
	return fmt.Sprintf("Motion(%d)", int(m))
}

func (m Motion) cv() (int, error) {
	switch m {
	case Euclidean:
		return cvMotionEuclidean, nil
	case Affine:
		return cvMotionAffine, nil
	}
	return 0, fmt.Errorf("register: unknown motion model %d", int(m))
}

// Normalisation is what ECC compares: which image is derived from each
// band before the estimate.
type Normalisation int

const (
	// Gradient: the magnitude of the Sobel gradient of the downscaled,
	// lightly smoothed band, scaled to zero mean and unit variance. The
	// default; see the package doc.
	Gradient Normalisation = iota
	// Intensity: the downscaled band itself, scaled to zero mean and unit
	// variance.
	Intensity
)

func (n Normalisation) String() string {
	switch n {
	case Gradient:
		return "gradient"
	case Intensity:
		return "intensity"
	}
	return fmt.Sprintf("Normalisation(%d)", int(n))
}

// Config tunes registration. The zero value is the default and what the
// package doc describes.
type Config struct {
	// Motion is the model fitted; default Euclidean.
	Motion Motion
	// Normalise chooses the image ECC compares; default Gradient.
	Normalise Normalisation
	// Levels are the downscale factors ECC runs at, coarse to fine, each
	// dividing the one before it; default {8, 4}. The estimate of each
	// level starts the next.
	Levels []int
	// Iterations caps ECC's iterations per level; default 50.
	Iterations int
	// Epsilon stops ECC when an iteration changes the warp by less; default
	// 1e-4.
	Epsilon float64
	// MinCorrelation is the lowest ECC correlation accepted at the finest
	// level; default 0.6 (package doc). Below it Register fails with
	// ErrNoConverge.
	MinCorrelation float64
}

// Default values of Config.
const (
	DefaultIterations     = 50
	DefaultEpsilon        = 1e-4
	DefaultMinCorrelation = 0.6
)

// DefaultLevels are the default downscale factors, coarse to fine.
var DefaultLevels = []int{8, 4}

// eccGauss is the Gaussian kernel size ECC smooths both images with
// (OpenCV's default).
const eccGauss = 5

func (c Config) withDefaults() (Config, error) {
	if len(c.Levels) == 0 {
		c.Levels = DefaultLevels
	}
	c.Levels = append([]int(nil), c.Levels...)
	for i, l := range c.Levels {
		if l < 1 {
			return c, fmt.Errorf("register: level factor %d is below 1", l)
		}
		if i > 0 && c.Levels[i-1]%l != 0 {
			return c, fmt.Errorf("register: level factor %d does not divide %d", l, c.Levels[i-1])
		}
	}
	if c.Iterations <= 0 {
		c.Iterations = DefaultIterations
	}
	if c.Epsilon <= 0 {
		c.Epsilon = DefaultEpsilon
	}
	if c.MinCorrelation == 0 {
		c.MinCorrelation = DefaultMinCorrelation
	}
	if _, err := c.Motion.cv(); err != nil {
		return c, err
	}
	if c.Normalise != Gradient && c.Normalise != Intensity {
		return c, fmt.Errorf("register: unknown normalisation %d", int(c.Normalise))
	}
	return c, nil
}

// Warp is a 2×3 affine map in OpenCV's inverse-map convention: the
// registered band's pixel at reference coordinates (x, y) is sampled from
// the band at
//
//	x' = W[0][0]·x + W[0][1]·y + W[0][2]
//	y' = W[1][0]·x + W[1][1]·y + W[1][2]
//
// in full-resolution pixel coordinates (pixel (0, 0)'s centre at 0, 0):
// the band shows at (x', y') what the reference shows at (x, y). For pure
// hand motion the translation (W[0][2], W[1][2]) is where a feature sits
// in the band minus where it sits in the reference.
type Warp [2][3]float64

// Identity is the warp that leaves a band where it is.
var Identity = Warp{{1, 0, 0}, {0, 1, 0}}

// Translation returns the warp's translation (W[0][2], W[1][2]).
func (w Warp) Translation() (x, y float64) { return w[0][2], w[1][2] }

// RotationDeg returns the rotation the warp's linear part holds, in
// degrees (atan2(W[1][0], W[0][0])).
func (w Warp) RotationDeg() float64 { return math.Atan2(w[1][0], w[0][0]) * 180 / math.Pi }

// rescale converts w from pixel coordinates at downscale factor from to
// pixel coordinates at factor to. With r = from/to, a point x at factor
// from sits at r·x + (r−1)/2 at factor to (pixel centres at integers, an
// area downscale by whole factors), so the linear part is kept and the
// translation becomes r·t + (I − A)·c with c = ((r−1)/2, (r−1)/2).
func (w Warp) rescale(from, to float64) Warp {
	r := from / to
	c := (r - 1) / 2
	out := w
	for i := range 2 {
		out[i][2] = r*w[i][2] + c - (w[i][0]*c + w[i][1]*c)
	}
	return out
}

// Result is one band's registration: the estimate, what it achieved, and
// the registered image.
type Result struct {
	Estimate
	// Frame is the band warped onto the reference grid, 16-bit, the same
	// size as the reference. Pixels whose source lies (even partly)
	// outside the band are 0 and marked invalid in Mask. Meta is the
	// band's; Encoded is nil (this is a derivative, not what the camera
	// sent).
	Frame *camera.Frame
	// Mask marks the pixels of Frame that come wholly from inside the band.
	Mask *Mask
}

// Estimate is what a recipe stores about one band's registration.
type Estimate struct {
	// Warp is the full-resolution warp (inverse-map convention, see Warp).
	Warp Warp `json:"warp"`
	// Correlation is ECC's enhanced correlation coefficient at the finest
	// level (1 is a perfect match of the normalised images).
	Correlation float64 `json:"ecc_correlation"`
	// Residual is the root-mean-square difference between the normalised
	// (zero-mean, unit-variance) reference and the normalised band warped
	// with the estimate, at the finest level, over pixels valid in both: 0
	// for identical images, about 1.41 for unrelated ones.
	Residual float64 `json:"residual_rms"`
	// Levels records each level's outcome, coarse to fine.
	Levels []Level `json:"levels"`
	// Params are the settings used.
	Params Params `json:"params"`
}

// Level is one pyramid level's ECC outcome.
type Level struct {
	Factor      int     `json:"factor"`
	Width       int     `json:"width"`
	Height      int     `json:"height"`
	Correlation float64 `json:"ecc_correlation"`
	// Translation is the full-resolution translation after this level.
	Translation [2]float64 `json:"translation_px"`
}

// Params are the settings and library versions an estimate was made with,
// for a recipe.
type Params struct {
	Motion         string  `json:"motion"`
	Normalise      string  `json:"normalise"`
	Levels         []int   `json:"levels"`
	Iterations     int     `json:"iterations"`
	Epsilon        float64 `json:"epsilon"`
	GaussFiltSize  int     `json:"ecc_gauss_filt_size"`
	Downscale      string  `json:"downscale"`
	GradientSigma  float64 `json:"gradient_sigma,omitempty"`
	MinCorrelation float64 `json:"min_correlation"`
	Interpolation  string  `json:"interpolation"`
	Border         string  `json:"border"`
	OpenCV         string  `json:"opencv"`
	Gocv           string  `json:"gocv"`
}

// Mask marks valid pixels of a registered frame: Pix[y*Width+x] is 1 where
// the pixel's value comes wholly from inside the band, 0 where the warp
// reached outside it (those pixels hold 0, not invented data).
type Mask struct {
	Width, Height int
	Pix           []uint8
	// Valid counts the 1s.
	Valid int
}

// Registrar registers bands to one reference, reusing the reference's
// pyramid across bands. It is meant for one goroutine at a time.
type Registrar struct {
	cfg  Config
	ref  *camera.Frame
	pyr  []gocv.Mat // normalised reference, one per level
	dims []image.Point
}

// New prepares registration to ref: it builds the reference's normalised
// pyramid once. Close releases it.
func New(ref *camera.Frame, cfg Config) (*Registrar, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := checkFrame(ref); err != nil {
		return nil, fmt.Errorf("register: reference: %w", err)
	}
	r := &Registrar{cfg: cfg, ref: ref}
	r.pyr, r.dims, err = pyramid(ref, cfg)
	if err != nil {
		return nil, fmt.Errorf("register: reference: %w", err)
	}
	return r, nil
}

// Close releases the reference pyramid.
func (r *Registrar) Close() {
	for i := range r.pyr {
		r.pyr[i].Close()
	}
	r.pyr = nil
}

// Params returns the settings the registrar uses.
func (r *Registrar) Params() Params { return r.cfg.params() }

func (c Config) params() Params {
	p := Params{
		Motion: c.Motion.String(), Normalise: c.Normalise.String(), Levels: append([]int(nil), c.Levels...),
		Iterations: c.Iterations, Epsilon: c.Epsilon, GaussFiltSize: eccGauss, MinCorrelation: c.MinCorrelation,
		Downscale:     "area (INTER_AREA) of the top-left crop to whole multiples of the coarsest factor",
		Interpolation: "bilinear (INTER_LINEAR, WARP_INVERSE_MAP)", Border: "constant 0, masked",
		OpenCV: OpenCVVersion(), Gocv: gocv.Version(),
	}
	if c.Normalise == Gradient {
		p.GradientSigma = gradSigma
	}
	return p
}

// Register estimates band's warp to the reference and applies it once at
// full resolution. A band ECC cannot align fails with an error wrapping
// ErrNoConverge; the estimate so far is returned with it (Result.Frame
// nil).
func (r *Registrar) Register(ctx context.Context, band *camera.Frame) (Result, error) {
	est, err := r.Estimate(ctx, band)
	if err != nil {
		return Result{Estimate: est}, err
	}
	f, m, err := Apply(band, est.Warp)
	if err != nil {
		return Result{Estimate: est}, err
	}
	return Result{Estimate: est, Frame: f, Mask: m}, nil
}

// Estimate finds band's warp to the reference without applying it.
func (r *Registrar) Estimate(ctx context.Context, band *camera.Frame) (Estimate, error) {
	if r.pyr == nil {
		return Estimate{}, errors.New("register: registrar closed")
	}
	if err := checkFrame(band); err != nil {
		return Estimate{}, fmt.Errorf("register: band: %w", err)
	}
	if band.Width != r.ref.Width || band.Height != r.ref.Height {
		return Estimate{}, fmt.Errorf("register: band is %d×%d, reference %d×%d",
			band.Width, band.Height, r.ref.Width, r.ref.Height)
	}
	motion, _ := r.cfg.Motion.cv()
	est := Estimate{Warp: Identity, Params: r.cfg.params()}
	pyr, _, err := pyramid(band, r.cfg)
	if err != nil {
		return est, fmt.Errorf("register: band: %w", err)
	}
	defer func() {
		for i := range pyr {
			pyr[i].Close()
		}
	}()
	w := Identity.rescale(1, float64(r.cfg.Levels[0]))
	warp := gocv.NewMatWithSize(2, 3, gocv.MatTypeCV32F)
	defer warp.Close()
	for i, f := range r.cfg.Levels {
		if err := ctx.Err(); err != nil {
			return est, err
		}
		if i > 0 {
			w = w.rescale(float64(r.cfg.Levels[i-1]), float64(f))
		}
		setWarp(&warp, w)
		rho, err := ecc(r.pyr[i], pyr[i], &warp, motion, r.cfg.Iterations, r.cfg.Epsilon, eccGauss)
		if err != nil {
			return est, fmt.Errorf("register: at 1/%d resolution: %w", f, err)
		}
		w = getWarp(warp)
		full := w.rescale(float64(f), 1)
		tx, ty := full.Translation()
		est.Levels = append(est.Levels, Level{Factor: f, Width: r.dims[i].X, Height: r.dims[i].Y,
			Correlation: rho, Translation: [2]float64{tx, ty}})
		est.Correlation = rho
		est.Warp = full
	}
	last := len(r.cfg.Levels) - 1
	est.Residual, err = residual(r.pyr[last], pyr[last], w)
	if err != nil {
		return est, err
	}
	if !(est.Correlation >= r.cfg.MinCorrelation) {
		return est, fmt.Errorf("register: correlation %.3f is below %.3f: %w",
			est.Correlation, r.cfg.MinCorrelation, ErrNoConverge)
	}
	return est, nil
}

// Bands registers every band to ref. Results are in the order of bands;
// on the first band that fails, the error names it and the results so far
// are returned.
func Bands(ctx context.Context, ref *camera.Frame, bands []*camera.Frame, cfg Config) ([]Result, error) {
	r, err := New(ref, cfg)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	out := make([]Result, 0, len(bands))
	for i, b := range bands {
		res, err := r.Register(ctx, b)
		if err != nil {
			return out, fmt.Errorf("band %d: %w", i, err)
		}
		out = append(out, res)
	}
	return out, nil
}

// Apply warps f onto the reference grid with w, once, at full resolution
// and 16 bits: bilinear interpolation (OpenCV INTER_LINEAR with
// WARP_INVERSE_MAP), constant-0 border, and a mask of the pixels that
// came wholly from inside f. It is what Register does with its estimate,
// and what a recipe re-runs.
func Apply(f *camera.Frame, w Warp) (*camera.Frame, *Mask, error) {
	if err := checkFrame(f); err != nil {
		return nil, nil, fmt.Errorf("register: apply: %w", err)
	}
	for _, row := range w {
		for _, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, nil, fmt.Errorf("register: apply: warp %v is not finite", w)
			}
		}
	}
	src, err := matFrom16(f)
	if err != nil {
		return nil, nil, err
	}
	defer src.Close()
	m := gocv.NewMatWithSize(2, 3, gocv.MatTypeCV64F)
	defer m.Close()
	for i := range 2 {
		for j := range 3 {
			m.SetDoubleAt(i, j, w[i][j])
		}
	}
	size := image.Pt(f.Width, f.Height)
	flags := gocv.InterpolationLinear | gocv.WarpInverseMap
	dst := gocv.NewMat()
	defer dst.Close()
	gocv.WarpAffineWithParams(src, &dst, m, size, flags, gocv.BorderConstant, color.RGBA{})
	out := &camera.Frame{Width: f.Width, Height: f.Height, Channels: 1, Meta: f.Meta}
	px, err := dst.DataPtrUint16()
	if err != nil {
		return nil, nil, fmt.Errorf("register: apply: %w", err)
	}
	out.Pix = append([]uint16(nil), px...)

	ones := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(255, 0, 0, 0), f.Height, f.Width, gocv.MatTypeCV8U)
	defer ones.Close()
	mw := gocv.NewMat()
	defer mw.Close()
	gocv.WarpAffineWithParams(ones, &mw, m, size, flags, gocv.BorderConstant, color.RGBA{})
	mp, err := mw.DataPtrUint8()
	if err != nil {
		return nil, nil, fmt.Errorf("register: apply: mask: %w", err)
	}
	mask := &Mask{Width: f.Width, Height: f.Height, Pix: make([]uint8, len(mp))}
	for i, v := range mp {
		// Bilinear weights of the 8-bit warp sum to exactly 255 when all
		// four source pixels are inside; any share of border makes it less.
		if v == 255 {
			mask.Pix[i] = 1
			mask.Valid++
		} else {
			out.Pix[i] = 0
		}
	}
	return out, mask, nil
}

func checkFrame(f *camera.Frame) error {
	if f == nil {
		return errors.New("no frame")
	}
	if f.Channels != 1 {
		return fmt.Errorf("frame has %d channels; registration works on monochrome frames", f.Channels)
	}
	if f.Width < 64 || f.Height < 64 {
		return fmt.Errorf("frame %d×%d is too small to register", f.Width, f.Height)
	}
	if len(f.Pix) != f.Width*f.Height {
		return fmt.Errorf("frame %d×%d holds %d samples", f.Width, f.Height, len(f.Pix))
	}
	return nil
}

// matFrom16 copies a grey frame into a CV_16U Mat.
func matFrom16(f *camera.Frame) (gocv.Mat, error) {
	m := gocv.NewMatWithSize(f.Height, f.Width, gocv.MatTypeCV16U)
	p, err := m.DataPtrUint16()
	if err != nil {
		m.Close()
		return gocv.Mat{}, err
	}
	copy(p, f.Pix)
	return m, nil
}

func setWarp(m *gocv.Mat, w Warp) {
	for i := range 2 {
		for j := range 3 {
			m.SetFloatAt(i, j, float32(w[i][j]))
		}
	}
}

func getWarp(m gocv.Mat) Warp {
	var w Warp
	for i := range 2 {
		for j := range 3 {
			w[i][j] = float64(m.GetFloatAt(i, j))
		}
	}
	return w
}
