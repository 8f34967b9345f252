// Package v4l2 drives V4L2/UVC cameras through OpenCV (gocv.io/x/gocv
// v0.31.0, matching Debian 12's OpenCV 4.6.0). Dev implements
// camera.Camera.
//
// What it does about the ways V4L2 cameras surprise a capture program:
//
//   - Manual exposure. A UVC camera ignores exposure while its automatic
//     exposure is on, so Configure first switches auto-exposure to manual
//     (Config.ManualExposure, the V4L2 menu value 1 by default), checks
//     that the camera says it is manual, and only then sets the exposure.
//   - Read-back. OpenCV's Set returns nothing, and cameras quantise and
//     clamp. After every Set the driver reads the property back with Get
//     and reports that value — the one in force — in Configure's result
//     and in every frame's Meta. Exposure is converted with
//     Config.ExposureUnit (UVC's exposure_time_absolute counts 100 µs).
//   - Stale frames. The V4L2 backend keeps a queue of buffers (four by
//     default in OpenCV 4.6), filled before the capture code asked. After
//     LightChanged or Configure the next Capture reads and drops
//     Config.Discard frames (default 5: the queue plus the frame being
//     exposed), so no frame exposed under the previous light or settings is
//     returned. Meta.Discarded says how many were dropped.
//   - Depth. With Config.Prefer16 the driver asks for 16-bit greyscale
//     ("Y16 " without RGB conversion). Whatever the camera delivers is
//     copied as it is when it is 16-bit (CV_16UC1, CV_16UC3); 8-bit frames
//     (CV_8UC1, CV_8UC3) are widened to 16 bits as v × 257 and marked
//     Meta.Widened with Meta.BitDepth 8.
//   - Blocking reads. OpenCV's Read blocks in C and cannot be cancelled, so
//     it runs in its own goroutine: a capture whose context ends, or that
//     exceeds exposure + Config.ReadTimeout, returns at once
//     (camera.ErrTimeout or the context's error) and the next capture
//     first waits for that read to finish.
//
// The driver talks to OpenCV only through Capturer (one method, Read — the
// seam gobot's camera driver uses) and Controls (Set and Get), which
// *gocv.VideoCapture implements; its tests run on the fake camera in
// devices/camera/v4l2/v4l2test. No real camera was attached when it was
// written: the V4L2 property values it relies on (auto-exposure menu 1 =
// manual, exposure in 100 µs units) are the V4L2/UVC conventions, and
// Config lets a camera that differs be described.
package v4l2

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	"gocv.io/x/gocv"

	"github.com/exhibit-forensics/exhibit/devices"
	"github.com/exhibit-forensics/exhibit/devices/camera"
)

// Capturer reads the next frame into m; false means no frame (unplugged,
// end of stream). It is the one-method capture interface the driver reads
// through.
type Capturer interface {
	Read(m *gocv.Mat) bool
}

// Controls sets and reads capture properties (V4L2 controls).
type Controls interface {
	Set(p gocv.VideoCaptureProperties, v float64)
	Get(p gocv.VideoCaptureProperties) float64
}

// Device is an open capture device.
type Device interface {
	Capturer
	Controls
	Close() error
}

var _ Device = (*gocv.VideoCapture)(nil)

// Defaults for Config.
const (
	DefaultDiscard      = 5
	DefaultExposureUnit = 100 * time.Microsecond
	DefaultReadTimeout  = 5 * time.Second
	// ManualExposureV4L2 is V4L2_EXPOSURE_MANUAL, the menu value of
	// exposure_auto that OpenCV's V4L2 backend passes through.
	ManualExposureV4L2 = 1
)

// Config configures a Dev.
type Config struct {
	// Index is N in /dev/videoN.
	Index int
	// Open opens the device; by default gocv.VideoCaptureDeviceWithAPI
	// with the V4L2 backend. Tests pass a fake.
	Open func(index int) (Device, error)
	// Width and Height request a frame size; 0 keeps the camera's.
	Width, Height int
	// Prefer16 asks for 16-bit greyscale frames (FOURCC "Y16 ", no RGB
	// conversion).
	Prefer16 bool
	// SignificantBits is reported as Meta.BitDepth for 16-bit frames
	// (a 12-bit sensor delivering Y16 has 12); default 16.
	SignificantBits int
	// Discard is how many frames to drop after LightChanged or Configure;
	// default DefaultDiscard. Negative: none.
	Discard int
	// ExposureUnit is the duration of one unit of the exposure property;
	// default 100 µs (UVC exposure_time_absolute).
	ExposureUnit time.Duration
	// ManualExposure is the auto-exposure property value meaning manual;
	// default ManualExposureV4L2.
	ManualExposure float64
	// ReadTimeout is how long a frame may take beyond its exposure.
	ReadTimeout time.Duration
}

func openGocv(index int) (Device, error) {
	vc, err := gocv.VideoCaptureDeviceWithAPI(index, gocv.VideoCaptureV4L2)
	if err != nil {
		if vc != nil {
			vc.Close()
		}
		return nil, fmt.Errorf("v4l2: open /dev/video%d: %w", index, err)
	}
	return vc, nil
}

// Dev is a V4L2 camera. Its methods are safe for concurrent use; captures
// are serialised.
type Dev struct {
	cfg  Config
	dev  Device
	name string

	capMu   sync.Mutex    // serialises captures and Configure
	reading chan struct{} // non-nil while an abandoned Read is still running

	mu      sync.Mutex
	applied camera.Settings
	set     bool
	discard int // frames to drop before the next capture
	frames  uint64
	closed  bool
	halt    chan struct{} // closed by Halt to abandon the capture in flight
}

var (
	_ camera.Camera     = (*Dev)(nil)
	_ devices.Resource  = (*Dev)(nil)
	_ devices.Describer = (*Dev)(nil)
)

// Open opens /dev/video<cfg.Index> and requests the frame size and format.
func Open(ctx context.Context, cfg Config) (*Dev, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.Open == nil {
		cfg.Open = openGocv
	}
	d, err := cfg.Open(cfg.Index)
	if err != nil {
		return nil, err
	}
	return New(d, cfg), nil
}

// New wraps an open device.
func New(d Device, cfg Config) *Dev {
	if cfg.Discard == 0 {
		cfg.Discard = DefaultDiscard
	}
	cfg.Discard = max(cfg.Discard, 0)
	if cfg.ExposureUnit <= 0 {
		cfg.ExposureUnit = DefaultExposureUnit
	}
	if cfg.ManualExposure == 0 {
		cfg.ManualExposure = ManualExposureV4L2
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.SignificantBits <= 0 || cfg.SignificantBits > 16 {
		cfg.SignificantBits = 16
	}
	if cfg.Width > 0 && cfg.Height > 0 {
		d.Set(gocv.VideoCaptureFrameWidth, float64(cfg.Width))
		d.Set(gocv.VideoCaptureFrameHeight, float64(cfg.Height))
	}
	if cfg.Prefer16 {
		d.Set(gocv.VideoCaptureFOURCC, Fourcc("Y16 "))
		d.Set(gocv.VideoCaptureConvertRGB, 0)
	}
	return &Dev{cfg: cfg, dev: d, name: deviceName(cfg.Index), discard: cfg.Discard, halt: make(chan struct{})}
}

// Fourcc packs a four-character code as OpenCV's FOURCC property wants it.
func Fourcc(s string) float64 {
	if len(s) != 4 {
		return -1
	}
	return float64(uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24)
}

// deviceName reads the kernel's name for /dev/videoN, if there is one.
func deviceName(index int) string {
	b, err := os.ReadFile(fmt.Sprintf("/sys/class/video4linux/video%d/name", index))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// String names the camera.
func (d *Dev) String() string {
	if d.name != "" {
		return fmt.Sprintf("v4l2 %q at /dev/video%d", d.name, d.cfg.Index)
	}
	return fmt.Sprintf("v4l2 /dev/video%d", d.cfg.Index)
}

// Identity is the kernel's device name; V4L2 through OpenCV exposes no
// serial number or firmware version, so those read "unknown".
func (d *Dev) Identity() devices.Identity {
	model := d.name
	if model == "" {
		model = "v4l2"
	}
	return devices.Identity{Model: model, Serial: "unknown", Firmware: "unknown"}
}

// Describe reads the status and returns it as one line (camera.Status.String).
func (d *Dev) Describe(ctx context.Context) (string, error) { return devices.StatusLine(d.Status(ctx)) }

// Status reports the frame size and counters; the temperature is unknown.
// OpenCV's capture is not safe for concurrent use, so Status waits for a
// capture in progress, and reports the device not ready (without asking
// it anything) while an abandoned read is still blocked.
func (d *Dev) Status(ctx context.Context) (camera.Status, error) {
	d.capMu.Lock()
	defer d.capMu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.closed:
		return camera.Status{}, camera.ErrClosed
	case d.reading != nil:
		return camera.Status{Frames: d.frames}, nil
	}
	return camera.Status{
		Width:  int(d.dev.Get(gocv.VideoCaptureFrameWidth)),
		Height: int(d.dev.Get(gocv.VideoCaptureFrameHeight)),
		Frames: d.frames, Ready: true,
	}, nil
}

// Configure switches auto-exposure off, sets exposure, gain and white
// balance, and returns what the camera reports after each Set.
func (d *Dev) Configure(ctx context.Context, s camera.Settings) (camera.Settings, error) {
	if err := s.Validate(); err != nil {
		return camera.Settings{}, err
	}
	d.capMu.Lock()
	defer d.capMu.Unlock()
	if err := d.waitRead(ctx); err != nil {
		return camera.Settings{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return camera.Settings{}, camera.ErrClosed
	}
	dev := d.dev
	// Manual exposure first: exposure is ignored while automatic.
	dev.Set(gocv.VideoCaptureAutoExposure, d.cfg.ManualExposure)
	if got := dev.Get(gocv.VideoCaptureAutoExposure); got != d.cfg.ManualExposure {
		return camera.Settings{}, fmt.Errorf("v4l2: %s: auto-exposure reads %v after setting manual (%v): %w",
			d, got, d.cfg.ManualExposure, camera.ErrUnsupported)
	}
	units := math.Max(1, math.Round(float64(s.Exposure)/float64(d.cfg.ExposureUnit)))
	dev.Set(gocv.VideoCaptureExposure, units)
	gotUnits := dev.Get(gocv.VideoCaptureExposure)
	if gotUnits <= 0 {
		return camera.Settings{}, fmt.Errorf("v4l2: %s: exposure reads %v after setting %v: %w", d, gotUnits, units, camera.ErrUnsupported)
	}
	applied := camera.Settings{Exposure: time.Duration(gotUnits * float64(d.cfg.ExposureUnit))}
	dev.Set(gocv.VideoCaptureGain, s.Gain)
	if applied.Gain = dev.Get(gocv.VideoCaptureGain); applied.Gain < 0 {
		return camera.Settings{}, fmt.Errorf("v4l2: %s: gain reads %v after setting %v: %w", d, applied.Gain, s.Gain, camera.ErrUnsupported)
	}
	switch s.WhiteBalance.Mode {
	case camera.WBNone:
	case camera.WBAuto:
		dev.Set(gocv.VideoCaptureAutoWB, 1)
		if got := dev.Get(gocv.VideoCaptureAutoWB); got != 1 {
			return camera.Settings{}, fmt.Errorf("v4l2: %s: auto white balance reads %v: %w", d, got, camera.ErrUnsupported)
		}
		applied.WhiteBalance = s.WhiteBalance
	case camera.WBManual:
		dev.Set(gocv.VideoCaptureAutoWB, 0)
		if got := dev.Get(gocv.VideoCaptureAutoWB); got != 0 {
			return camera.Settings{}, fmt.Errorf("v4l2: %s: auto white balance stays %v: %w", d, got, camera.ErrUnsupported)
		}
		dev.Set(gocv.VideoCaptureWBTemperature, float64(s.WhiteBalance.Kelvin))
		k := dev.Get(gocv.VideoCaptureWBTemperature)
		if k <= 0 {
			return camera.Settings{}, fmt.Errorf("v4l2: %s: white balance temperature reads %v: %w", d, k, camera.ErrUnsupported)
		}
		applied.WhiteBalance = camera.WhiteBalance{Mode: camera.WBManual, Kelvin: int(math.Round(k))}
	}
	d.applied, d.set = applied, true
	// Frames already queued were exposed with the old settings.
	d.discard = d.cfg.Discard
	return applied, nil
}

// LightChanged makes the next Capture drop the frames queued or being
// exposed now.
func (d *Dev) LightChanged() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.discard = d.cfg.Discard
}

// Capture returns the next frame exposed after the last LightChanged or
// Configure.
func (d *Dev) Capture(ctx context.Context) (*camera.Frame, error) {
	d.capMu.Lock()
	defer d.capMu.Unlock()
	if err := d.waitRead(ctx); err != nil {
		return nil, err
	}
	d.mu.Lock()
	closed, set, applied, n, halt := d.closed, d.set, d.applied, d.discard, d.halt
	d.mu.Unlock()
	switch {
	case closed:
		return nil, camera.ErrClosed
	case !set:
		return nil, errors.New("v4l2: Capture before Configure")
	}
	m := gocv.NewMat()
	defer m.Close()
	for i := 0; i <= n; i++ {
		if err := d.read(ctx, &m, applied.Exposure, halt); err != nil {
			return nil, err
		}
		if i < n {
			d.mu.Lock()
			d.discard--
			d.mu.Unlock()
		}
	}
	f, err := d.frame(&m)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	f.Meta.Counter = d.frames
	d.mu.Unlock()
	f.Meta.Device = d.String()
	f.Meta.Exposure, f.Meta.Gain, f.Meta.WhiteBalance = applied.Exposure, applied.Gain, applied.WhiteBalance
	f.Meta.Discarded = n
	f.Meta.Received = time.Now()
	return f, nil
}

// waitRead waits for an abandoned Read to finish.
func (d *Dev) waitRead(ctx context.Context) error {
	d.mu.Lock()
	r := d.reading
	d.mu.Unlock()
	if r == nil {
		return nil
	}
	select {
	case <-r:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("v4l2: %s: an earlier read is still blocked: %w", d, ctx.Err())
	}
}

// read reads one frame into m without letting a blocked Read hold the
// caller beyond exposure + ReadTimeout, ctx or Halt.
func (d *Dev) read(ctx context.Context, m *gocv.Mat, exposure time.Duration, halt chan struct{}) error {
	done := make(chan bool, 1)
	finished := make(chan struct{})
	d.mu.Lock()
	d.reading = finished
	d.mu.Unlock()
	// The read fills a Mat of its own, so that an abandoned read never
	// writes into one the caller has moved on with.
	tmp := gocv.NewMat()
	go func() {
		ok := d.dev.Read(&tmp)
		d.mu.Lock()
		if ok {
			d.frames++
		}
		d.reading = nil
		d.mu.Unlock()
		close(finished)
		done <- ok
	}()
	timer := time.NewTimer(exposure + d.cfg.ReadTimeout)
	defer timer.Stop()
	abandon := func(err error) error {
		go func() { <-finished; tmp.Close() }()
		return err
	}
	select {
	case ok := <-done:
		defer tmp.Close()
		if !ok || tmp.Empty() {
			return fmt.Errorf("v4l2: %s: %w", d, camera.ErrNoFrame)
		}
		tmp.CopyTo(m)
		return nil
	case <-timer.C:
		return abandon(fmt.Errorf("v4l2: %s: %w: no frame within %v", d, camera.ErrTimeout, exposure+d.cfg.ReadTimeout))
	case <-ctx.Done():
		return abandon(fmt.Errorf("v4l2: %s: capture: %w", d, ctx.Err()))
	case <-halt:
		return abandon(camera.ErrHalted)
	}
}

// frame copies a Mat into a camera.Frame, widening 8-bit samples.
func (d *Dev) frame(m *gocv.Mat) (*camera.Frame, error) {
	f := &camera.Frame{Width: m.Cols(), Height: m.Rows(), Channels: m.Channels()}
	if f.Channels != 1 && f.Channels != 3 {
		return nil, fmt.Errorf("v4l2: %s: frame has %d channels: %w", d, f.Channels, camera.ErrUnsupported)
	}
	n := f.Width * f.Height * f.Channels
	switch m.Type() {
	case gocv.MatTypeCV16UC1, gocv.MatTypeCV16UC3:
		src, err := m.DataPtrUint16()
		if err != nil || len(src) != n {
			return nil, fmt.Errorf("v4l2: %s: 16-bit frame data: %v (%d samples for %dx%d×%d)", d, err, len(src), f.Width, f.Height, f.Channels)
		}
		f.Pix = append([]uint16(nil), src...)
		f.Meta.BitDepth = d.cfg.SignificantBits
	case gocv.MatTypeCV8UC1, gocv.MatTypeCV8UC3:
		src, err := m.DataPtrUint8()
		if err != nil || len(src) != n {
			return nil, fmt.Errorf("v4l2: %s: 8-bit frame data: %v (%d bytes for %dx%d×%d)", d, err, len(src), f.Width, f.Height, f.Channels)
		}
		f.Pix = make([]uint16, n)
		for i, v := range src {
			f.Pix[i] = camera.Widen8(v)
		}
		f.Meta.BitDepth, f.Meta.Widened = 8, true
	default:
		return nil, fmt.Errorf("v4l2: %s: frame of OpenCV type %v: %w", d, m.Type(), camera.ErrUnsupported)
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("v4l2: %s: %w", d, err)
	}
	return f, nil
}

// Halt abandons the capture in flight (it returns camera.ErrHalted).
func (d *Dev) Halt() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	close(d.halt)
	d.halt = make(chan struct{})
	return nil
}

// Close releases the device. If a Read is still blocked in OpenCV, Close
// waits up to ReadTimeout for it, since closing a capture under a running
// read is not safe; if it never returns, the device is left open and an
// error says so.
func (d *Dev) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	close(d.halt)
	d.halt = make(chan struct{})
	r := d.reading
	d.mu.Unlock()
	if r != nil {
		select {
		case <-r:
		case <-time.After(d.cfg.ReadTimeout):
			return fmt.Errorf("v4l2: %s: a read is still blocked; device left open: %w", d, camera.ErrTimeout)
		}
	}
	return d.dev.Close()
}
