package kiosk

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"math"

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

// thumbnail makes an 8-bit greyscale PNG of f at most thumbWidth wide, by
// averaging boxes of whole pixels. It is a preview for the screen, never
// evidence: the original is the camera's 16-bit PNG, kept untouched.
func thumbnail(f *camera.Frame) ([]byte, error) {
	if f == nil || f.Width <= 0 || f.Height <= 0 || len(f.Pix) < f.Width*f.Height*f.Channels || f.Channels < 1 {
		return nil, errors.New("kiosk: no image in frame")
	}
	step := (f.Width + thumbWidth - 1) / thumbWidth
	if step < 1 {
		step = 1
	}
	w, h := f.Width/step, f.Height/step
	if w < 1 || h < 1 {
		w, h, step = f.Width, f.Height, 1
	}
	img := image.NewGray(image.Rect(0, 0, w, h))
	ch := f.Channels
	for ty := 0; ty < h; ty++ {
		for tx := 0; tx < w; tx++ {
			var sum, n uint64
			for y := ty * step; y < (ty+1)*step; y++ {
				row := y * f.Width
				for x := tx * step; x < (tx+1)*step; x++ {
					i := (row + x) * ch
					for c := 0; c < ch; c++ {
						sum += uint64(f.Pix[i+c])
					}
					n += uint64(ch)
				}
			}
			img.Pix[ty*img.Stride+tx] = gammaLUT[(sum/n)>>4]
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
