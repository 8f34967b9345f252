package enhance

import (
	"fmt"
	"image"
	"math"

	"github.com/exhibit-forensics/exhibit/devices/camera"
)

// Window maps 16-bit samples to 8 bits by a fixed rule:
//
//	t   = (v − Black) / (White − Black), clamped to 0…1
//	out = round(255 × t^(1/Gamma))
//
// The zero value is the full range, linear: Black 0, White 65535, Gamma 1.
type Window struct {
	Black uint16  `json:"black"`
	White uint16  `json:"white"`
	Gamma float64 `json:"gamma"`
}

func (w Window) withDefaults() Window {
	if w.White == 0 {
		w.White = 65535
	}
	if w.Gamma == 0 {
		w.Gamma = 1
	}
	return w
}

func (w Window) check() error {
	if w.White <= w.Black || !(w.Gamma > 0) || math.IsInf(w.Gamma, 0) {
		return fmt.Errorf("enhance: window black %d, white %d, gamma %g: want white above black and a positive gamma",
			w.Black, w.White, w.Gamma)
	}
	return nil
}

// table is the window as a lookup table over every 16-bit value.
func (w Window) table() *[65536]uint8 {
	var t [65536]uint8
	span := float64(w.White) - float64(w.Black)
	for v := range t {
		x := min(1, max(0, (float64(v)-float64(w.Black))/span))
		if w.Gamma != 1 {
			x = math.Pow(x, 1/w.Gamma)
		}
		t[v] = uint8(math.Round(255 * x))
	}
	return &t
}

// CompositeParams are the windows of a pseudo-colour composite's red,
// green and blue channels.
type CompositeParams struct {
	Red   Window `json:"red"`
	Green Window `json:"green"`
	Blue  Window `json:"blue"`
}

// Composite builds an 8-bit RGB picture from three registered bands, each
// through its own fixed window: for example 850 nm as red, 450 nm + orange
// as green, 415 nm + yellow as blue, so that what absorbs at the short
// wavelengths (a bruise) and not in the near infrared stands out in red.
// Alpha is opaque.
func Composite(red, green, blue *camera.Frame, p CompositeParams) (*image.NRGBA, Step, error) {
	p.Red, p.Green, p.Blue = p.Red.withDefaults(), p.Green.withDefaults(), p.Blue.withDefaults()
	step := Step{Op: "composite", Inputs: []string{"red", "green", "blue"}, Params: p, Libraries: GoLibraries()}
	for _, w := range []Window{p.Red, p.Green, p.Blue} {
		if err := w.check(); err != nil {
			return nil, step, err
		}
	}
	if err := checkFrames(red, green, blue); err != nil {
		return nil, step, err
	}
	tr, tg, tb := p.Red.table(), p.Green.table(), p.Blue.table()
	img := image.NewNRGBA(image.Rect(0, 0, red.Width, red.Height))
	for i := range red.Pix {
		o := img.Pix[4*i : 4*i+4 : 4*i+4]
		o[0], o[1], o[2], o[3] = tr[red.Pix[i]], tg[green.Pix[i]], tb[blue.Pix[i]], 255
	}
	return img, step, nil
}
