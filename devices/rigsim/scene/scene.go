package scene

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/exhibit-forensics/exhibit/devices/light"
)

// Geometry is the camera's view of the skin plane.
type Geometry struct {
	SensorWidthMM float64 // width of the sensor's active area; default 6.2 (a 1/2.3" 12 MP sensor)
	FocalMM       float64 // focal length; default 8
	DistanceMM    float64 // lens to skin plane; default 300
}

// DefaultGeometry gives 0.0566 mm per pixel at 4000 pixels across.
var DefaultGeometry = Geometry{SensorWidthMM: 6.2, FocalMM: 8, DistanceMM: 300}

// Config describes a scene. The zero value (plus a seed) is the default
// rig: 4000 × 3000 pixels, DefaultGeometry, skin group and bruises from
// the seed, no tilt.
type Config struct {
	Seed uint64
	// Skin is the skin group, 1 (lightest) to 6 (darkest); 0 picks one
	// from the seed. The choice does not change anything else: the same
	// seed with another Skin gives the same bruises and scale pose.
	Skin          int
	Width, Height int // sensor pixels; default 4000 × 3000
	Geometry      Geometry
	// TiltDeg tilts the skin plane (and the scale on it) away from the
	// sensor plane, 0–60°, about an axis at TiltAxisDeg in the image
	// (0° = horizontal).
	TiltDeg, TiltAxisDeg float64
	// Bruises is how many bruises to place, 1–6; 0 picks 2–4 from the
	// seed. Fewer are placed if they do not fit.
	Bruises int
	// Margin is how far, in pixels, layers extend beyond the frame on
	// every side, for the camera simulator's hand motion. Default 8.
	Margin int
	// MaxLayers bounds the layer cache; default 8.
	MaxLayers int
}

func (c *Config) setDefaults() error {
	if c.Width == 0 && c.Height == 0 {
		c.Width, c.Height = 4000, 3000
	}
	if c.Width < 64 || c.Height < 48 || c.Width > 16384 || c.Height > 16384 {
		return fmt.Errorf("scene: sensor %dx%d outside 64x48–16384x16384", c.Width, c.Height)
	}
	if c.Geometry == (Geometry{}) {
		c.Geometry = DefaultGeometry
	}
	if g := c.Geometry; g.SensorWidthMM <= 0 || g.FocalMM <= 0 || g.DistanceMM <= g.FocalMM {
		return fmt.Errorf("scene: geometry %+v is not a camera", g)
	}
	if c.Skin < 0 || c.Skin > 6 {
		return fmt.Errorf("scene: skin group %d outside 1–6", c.Skin)
	}
	if c.TiltDeg < 0 || c.TiltDeg > 60 {
		return fmt.Errorf("scene: tilt %g° outside 0–60°", c.TiltDeg)
	}
	if c.Bruises < 0 || c.Bruises > 6 {
		return fmt.Errorf("scene: %d bruises outside 1–6", c.Bruises)
	}
	if c.Margin == 0 {
		c.Margin = 8
	}
	if c.Margin < 0 || c.Margin > 256 {
		return fmt.Errorf("scene: margin %d outside 0–256", c.Margin)
	}
	if c.MaxLayers <= 0 {
		c.MaxLayers = 8
	}
	return nil
}

// Scene is a generated scene. Its methods are safe for concurrent use.
type Scene struct {
	cfg    Config
	skin   int
	mmPx   float64    // mm per pixel at zero tilt
	fromPx [4]float64 // plane mm from centred pixel offsets: [a b; c d]
	toPx   [4]float64 // inverse
	stride int        // layer row length: Width + 2·Margin
	rows   int        // layer rows: Height + 2·Margin

	bruises []*bruise
	scale   scalePose
	spots   []spot
	texSeed uint64

	mapsOnce sync.Once
	shade    []float32 // illumination × skin texture, layer-sized
	scaleM   objMap    // the scale: coverage, albedo, fluorescence

	mu     sync.Mutex
	layers map[layerKey]*layerEntry
	tick   uint64
}

type layerKey struct {
	b light.Band
	f light.Filter
}

type layerEntry struct {
	once sync.Once
	l    *Layer
	used uint64
}

// objMap is a per-object map over its bounding box in layer coordinates.
type objMap struct {
	x0, y0, w, h int
	a, b, c      []float32
}

func (m *objMap) contains(x, y int) bool {
	return x >= m.x0 && y >= m.y0 && x < m.x0+m.w && y < m.y0+m.h
}

// New generates the scene for cfg.
func New(cfg Config) (*Scene, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	s := &Scene{cfg: cfg, layers: map[layerKey]*layerEntry{}}
	g := cfg.Geometry
	s.mmPx = g.SensorWidthMM / float64(cfg.Width) * (g.DistanceMM - g.FocalMM) / g.FocalMM
	s.stride = cfg.Width + 2*cfg.Margin
	s.rows = cfg.Height + 2*cfg.Margin
	s.setTilt()

	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5ce7e5ce7e))
	s.skin = 1 + rng.IntN(6)
	if cfg.Skin != 0 {
		s.skin = cfg.Skin
	}
	if err := s.placeScale(rng); err != nil {
		return nil, err
	}
	nb := cfg.Bruises
	if nb == 0 {
		nb = 2 + rng.IntN(3)
	}
	if err := s.placeBruises(rng, nb); err != nil {
		return nil, err
	}
	for range 2 + rng.IntN(3) {
		s.spots = append(s.spots, spot{
			u: (rng.Float64() - 0.5) * 0.8 * float64(cfg.Width) * s.mmPx,
			v: (rng.Float64() - 0.5) * 0.8 * float64(cfg.Height) * s.mmPx,
			// Hot spots are small highlights: 2–6 mm across, up to 25 %.
			sigma: 1 + 2*rng.Float64(),
			peak:  0.08 + 0.17*rng.Float64(),
		})
	}
	s.texSeed = rng.Uint64()
	return s, nil
}

// Prepare renders the per-pixel maps every layer is built from (skin
// texture and shading, bruise and scale maps), if that has not been done:
// about half a second at 12 MP. The first Layer call does it otherwise;
// Truth never needs it.
func (s *Scene) Prepare() { s.ensureMaps() }

// ensureMaps renders the per-pixel maps layers are built from, once.
func (s *Scene) ensureMaps() {
	s.mapsOnce.Do(func() {
		s.buildShade(s.texSeed)
		s.buildScaleMap()
		for _, b := range s.bruises {
			s.buildBruiseMap(b)
		}
	})
}

// Skin is the skin group in use.
func (s *Scene) Skin() int { return s.skin }

// Size is the frame size in pixels.
func (s *Scene) Size() (w, h int) { return s.cfg.Width, s.cfg.Height }

// Margin is how far layers extend beyond the frame.
func (s *Scene) Margin() int { return s.cfg.Margin }

// MMPerPixel is the nominal scale at the plane, ignoring tilt.
func (s *Scene) MMPerPixel() float64 { return s.mmPx }

func (s *Scene) setTilt() {
	th := s.cfg.TiltDeg * math.Pi / 180
	ph := s.cfg.TiltAxisDeg * math.Pi / 180
	c, sn := math.Cos(ph), math.Sin(ph)
	// M = R(φ)·diag(1, 1/cosθ)·R(−φ), times mm per pixel.
	k := 1 / math.Cos(th)
	m := [4]float64{
		c*c + sn*sn*k, c*sn - sn*c*k,
		sn*c - c*sn*k, sn*sn + c*c*k,
	}
	for i := range m {
		s.fromPx[i] = m[i] * s.mmPx
	}
	det := s.fromPx[0]*s.fromPx[3] - s.fromPx[1]*s.fromPx[2]
	s.toPx = [4]float64{s.fromPx[3] / det, -s.fromPx[1] / det, -s.fromPx[2] / det, s.fromPx[0] / det}
}

// PlaneFromPixel maps image coordinates (pixel (0,0)'s top-left corner at
// 0,0; its centre at 0.5,0.5) to plane millimetres (origin at the point
// seen at the frame's centre, u to the right and v down at zero tilt).
func (s *Scene) PlaneFromPixel(x, y float64) (u, v float64) {
	dx, dy := x-float64(s.cfg.Width)/2, y-float64(s.cfg.Height)/2
	return s.fromPx[0]*dx + s.fromPx[1]*dy, s.fromPx[2]*dx + s.fromPx[3]*dy
}

// PixelFromPlane is the inverse of PlaneFromPixel.
func (s *Scene) PixelFromPlane(u, v float64) (x, y float64) {
	return s.toPx[0]*u + s.toPx[1]*v + float64(s.cfg.Width)/2, s.toPx[2]*u + s.toPx[3]*v + float64(s.cfg.Height)/2
}

// layerPlane maps a layer pixel's centre to the plane.
func (s *Scene) layerPlane(lx, ly int) (u, v float64) {
	m := float64(s.cfg.Margin)
	return s.PlaneFromPixel(float64(lx)-m+0.5, float64(ly)-m+0.5)
}

// planeBoxToLayer returns the layer-pixel box covering a plane rectangle
// given by its corners, clipped to the layer.
func (s *Scene) planeBoxToLayer(pts [][2]float64) (x0, y0, x1, y1 int) {
	minX, minY := math.Inf(1), math.Inf(1)
	maxX, maxY := math.Inf(-1), math.Inf(-1)
	for _, p := range pts {
		x, y := s.PixelFromPlane(p[0], p[1])
		minX, maxX = math.Min(minX, x), math.Max(maxX, x)
		minY, maxY = math.Min(minY, y), math.Max(maxY, y)
	}
	m := s.cfg.Margin
	x0 = max(0, int(math.Floor(minX))+m-2)
	y0 = max(0, int(math.Floor(minY))+m-2)
	x1 = min(s.stride, int(math.Ceil(maxX))+m+2)
	y1 = min(s.rows, int(math.Ceil(maxY))+m+2)
	return
}

// inFrame reports whether plane point (u, v) is inside the frame with a
// border of pad pixels.
func (s *Scene) inFrame(u, v, pad float64) bool {
	x, y := s.PixelFromPlane(u, v)
	return x >= pad && y >= pad && x <= float64(s.cfg.Width)-pad && y <= float64(s.cfg.Height)-pad
}

// parallelRows runs f over row ranges of [y0, y1) on all cores.
func parallelRows(y0, y1 int, f func(a, b int)) {
	n := runtime.GOMAXPROCS(0)
	if n < 2 || y1-y0 < 64 {
		f(y0, y1)
		return
	}
	var wg sync.WaitGroup
	step := (y1 - y0 + n - 1) / n
	for a := y0; a < y1; a += step {
		b := min(a+step, y1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(a, b)
		}()
	}
	wg.Wait()
}

// errNoRoom: the scene cannot place what was asked.
var errNoRoom = errors.New("scene: no room")
