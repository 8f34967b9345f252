// Package register aligns the bands of a capture to a reference band, so
// that derivatives which combine bands pixel by pixel (band ratios,
// pseudo-colour composites, a bruise outline drawn on another band) put
// the same point of skin at the same pixel.
//
// The bands of a capture are exposed one after another, a second or more
// apart, while the light engine changes band and filter: the photographer's
// hands, the stand and the patient move by a few pixels in between. The
// simulator (devices/camera/camsim) reproduces this as whole-pixel hand
// motion of up to ±4 px per frame.
//
// # What it does
//
// For each band, against a reference prepared once (New):
//
//  1. Downscale band and reference with area averaging (OpenCV INTER_AREA)
//     to a pyramid of 1/8 and 1/4 resolution (Config.Levels), from a
//     top-left crop whose sides are whole multiples of the coarsest factor,
//     so that pixel centres map between levels by exact ratios.
//  2. Normalise each level (below) into a float32 image of zero mean and
//     unit variance.
//  3. Estimate the warp with ECC (cv::findTransformECC, Evangelidis and
//     Psarakis' enhanced correlation coefficient), starting from the 2×3
//     float32 identity at 1/8, then refining at 1/4 from the 1/8 estimate
//     carried up. At factor s a level pixel x sits at full-resolution
//     s·x + (s−1)/2, so the linear part of the warp is kept and its
//     translation becomes s·t + (I − A)·((s−1)/2, (s−1)/2) (Warp.rescale).
//  4. Apply the full-resolution warp once, in 16 bits (Apply).
//
// The domain notes' timings set the levels: ECC at 1/2 resolution costs
// seconds per band, at 1/4 and 1/8 a fraction of a second. With two levels
// the coarse one absorbs the ±8 px relative motion (1 px at 1/8) and the
// fine one gives sub-pixel accuracy. In an exploratory run (12 MP, six
// skin groups, white reference) a third level at 1/2 cut the worst
// translation error from 0.29 to 0.12 px but took 0.27–1.05 s per band on
// this 2-core machine instead of about 0.1 s, so it is available
// (Config.Levels: 8, 4, 2) but not the default.
//
// # Why a Euclidean model
//
// ECC offers translation, Euclidean (rotation + translation), affine and
// homography. The kiosk holds the camera at a fixed distance, square to the
// skin; between bands the camera or the patient shifts and may roll
// slightly — a Euclidean motion. An affine model adds scale and shear:
// three more parameters that the noisy, dim barrier-filtered bands and
// their band-specific appearance (a bruise dark under 415 nm and faint in
// white) can pull on, and a spurious scale would then distort every
// measurement made in millimetres on the registered band. On the
// simulator's 24 band frames (TestSimulatorBands: four bands, six skin
// groups, 12 MP) the worst displacement error over the frame's corners was
// 0.27 px Euclidean and 1.64 px affine, all else equal. A translation-only
// model would be enough for camsim's motion but not for a real roll of the
// camera.
//
// # Why gradient images
//
// ECC's criterion is already invariant to a change of gain and offset
// between the two images, so scaling to zero mean and unit variance alone
// (Intensity) only keeps the numbers well conditioned. What differs between
// bands is structure: glare and hot spots in unfiltered white and 850 nm
// light but none behind a barrier filter, ring-light shading, bruises that
// are dark in one band and absent in another, the scale's fluorescent base
// bright where the skin is dim. The default (Gradient) smooths each level
// (Gaussian, σ = 1 level pixel, taking the edge off the noise of dim bands),
// takes the magnitude of its Sobel gradient, then scales that to zero mean
// and unit variance: edges — the scale's outline, marks and circles, skin
// texture — are common to every band, smooth shading is not. On the same 24
// frames the worst displacement error was 0.27 px with gradient images and
// 0.53 px with intensity images (outside the ±0.5 px the pipeline needs).
//
// # Capture range
//
// TestSyntheticMotion moves a 12 MP simulator band further than camsim's
// hand motion does: shifts of up to 64 px and rotations of up to 2° are
// recovered to within 0.07 px at every corner; at 3° ECC settles on a wrong
// warp with a correlation of 0.38, which the threshold turns into
// ErrNoConverge rather than a wrong registration. Register original
// frames: a frame that already has a black border (one registered before,
// for instance) gives ECC an edge that does not move with the skin — in
// a trial such borders biased the estimate by 1–2 px.
//
// # The warp, interpolation and border
//
// Warp follows OpenCV's inverse-map convention (WARP_INVERSE_MAP): the
// registered pixel at reference coordinates x is sampled from the band at
// W·x. Apply uses bilinear interpolation (INTER_LINEAR): every output
// sample is a convex combination of the four band samples around its
// source point, so it never leaves their range and invents no detail.
// Nearest neighbour would throw the sub-pixel part of the estimate away
// (up to half a pixel of misregistration); bicubic and Lanczos overshoot
// at sharp edges such as the scale's print, creating values no band pixel
// held and clipping in 16 bits. The price of bilinear is a slight
// smoothing: a half-pixel shift averages two neighbours (halving the noise
// variance there); a whole-pixel shift copies samples exactly (TestApply).
//
// Pixels whose source lies wholly or partly outside the band are not
// invented: the border is constant 0 and Mask marks them invalid (0), the
// rest valid (1). The mask is the same warp applied to an all-255 8-bit
// image: OpenCV's fixed-point bilinear weights sum to exactly 255 only
// where all four sources are inside, so the mask follows the image's own
// sampling, OpenCV's 1/32-pixel coordinate quantisation included.
//
// # What is recorded
//
// Estimate is what a recipe stores: the full-resolution warp, the ECC
// correlation at the finest level, a residual (the RMS difference of the
// normalised reference and the normalised warped band at the finest level,
// over the pixels valid in both: 0 for identical images, √2 for unrelated
// ones), each level's correlation and translation, and the parameters and
// library versions (Params). Its JSON form round-trips the warp exactly.
// On the simulator the correlation of a correctly registered band was
// 0.94–0.999 for the four bands above, and 0.88 for the unfiltered 415 and
// 365 nm bands on the darkest skin (still within 0.23 px); a warp ECC got
// wrong reached 0.38 (3°, below), pure noise 0.08. Below
// Config.MinCorrelation (0.6, between the two), or when ECC fails,
// Register returns an error wrapping ErrNoConverge; Advice words it for
// the photographer.
//
// gocv v0.31.0 calls cv::findTransformECC without catching C++ exceptions,
// and ECC throws one when it cannot converge (images uncorrelated or not
// overlapping): through cgo that would terminate the process. A few lines
// of C++ in this package (ecc.cpp) make the same call inside a try/catch,
// and also expose cv::setNumThreads, which gocv v0.31.0 does not wrap.
//
// # Determinism
//
// A later step re-runs registration on the sealed originals to reproduce
// derivatives bit for bit, so the same input must give the same bytes.
// OpenCV's parallel loops in resize, blur and warp split the output by
// rows and compute each pixel independently of the split, and this
// package's own sums run in a fixed order; rather than trust a reading of
// OpenCV's source for ECC, TestDeterministic checks the whole: two runs with OpenCV's default two worker
// threads and one run with one thread (SetThreads(1)) give identical warps,
// scores and output bytes, as does Apply with the recorded warp; the
// thread count is therefore left alone. TestGolden pins the bytes of one
// simulated capture. OpenCV picks SIMD code paths by CPU at run time, so a
// different processor or OpenCV build may differ in the last bits of the
// estimate: a recipe records the warp itself (and Params the versions), and
// Apply with that warp is what reproduces a derivative.
//
// # Cost
//
// BenchmarkRegister registers five 12 MP 16-bit bands (white, 415 nm +
// yellow, 450 nm + orange, 850 nm + IR-pass, 450 nm + yellow) to a
// cross-polarised reference prepared once; BenchmarkParts splits one band
// into estimate and apply. On this shared 2-core machine the medians of
// -count=5 were 0.08–0.14 s per band (estimate about 60 ms, apply about 80
// ms, the reference pyramid 8 ms) at a load average of about 4, and
// 0.2–0.36 s per band at a load average of 8–10 (other builds running). Of
// Apply's cost, the 16-bit warp and the mask's 8-bit warp take about the
// same time each.
package register
