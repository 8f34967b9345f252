package measure

import (
	"image"
	"image/color"
	"image/draw"

	"github.com/exhibit-forensics/exhibit/imaging/enhance"
)

// OutlineColour is the colour of the outlines Overlay draws: a saturated
// yellow that stands out on grey skin pictures.
var OutlineColour = color.NRGBA{R: 255, G: 220, B: 0, A: 255}

// OverlayParams are what an overlay Step records.
type OverlayParams struct {
	Colour color.NRGBA `json:"colour"`
	// Width is the outline's width in preview pixels.
	Width int `json:"width"`
}

// Overlay returns a copy of preview, an 8-bit picture of the measured frame
// at any size (enhance.Preview makes one), with each bruise's outline drawn
// over it in OutlineColour, about two preview pixels wide, and the Step that
// describes the drawing (the measurement's and the preview's are Result.Step
// and the preview's own). The preview is assumed to show the whole frame:
// its pixels are mapped to the frame's in proportion.
func (r *Result) Overlay(preview image.Image) (*image.NRGBA, enhance.Step) {
	step := enhance.Step{Op: "outline-overlay", Inputs: []string{"measurement", "preview"},
		Params: OverlayParams{Colour: OutlineColour, Width: 2}, Libraries: enhance.GoLibraries()}
	b := preview.Bounds()
	out := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Rect, preview, b.Min, draw.Src)
	pw, ph := b.Dx(), b.Dy()
	if pw == 0 || ph == 0 || r.w == 0 {
		return out, step
	}
	// The label a preview pixel's centre falls on, in the reduced map.
	label := func(px, py int) int32 {
		if px < 0 || py < 0 || px >= pw || py >= ph {
			return 0
		}
		fx := (float64(px) + 0.5) * float64(r.width) / float64(pw)
		fy := (float64(py) + 0.5) * float64(r.height) / float64(ph)
		x, y := int(fx)/r.reduce, int(fy)/r.reduce
		if x >= r.w || y >= r.h {
			return 0
		}
		return r.labels[y*r.w+x]
	}
	for py := range ph {
		for px := range pw {
			l := label(px, py)
			if l == 0 {
				continue
			}
			// A region's pixel with a neighbour outside it, up to two
			// preview pixels away, is on the outline.
			edge := false
			for _, d := range [][2]int{{-2, 0}, {2, 0}, {0, -2}, {0, 2}, {-1, 0}, {1, 0}, {0, -1}, {0, 1}} {
				if label(px+d[0], py+d[1]) != l {
					edge = true
					break
				}
			}
			if edge {
				out.SetNRGBA(px, py, OutlineColour)
			}
		}
	}
	return out, step
}
