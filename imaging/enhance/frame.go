package enhance

import (
	"errors"
	"fmt"

	"gocv.io/x/gocv"

	"github.com/exhibit-forensics/exhibit/devices/camera"
)

// ErrInput: a frame cannot be used (not one 16-bit channel, empty, or of
// another size than the frames it goes with).
var ErrInput = errors.New("enhance: unusable input frame")

// checkFrames validates that the frames are grey, non-empty and of one size.
func checkFrames(fs ...*camera.Frame) error {
	for i, f := range fs {
		if f == nil {
			return fmt.Errorf("%w: frame %d is missing", ErrInput, i+1)
		}
		if err := f.Validate(); err != nil {
			return fmt.Errorf("%w: frame %d: %w", ErrInput, i+1, err)
		}
		if f.Channels != 1 {
			return fmt.Errorf("%w: frame %d has %d channels, want 1", ErrInput, i+1, f.Channels)
		}
		if f.Width == 0 || f.Height == 0 {
			return fmt.Errorf("%w: frame %d is empty", ErrInput, i+1)
		}
		if i > 0 && (f.Width != fs[0].Width || f.Height != fs[0].Height) {
			return fmt.Errorf("%w: frame %d is %d×%d, frame 1 is %d×%d (register the bands first)",
				ErrInput, i+1, f.Width, f.Height, fs[0].Width, fs[0].Height)
		}
	}
	return nil
}

// toMat copies a grey frame into a new 16-bit OpenCV matrix. The caller
// closes it.
func toMat(f *camera.Frame) (gocv.Mat, error) {
	m := gocv.NewMatWithSize(f.Height, f.Width, gocv.MatTypeCV16UC1)
	p, err := m.DataPtrUint16()
	if err != nil {
		m.Close()
		return gocv.Mat{}, fmt.Errorf("enhance: %w", err)
	}
	copy(p, f.Pix)
	return m, nil
}

// fromMat copies a 16-bit single-channel matrix into a new frame.
func fromMat(m gocv.Mat) (*camera.Frame, error) {
	if m.Type() != gocv.MatTypeCV16UC1 {
		return nil, fmt.Errorf("enhance: OpenCV returned a %v matrix, want 16-bit grey", m.Type())
	}
	p, err := m.DataPtrUint16()
	if err != nil {
		return nil, fmt.Errorf("enhance: %w", err)
	}
	f := &camera.Frame{Width: m.Cols(), Height: m.Rows(), Channels: 1, Pix: make([]uint16, len(p))}
	copy(f.Pix, p)
	f.Meta.BitDepth = 16
	return f, nil
}

// derived is the frame metadata of a derivative: nothing of the device's
// survives but the bit depth.
func derived(w, h int) *camera.Frame {
	return &camera.Frame{Width: w, Height: h, Channels: 1, Pix: make([]uint16, w*h), Meta: camera.Meta{BitDepth: 16}}
}
