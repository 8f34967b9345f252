package enhance

import (
	"fmt"
	"image"

	"gocv.io/x/gocv"

	"github.com/exhibit-forensics/exhibit/devices/camera"
)

// CLAHEParams are the parameters of CLAHE. Zero fields take the defaults.
type CLAHEParams struct {
	// ClipLimit bounds each tile's histogram at ClipLimit times its mean
	// bin before equalising, which limits how much noise is amplified.
	// Default 2.
	ClipLimit float64 `json:"clip_limit"`
	// TilesX × TilesY tiles cover the image; default 8 × 8.
	TilesX int `json:"tiles_x"`
	TilesY int `json:"tiles_y"`
}

func (p CLAHEParams) withDefaults() CLAHEParams {
	if p.ClipLimit == 0 {
		p.ClipLimit = 2
	}
	if p.TilesX == 0 {
		p.TilesX = 8
	}
	if p.TilesY == 0 {
		p.TilesY = 8
	}
	return p
}

// CLAHE equalises f's histogram tile by tile with a clip limit (OpenCV's
// createCLAHE at 16 bits): local contrast comes up evenly across the frame,
// a faint bruise among others. The output is a 16-bit frame of f's size.
func CLAHE(f *camera.Frame, p CLAHEParams) (*camera.Frame, Step, error) {
	p = p.withDefaults()
	step := Step{Op: "clahe", Inputs: []string{"band"}, Params: p, Libraries: OpenCVLibraries()}
	if p.ClipLimit < 0 || p.TilesX < 1 || p.TilesY < 1 {
		return nil, step, fmt.Errorf("enhance: CLAHE clip limit %g, tiles %d×%d: want a clip limit ≥ 0 and at least one tile",
			p.ClipLimit, p.TilesX, p.TilesY)
	}
	if err := checkFrames(f); err != nil {
		return nil, step, err
	}
	if f.Width < p.TilesX || f.Height < p.TilesY {
		return nil, step, fmt.Errorf("%w: %d×%d is smaller than %d×%d tiles", ErrInput, f.Width, f.Height, p.TilesX, p.TilesY)
	}
	src, err := toMat(f)
	if err != nil {
		return nil, step, err
	}
	defer src.Close()
	dst := gocv.NewMat()
	defer dst.Close()
	c := gocv.NewCLAHEWithParams(p.ClipLimit, image.Pt(p.TilesX, p.TilesY))
	defer c.Close()
	c.Apply(src, &dst)
	out, err := fromMat(dst)
	if err != nil {
		return nil, step, fmt.Errorf("CLAHE: %w", err)
	}
	return out, step, nil
}
