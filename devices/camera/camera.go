package camera

import (
	"context"
	"errors"
	"fmt"
	"image"
	"time"
)

// Camera is what a capture session needs from a camera.
type Camera interface {
	// Configure applies s and returns the settings the device reports it
	// applied. The settings stay in force for every later Capture until
	// the next Configure.
	Configure(ctx context.Context, s Settings) (Settings, error)
	// Capture returns one frame exposed after the call began (and, after
	// LightChanged, after the light change). The frame belongs to the
	// caller.
	Capture(ctx context.Context) (*Frame, error)
	// LightChanged tells the camera that the scene's lighting changed
	// now: frames exposed before this moment, or already buffered, must not
	// be returned by the next Capture.
	LightChanged()
	// Close releases the device. Close after Close returns nil.
	Close() error
}

// Status is a camera's report about itself.
type Status struct {
	Width, Height int
	Channels      int
	BitDepth      int     // significant bits per sample
	Temperature   float64 // sensor temperature, °C, if TemperatureKnown
	// TemperatureKnown is false when the device does not report one.
	TemperatureKnown bool
	Frames           uint64 // frames captured since power-on
	Ready            bool   // not busy and not in a fault state
	// Exposure and gain limits, when the device reports them.
	MinExposure, MaxExposure time.Duration
	MinGain, MaxGain         float64
}

func (s Status) String() string {
	temp := "temperature unknown"
	if s.TemperatureKnown {
		temp = fmt.Sprintf("%.1f°C", s.Temperature)
	}
	ready := "busy"
	if s.Ready {
		ready = "ready"
	}
	return fmt.Sprintf("%s %dx%d×%d %d-bit %s frames=%d exposure %v–%v gain %g–%g",
		ready, s.Width, s.Height, s.Channels, s.BitDepth, temp, s.Frames, s.MinExposure, s.MaxExposure, s.MinGain, s.MaxGain)
}

// Settings are what a capture asks of the camera. All are absolute.
type Settings struct {
	// Exposure time. Must be positive.
	Exposure time.Duration
	// Gain in the device's own units: a linear factor (1 = unity) for
	// netcam; the V4L2 gain control's value for v4l2, whose range and
	// meaning the camera model defines. Capture profiles are therefore
	// written per camera model.
	Gain float64
	// WhiteBalance; the zero value leaves white balance alone (monochrome
	// sensors, or a device whose white balance is fixed).
	WhiteBalance WhiteBalance
}

// Validate reports settings no device can apply.
func (s Settings) Validate() error {
	if s.Exposure <= 0 {
		return fmt.Errorf("camera: exposure %v is not positive", s.Exposure)
	}
	if s.Gain < 0 || s.Gain != s.Gain {
		return fmt.Errorf("camera: gain %v is negative or not a number", s.Gain)
	}
	return s.WhiteBalance.Validate()
}

func (s Settings) String() string {
	return fmt.Sprintf("exposure %v gain %g white balance %s", s.Exposure, s.Gain, s.WhiteBalance)
}

// WBMode says how white balance is set.
type WBMode uint8

// White balance modes.
const (
	WBNone   WBMode = iota // leave it alone
	WBAuto                 // the device's automatic white balance
	WBManual               // a fixed colour temperature (WhiteBalance.Kelvin)
)

// WhiteBalance is a white balance request.
type WhiteBalance struct {
	Mode   WBMode
	Kelvin int // colour temperature for WBManual
}

// Validate checks the combination of mode and temperature.
func (w WhiteBalance) Validate() error {
	switch w.Mode {
	case WBNone, WBAuto:
		if w.Kelvin != 0 {
			return fmt.Errorf("camera: white balance %s takes no colour temperature (got %d K)", w, w.Kelvin)
		}
	case WBManual:
		if w.Kelvin < 1000 || w.Kelvin > 20000 {
			return fmt.Errorf("camera: white balance %d K outside 1000–20000 K", w.Kelvin)
		}
	default:
		return fmt.Errorf("camera: unknown white balance mode %d", w.Mode)
	}
	return nil
}

func (w WhiteBalance) String() string {
	switch w.Mode {
	case WBNone:
		return "none"
	case WBAuto:
		return "auto"
	case WBManual:
		return fmt.Sprintf("%dK", w.Kelvin)
	}
	return fmt.Sprintf("WBMode(%d)", w.Mode)
}

// Frame is one captured image with its metadata.
type Frame struct {
	Width, Height int
	// Channels is 1 (grey) or 3 (blue, green, red — OpenCV's order).
	Channels int
	// Pix holds the samples row by row, channels interleaved:
	// Pix[(y*Width+x)*Channels+c]. len(Pix) == Width*Height*Channels.
	Pix  []uint16
	Meta Meta
	// Encoded is the image exactly as the device sent it, when it sent an
	// encoded image (netcam: the PNG whose Content-Digest the driver
	// checked, from which Pix was decoded), and EncodedType its media type
	// ("image/png"). It is what evidence keeps as the original: the bytes
	// as received. nil for a device that delivers raw samples (v4l2).
	Encoded     []byte
	EncodedType string
	// EncodedSHA256 is the SHA-256 of Encoded when the driver computed it
	// (netcam: the digest it checked against the camera's); zero if not.
	EncodedSHA256 [32]byte
}

// Meta is what the device said about a frame.
type Meta struct {
	// Device names the camera (its String).
	Device string
	// Counter is the device's frame counter (netcam: frames since power-on;
	// v4l2: frames the driver has read, discarded ones included).
	Counter uint64
	// Exposure, Gain and WhiteBalance in force for this frame, as the
	// device reports them.
	Exposure     time.Duration
	Gain         float64
	WhiteBalance WhiteBalance
	// BitDepth is the number of significant bits per sample the device
	// delivered: 16 for a 16-bit source, 8 for an 8-bit one.
	BitDepth int
	// Widened: the device delivered 8-bit samples, which were widened to
	// 16 bits as v × 257. The frame carries no more than 8 bits of
	// information.
	Widened bool
	// Temperature of the sensor in °C, if TemperatureKnown.
	Temperature      float64
	TemperatureKnown bool
	// ExposureStart is when the exposure began, on the device's clock;
	// zero if the device does not say.
	ExposureStart time.Time
	// Received is the host time at which the frame arrived.
	Received time.Time
	// Discarded is how many frames the driver read and dropped before this
	// one (stale frames after a light change).
	Discarded int
}

// Validate checks that the frame's shape and its samples agree.
func (f *Frame) Validate() error {
	if f.Width <= 0 || f.Height <= 0 {
		return fmt.Errorf("camera: frame size %dx%d", f.Width, f.Height)
	}
	if f.Channels != 1 && f.Channels != 3 {
		return fmt.Errorf("camera: %d channels (want 1 or 3)", f.Channels)
	}
	if want := f.Width * f.Height * f.Channels; len(f.Pix) != want {
		return fmt.Errorf("camera: frame %dx%d×%d holds %d samples, want %d", f.Width, f.Height, f.Channels, len(f.Pix), want)
	}
	if f.Meta.BitDepth < 1 || f.Meta.BitDepth > 16 {
		return fmt.Errorf("camera: bit depth %d outside 1–16", f.Meta.BitDepth)
	}
	if f.Meta.Widened && f.Meta.BitDepth != 8 {
		return fmt.Errorf("camera: widened frame claims %d bits", f.Meta.BitDepth)
	}
	return nil
}

// At returns sample c of pixel (x, y).
func (f *Frame) At(x, y, c int) uint16 { return f.Pix[(y*f.Width+x)*f.Channels+c] }

// Gray16 returns a grey frame as an image.Gray16 (a copy).
func (f *Frame) Gray16() (*image.Gray16, error) {
	if f.Channels != 1 {
		return nil, fmt.Errorf("camera: Gray16 of a %d-channel frame", f.Channels)
	}
	img := image.NewGray16(image.Rect(0, 0, f.Width, f.Height))
	for i, v := range f.Pix {
		img.Pix[2*i] = byte(v >> 8)
		img.Pix[2*i+1] = byte(v)
	}
	return img, nil
}

// Widen8 converts 8-bit samples to 16 bits the way frames record it
// (v × 257, so that 0 → 0 and 255 → 65535).
func Widen8(v uint8) uint16 { return uint16(v) * 257 }

// Errors shared by drivers.
var (
	// ErrTimeout: no frame (or no reply) in time. The device may deliver
	// the next one; retrying is reasonable.
	ErrTimeout = errors.New("camera: timed out")
	// ErrBusy: the device is busy with another capture.
	ErrBusy = errors.New("camera: busy")
	// ErrClosed: the camera has been closed.
	ErrClosed = errors.New("camera: closed")
	// ErrHalted: the capture was abandoned because Halt was called.
	ErrHalted = errors.New("camera: capture abandoned by Halt")
	// ErrUnsupported: the device cannot apply a setting at all (for
	// example manual exposure, or white balance on a monochrome sensor).
	ErrUnsupported = errors.New("camera: not supported by the device")
	// ErrProtocol: a reply did not follow the device's protocol.
	ErrProtocol = errors.New("camera: protocol error")
	// ErrIntegrity: a frame's bytes do not match the digest the device
	// sent with them.
	ErrIntegrity = errors.New("camera: frame digest mismatch")
	// ErrNoFrame: the device delivered no frame (unplugged, or the stream
	// ended).
	ErrNoFrame = errors.New("camera: no frame")
)
