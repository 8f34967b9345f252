package register

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"gocv.io/x/gocv"

	"github.com/exhibit-forensics/exhibit/devices/camera"
)

// pyramid returns f's normalised images at each of cfg.Levels (coarse to
// fine), CV_32F, and their sizes. Every level covers the same top-left
// crop of f, whose sides are whole multiples of the coarsest factor, so
// that a pixel at one level maps onto the next by a whole ratio exactly.
func pyramid(f *camera.Frame, cfg Config) ([]gocv.Mat, []image.Point, error) {
	coarse := cfg.Levels[0]
	cw, ch := f.Width/coarse*coarse, f.Height/coarse*coarse
	if cw/coarse < 16 || ch/coarse < 16 {
		return nil, nil, fmt.Errorf("frame %d×%d is too small for 1/%d resolution", f.Width, f.Height, coarse)
	}
	full, err := matFrom16(f)
	if err != nil {
		return nil, nil, err
	}
	defer full.Close()
	crop := full.Region(image.Rect(0, 0, cw, ch))
	defer crop.Close()

	n := len(cfg.Levels)
	mats := make([]gocv.Mat, n)
	dims := make([]image.Point, n)
	ok := false
	defer func() {
		if !ok {
			for i := range mats {
				mats[i].Close()
			}
		}
	}()
	// Finest level first, from the 16-bit crop (area averaging), then each
	// coarser level from the one finer than it.
	raw := make([]gocv.Mat, n)
	defer func() {
		for i := range raw {
			raw[i].Close()
		}
	}()
	for i := n - 1; i >= 0; i-- {
		l := cfg.Levels[i]
		dims[i] = image.Pt(cw/l, ch/l)
		raw[i] = gocv.NewMat()
		if i == n-1 {
			small := gocv.NewMat()
			if l == 1 {
				crop.CopyTo(&small)
			} else {
				gocv.Resize(crop, &small, dims[i], 0, 0, gocv.InterpolationArea)
			}
			small.ConvertTo(&raw[i], gocv.MatTypeCV32F)
			small.Close()
		} else {
			gocv.Resize(raw[i+1], &raw[i], dims[i], 0, 0, gocv.InterpolationArea)
		}
	}
	for i := range n {
		mats[i], err = normalise(raw[i], cfg.Normalise)
		if err != nil {
			return nil, nil, fmt.Errorf("at 1/%d resolution: %w", cfg.Levels[i], err)
		}
	}
	ok = true
	return mats, dims, nil
}

// gradSigma is the Gaussian smoothing (in pixels of the level) before the
// gradient: it takes the edge off the noise of dim, barrier-filtered
// bands without blurring the scale's edges away.
const gradSigma = 1.0

// normalise derives the image ECC compares from a level (CV_32F) and
// scales it to zero mean and unit variance.
func normalise(src gocv.Mat, how Normalisation) (gocv.Mat, error) {
	img := gocv.NewMat()
	switch how {
	case Gradient:
		blur := gocv.NewMat()
		defer blur.Close()
		gocv.GaussianBlur(src, &blur, image.Pt(0, 0), gradSigma, gradSigma, gocv.BorderReflect101)
		gx, gy := gocv.NewMat(), gocv.NewMat()
		defer gx.Close()
		defer gy.Close()
		gocv.Sobel(blur, &gx, gocv.MatTypeCV32F, 1, 0, 3, 1, 0, gocv.BorderReflect101)
		gocv.Sobel(blur, &gy, gocv.MatTypeCV32F, 0, 1, 3, 1, 0, gocv.BorderReflect101)
		gocv.Magnitude(gx, gy, &img)
	default:
		src.CopyTo(&img)
	}
	mean, sd := meanStd(img)
	if !(sd > 0) || math.IsNaN(mean) {
		img.Close()
		return gocv.Mat{}, fmt.Errorf("the image is uniform, nothing to align on: %w", ErrNoConverge)
	}
	img.SubtractFloat(float32(mean))
	img.DivideFloat(float32(sd))
	return img, nil
}

// meanStd is the mean and standard deviation of a CV_32F image, summed in
// float64 in a fixed order.
func meanStd(m gocv.Mat) (mean, sd float64) {
	p, err := m.DataPtrFloat32()
	if err != nil || len(p) == 0 {
		return math.NaN(), 0
	}
	var s float64
	for _, v := range p {
		s += float64(v)
	}
	mean = s / float64(len(p))
	var ss float64
	for _, v := range p {
		d := float64(v) - mean
		ss += d * d
	}
	return mean, math.Sqrt(ss / float64(len(p)))
}

// residual is the RMS difference between the reference level ref and the
// band level band warped by w (level coordinates), each re-standardised
// over the pixels where the warped band is wholly inside the band.
func residual(ref, band gocv.Mat, w Warp) (float64, error) {
	m := gocv.NewMatWithSize(2, 3, gocv.MatTypeCV64F)
	defer m.Close()
	for i := range 2 {
		for j := range 3 {
			m.SetDoubleAt(i, j, w[i][j])
		}
	}
	size := image.Pt(ref.Cols(), ref.Rows())
	flags := gocv.InterpolationLinear | gocv.WarpInverseMap
	warped := gocv.NewMat()
	defer warped.Close()
	gocv.WarpAffineWithParams(band, &warped, m, size, flags, gocv.BorderConstant, color.RGBA{})
	ones := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(255, 0, 0, 0), band.Rows(), band.Cols(), gocv.MatTypeCV8U)
	defer ones.Close()
	valid := gocv.NewMat()
	defer valid.Close()
	gocv.WarpAffineWithParams(ones, &valid, m, size, flags, gocv.BorderConstant, color.RGBA{})

	a, err := ref.DataPtrFloat32()
	if err != nil {
		return 0, err
	}
	b, err := warped.DataPtrFloat32()
	if err != nil {
		return 0, err
	}
	v, err := valid.DataPtrUint8()
	if err != nil {
		return 0, err
	}
	var n, sa, sb float64
	for i := range a {
		if v[i] == 255 {
			n++
			sa += float64(a[i])
			sb += float64(b[i])
		}
	}
	if n < 2 {
		return math.NaN(), fmt.Errorf("the warp leaves no overlap with the reference: %w", ErrNoConverge)
	}
	ma, mb := sa/n, sb/n
	var vaa, vbb float64
	for i := range a {
		if v[i] == 255 {
			da, db := float64(a[i])-ma, float64(b[i])-mb
			vaa += da * da
			vbb += db * db
		}
	}
	sda, sdb := math.Sqrt(vaa/n), math.Sqrt(vbb/n)
	if !(sda > 0) || !(sdb > 0) {
		return math.NaN(), fmt.Errorf("the overlap is uniform: %w", ErrNoConverge)
	}
	var ss float64
	for i := range a {
		if v[i] == 255 {
			d := (float64(a[i])-ma)/sda - (float64(b[i])-mb)/sdb
			ss += d * d
		}
	}
	return math.Sqrt(ss / n), nil
}
