package kiosk

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"math"

	"github.com/disintegration/imaging"

	"github.com/exhibit-forensics/exhibit/devices/camera"
)

// thumbWidth is the width of a review thumbnail in pixels.
const thumbWidth = 360

// gammaLUT maps the top 12 bits of a linear 16-bit sample to an 8-bit
// display value with gamma 1/2.2: a fixed window (the whole 16-bit range),
// the same for every frame, so that thumbnails of two bands compare
// honestly — a dim band looks dim.
var gammaLUT = func() [4096]uint8 {
	var t [4096]uint8
	for i := range t {
		t[i] = uint8(math.Round(255 * math.Pow(float64(i)/4095, 1/2.2)))
	}
	return t
}()

// thumbnail makes an 8-bit greyscale PNG of f at most thumbWidth wide: each
// sample through gammaLUT, then shrunk with disintegration/imaging (box
// filter). It is a preview for the screen, never evidence: the original is
// the camera's 16-bit PNG, kept untouched.
func thumbnail(f *camera.Frame) ([]byte, error) {
	if f == nil || f.Width <= 0 || f.Height <= 0 || f.Channels < 1 || len(f.Pix) < f.Width*f.Height*f.Channels {
		return nil, errors.New("kiosk: no image in frame")
	}
	g := image.NewGray(image.Rect(0, 0, f.Width, f.Height))
	ch := f.Channels
	for i := range g.Pix {
		var sum uint32
		for c := 0; c < ch; c++ {
			sum += uint32(f.Pix[i*ch+c])
		}
		g.Pix[i] = gammaLUT[(sum/uint32(ch))>>4]
	}
	var img image.Image = g
	if f.Width > thumbWidth {
		img = imaging.Resize(g, thumbWidth, 0, imaging.Box)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
