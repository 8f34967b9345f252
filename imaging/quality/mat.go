package quality

import (
	"fmt"
	"unsafe"

	"gocv.io/x/gocv"

	"github.com/exhibit-forensics/exhibit/devices/camera"
)

// mat16 wraps a monochrome frame's samples in a Mat without copying. The
// frame must stay alive (runtime.KeepAlive) while the Mat is in use.
func mat16(f *camera.Frame) (gocv.Mat, error) {
	b := unsafe.Slice((*byte)(unsafe.Pointer(&f.Pix[0])), len(f.Pix)*2)
	m, err := gocv.NewMatFromBytes(f.Height, f.Width, gocv.MatTypeCV16UC1, b)
	if err != nil {
		return m, fmt.Errorf("quality: wrapping the frame: %w", err)
	}
	return m, nil
}

// histogram counts the frame's sample values.
func histogram(pix []uint16) *[65536]int {
	var h [65536]int
	for _, v := range pix {
		h[v]++
	}
	return &h
}

// quantile returns the smallest value with at least share q of the
// samples at or below it.
func quantile(h *[65536]int, n int, q float64) float64 {
	want := q * float64(n)
	acc := 0
	for v, c := range h {
		acc += c
		if float64(acc) >= want {
			return float64(v)
		}
	}
	return 65535
}
