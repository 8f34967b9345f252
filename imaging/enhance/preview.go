package enhance

import (
	"fmt"
	"image"

	"github.com/disintegration/imaging"

	"github.com/exhibit-forensics/exhibit/devices/camera"
)

// PreviewParams are the parameters of an 8-bit preview.
type PreviewParams struct {
	// Window maps the frame to 8 bits (see Window; zero: full range,
	// linear).
	Window Window `json:"window"`
	// MaxWidth × MaxHeight bounds the preview; the frame is shrunk to fit,
	// keeping its aspect ratio, and never enlarged. Zero: 1280 × 1280.
	MaxWidth  int `json:"max_width"`
	MaxHeight int `json:"max_height"`
	// Filter is the resampling filter: "lanczos" (default), "linear" or
	// "box".
	Filter string `json:"filter"`
}

// ThumbnailParams are PreviewParams for a thumbnail 256 pixels on its
// longer side.
func ThumbnailParams(w Window) PreviewParams {
	return PreviewParams{Window: w, MaxWidth: 256, MaxHeight: 256, Filter: "lanczos"}
}

var filters = map[string]imaging.ResampleFilter{
	"lanczos": imaging.Lanczos,
	"linear":  imaging.Linear,
	"box":     imaging.Box,
}

func (p PreviewParams) withDefaults() PreviewParams {
	p.Window = p.Window.withDefaults()
	if p.MaxWidth == 0 {
		p.MaxWidth = 1280
	}
	if p.MaxHeight == 0 {
		p.MaxHeight = 1280
	}
	if p.Filter == "" {
		p.Filter = "lanczos"
	}
	return p
}

// Preview makes an 8-bit grey picture of f for a screen: windowed to 8 bits
// in Go, then shrunk with disintegration/imaging. It is for looking at,
// never for measuring.
func Preview(f *camera.Frame, p PreviewParams) (*image.NRGBA, Step, error) {
	p = p.withDefaults()
	libs := ImagingLibraries()
	step := Step{Op: "preview", Inputs: []string{"band"}, Params: p, Libraries: libs}
	if err := p.Window.check(); err != nil {
		return nil, step, err
	}
	filter, ok := filters[p.Filter]
	if !ok {
		return nil, step, fmt.Errorf("enhance: preview filter %q: want lanczos, linear or box", p.Filter)
	}
	if p.MaxWidth < 1 || p.MaxHeight < 1 {
		return nil, step, fmt.Errorf("enhance: preview size %d×%d: want at least 1×1", p.MaxWidth, p.MaxHeight)
	}
	if err := checkFrames(f); err != nil {
		return nil, step, err
	}
	t := p.Window.table()
	g := image.NewGray(image.Rect(0, 0, f.Width, f.Height))
	for i, v := range f.Pix {
		g.Pix[i] = t[v]
	}
	return shrink(g, p.MaxWidth, p.MaxHeight, filter), step, nil
}

// shrink fits img inside maxW × maxH with disintegration/imaging, keeping
// the aspect ratio and never enlarging; the result is always a new NRGBA.
func shrink(img image.Image, maxW, maxH int, filter imaging.ResampleFilter) *image.NRGBA {
	b := img.Bounds()
	if b.Dx() <= maxW && b.Dy() <= maxH {
		return imaging.Clone(img)
	}
	return imaging.Fit(img, maxW, maxH, filter)
}
