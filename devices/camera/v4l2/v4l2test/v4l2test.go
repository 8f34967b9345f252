// Package v4l2test is a fake V4L2/UVC camera for the v4l2 driver's tests:
// it implements v4l2.Device (Read, Set, Get, Close) the way a UVC camera
// behind OpenCV's V4L2 backend behaves, including the behaviour the driver
// has to defend against:
//
//   - exposure writes are ignored while automatic exposure is on;
//   - exposure and gain are rounded and clamped to the camera's ranges, and
//     Set reports nothing — only Get shows what was applied;
//   - frames are queued ahead of the reader (Queue deep), so the first
//     frames read after the scene changes were exposed before the change;
//   - a read can fail (FailNext) or block (Block).
//
// Every Set and Get is recorded (Calls), so tests can check the order in
// which the driver touched the controls.
package v4l2test

import (
	"fmt"
	"math"
	"sync"

	"gocv.io/x/gocv"

	"github.com/exhibit-forensics/exhibit/devices/camera/v4l2"
)

// Auto-exposure menu values (V4L2 exposure_auto).
const (
	ExposureManual = 1
	ExposureAuto   = 3
)

// Call is one Set or Get.
type Call struct {
	Op    string // "set" or "get"
	Prop  gocv.VideoCaptureProperties
	Value float64 // set: the value given; get: the value returned
}

func (c Call) String() string { return fmt.Sprintf("%s %v=%g", c.Op, c.Prop, c.Value) }

// Camera is the fake. Change its exported fields before handing it to the
// driver.
type Camera struct {
	Width, Height int
	// Type is the OpenCV type of the frames: gocv.MatTypeCV16UC1 for a
	// camera that delivers 16-bit greyscale, gocv.MatTypeCV8UC3 for a
	// typical colour webcam.
	Type gocv.MatType
	// Queue is how many frames are buffered ahead of the reader.
	Queue int
	// Exposure range in device units (100 µs for UVC), and gain range.
	ExposureMin, ExposureMax   float64
	GainMin, GainMax, GainStep float64
	// NoManualExposure makes the camera refuse to leave automatic
	// exposure, as some do.
	NoManualExposure bool

	mu     sync.Mutex
	props  map[gocv.VideoCaptureProperties]float64
	calls  []Call
	scene  uint16   // current scene brightness
	queue  []uint16 // brightness each buffered frame was exposed at
	fail   int
	block  chan struct{}
	parked chan struct{} // closed when a read blocks
	reads  int
	closed bool
}

var _ v4l2.Device = (*Camera)(nil)

// New returns a 640×480 16-bit camera with a four-frame queue, in
// automatic exposure, scene brightness 1000.
func New() *Camera {
	c := &Camera{Width: 640, Height: 480, Type: gocv.MatTypeCV16UC1, Queue: 4,
		ExposureMin: 1, ExposureMax: 10000, GainMin: 0, GainMax: 100, GainStep: 1, scene: 1000}
	c.props = map[gocv.VideoCaptureProperties]float64{
		gocv.VideoCaptureAutoExposure:  ExposureAuto,
		gocv.VideoCaptureExposure:      156,
		gocv.VideoCaptureGain:          0,
		gocv.VideoCaptureAutoWB:        1,
		gocv.VideoCaptureWBTemperature: 4600,
		gocv.VideoCaptureConvertRGB:    1,
	}
	return c
}

// Set applies a property the way the camera would, silently.
func (c *Camera) Set(p gocv.VideoCaptureProperties, v float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, Call{"set", p, v})
	switch p {
	case gocv.VideoCaptureAutoExposure:
		if v == ExposureAuto || (v == ExposureManual && !c.NoManualExposure) {
			c.props[p] = v
		}
	case gocv.VideoCaptureExposure:
		if c.props[gocv.VideoCaptureAutoExposure] != ExposureManual {
			return // ignored while automatic, as UVC cameras do
		}
		c.props[p] = math.Max(c.ExposureMin, math.Min(c.ExposureMax, math.Round(v)))
	case gocv.VideoCaptureGain:
		g := math.Max(c.GainMin, math.Min(c.GainMax, v))
		if c.GainStep > 0 {
			g = math.Round(g/c.GainStep) * c.GainStep
		}
		c.props[p] = g
	case gocv.VideoCaptureAutoWB:
		if v == 0 || v == 1 {
			c.props[p] = v
		}
	case gocv.VideoCaptureWBTemperature:
		if c.props[gocv.VideoCaptureAutoWB] == 0 {
			c.props[p] = math.Max(2800, math.Min(6500, math.Round(v/10)*10))
		}
	case gocv.VideoCaptureFrameWidth:
		c.Width = int(v)
	case gocv.VideoCaptureFrameHeight:
		c.Height = int(v)
	default:
		c.props[p] = v
	}
}

// Get returns a property (0 for one the camera does not have).
func (c *Camera) Get(p gocv.VideoCaptureProperties) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var v float64
	switch p {
	case gocv.VideoCaptureFrameWidth:
		v = float64(c.Width)
	case gocv.VideoCaptureFrameHeight:
		v = float64(c.Height)
	default:
		v = c.props[p]
	}
	c.calls = append(c.calls, Call{"get", p, v})
	return v
}

// Calls returns the Set and Get calls so far.
func (c *Camera) Calls() []Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Call(nil), c.calls...)
}

// SetScene changes the scene's brightness (the light changed). Frames
// already queued keep the brightness they were exposed at.
func (c *Camera) SetScene(level uint16) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scene = level
}

// FailNext makes the next n reads fail.
func (c *Camera) FailNext(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fail = n
}

// Block makes reads block until the returned function is called.
func (c *Camera) Block() (release func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan struct{})
	c.block = ch
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			c.block = nil
			c.mu.Unlock()
			close(ch)
		})
	}
}

// Blocked returns a channel that is closed when a read next blocks on
// Block. Take it before starting the read.
func (c *Camera) Blocked() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.parked == nil {
		c.parked = make(chan struct{})
	}
	return c.parked
}

// Reads is the number of frames read (failed reads included).
func (c *Camera) Reads() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads
}

// Read delivers the oldest queued frame, filled with the brightness it was
// exposed at, and queues a new one exposed now.
func (c *Camera) Read(m *gocv.Mat) bool {
	c.mu.Lock()
	block := c.block
	if block != nil && c.parked != nil {
		close(c.parked)
		c.parked = nil
	}
	c.mu.Unlock()
	if block != nil {
		<-block
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads++
	if c.closed {
		return false
	}
	if c.fail > 0 {
		c.fail--
		return false
	}
	for len(c.queue) < c.Queue+1 {
		c.queue = append(c.queue, c.scene)
	}
	level := c.queue[0]
	c.queue = append(c.queue[1:], c.scene)
	var s gocv.Scalar
	switch c.Type {
	case gocv.MatTypeCV8UC1, gocv.MatTypeCV8UC3:
		v := float64(level >> 8)
		s = gocv.NewScalar(v, v, v, 0)
	default:
		v := float64(level)
		s = gocv.NewScalar(v, v, v, 0)
	}
	src := gocv.NewMatWithSizeFromScalar(s, c.Height, c.Width, c.Type)
	defer src.Close()
	src.CopyTo(m)
	return true
}

// Close closes the camera; later reads fail.
func (c *Camera) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}
