// Package enhance makes the derivatives a photographer and an examiner look
// at from registered 16-bit band frames: contrast-limited adaptive histogram
// equalisation (CLAHE), band ratio images, a pseudo-colour composite of three
// bands, and 8-bit previews and thumbnails.
//
// # Reproducible by construction
//
// A derivative is evidence only if another examiner can make it again from
// the sealed originals and get the same bytes (DESIGN.md, "Imaging"). So every
// operation here is a pure function of its input frames and of a parameter
// struct, and nothing else: no statistics of the picture choose a window or
// a scale behind the caller's back (a ratio is mapped to 16 bits by a fixed
// factor, a composite by fixed black and white points). Every operation
// returns, with its output, a Step: the operation's name, the parameters in
// force (defaults filled in) and the versions of the libraries that computed
// it. A recipe is the ordered list of Steps plus the digests of the inputs;
// recording it is the caller's business.
//
// Frames in are *camera.Frame, one channel, 16 bits, all of one size: the
// bands are assumed already registered to each other. 16-bit outputs are
// *camera.Frame too (BitDepth 16); 8-bit outputs are *image.NRGBA.
//
// # Which library does what
//
// CLAHE runs in OpenCV through gocv at full 16-bit depth (OpenCV's CLAHE
// histograms 16-bit images in 65,536 bins). Element-wise maps (the ratio,
// the windowing of a composite or a preview) are plain Go float64
// arithmetic: IEEE-754 results that do not depend on the CPU's vector
// units. Only previews and thumbnails go through
// github.com/disintegration/imaging, which works in 8-bit NRGBA and so stays
// off the evidence path; its resampling is deterministic too, and its
// version is recorded like OpenCV's.
//
// The tests pin one small derivative of each kind by the SHA-256 of its
// bytes (testdata/golden.txt; go test -update rewrites it) and check that
// running an operation twice gives the same bytes, CLAHE at 12 MP too
// (OpenCV spreads it over its own threads; gocv v0.31.0 cannot set their
// number, and the result does not depend on it). Not verified: the same
// CLAHE bytes on a CPU where OpenCV dispatches to other vector
// instructions; the recorded OpenCV version does not capture that.
package enhance
