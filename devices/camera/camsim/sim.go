package camsim

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/light/lightsim"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
	"github.com/exhibit-forensics/exhibit/internal/clock"
)

// Emitter tells what the light engine was emitting at a time;
// *lightsim.Sim implements it.
type Emitter interface {
	EmissionAt(t time.Time) lightsim.Emission
}

var _ Emitter = (*lightsim.Sim)(nil)

// Faults are the camera's injectable failures.
type Faults struct {
	// TimeoutRate is the probability that a capture never answers: the
	// sensor hangs and the request is held until the client gives up.
	TimeoutRate float64
	// Latency is added before every reply.
	Latency time.Duration
}

// AddFlags registers the faults on fs with the given name prefix (for
// example "camera-"): timeout-rate, latency.
func (f *Faults) AddFlags(fs *flag.FlagSet, prefix string) {
	fs.Var((*rate)(&f.TimeoutRate), prefix+"timeout-rate", "probability that a capture hangs until the client gives up (0–1)")
	fs.DurationVar(&f.Latency, prefix+"latency", 0, "delay before every camera reply")
}

type rate float64

func (r *rate) String() string { return fmt.Sprint(float64(*r)) }

func (r *rate) Set(s string) error {
	var v float64
	if _, err := fmt.Sscan(s, &v); err != nil {
		return fmt.Errorf("not a number: %q", s)
	}
	if v < 0 || v > 1 || v != v {
		return fmt.Errorf("%v is not a probability between 0 and 1", v)
	}
	*r = rate(v)
	return nil
}

// Config configures a camera simulator.
type Config struct {
	// Scene is what the camera looks at. Required.
	Scene *scene.Scene
	// Light is the light engine; nil means the enclosure is dark.
	Light Emitter
	// Clock must be the light simulator's clock. Default clock.System.
	Clock clock.Clock
	// Seed seeds noise, motion and faults.
	Seed                    uint64
	Model, Serial, Firmware string // defaults "NC12M", "NC0042", "2.3.0"
	Sensor                  Sensor
	Faults                  Faults
}

// Stats counts what the simulator did.
type Stats struct {
	Captures int // frames exposed
	Hung     int // captures held by the timeout fault
	Busy     int // requests refused because a capture was in progress
	Rejected int // malformed requests
	// Preview streams (GET /stream.mjpg) started and ended, and the
	// frames they sent.
	Streams, StreamsEnded int
	PreviewFrames         int
}

// Sim is a simulated network camera. Its methods are safe for concurrent
// use; one capture runs at a time, as on a real sensor.
type Sim struct {
	cfg   Config
	noise []float32

	sensor sync.Mutex // held while exposing and reading out

	mu         sync.Mutex
	frames     uint64
	rng        *rand.Rand
	hangNext   int
	hanging    chan struct{} // closed when a capture starts hanging
	stats      Stats
	lastTemp   float64
	faults     Faults
	maxMotion  int
	width, hgt int

	previewUnpaced atomic.Bool // benchmarks: send preview frames as fast as they render
}

// New returns a simulator.
func New(cfg Config) (*Sim, error) {
	if cfg.Scene == nil {
		return nil, errors.New("camsim: Config.Scene is nil")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System
	}
	if cfg.Model == "" {
		cfg.Model = "NC12M"
	}
	if cfg.Serial == "" {
		cfg.Serial = "NC0042"
	}
	if cfg.Firmware == "" {
		cfg.Firmware = "2.3.0"
	}
	cfg.Sensor.setDefaults()
	w, h := cfg.Scene.Size()
	if w > maxWidth {
		return nil, fmt.Errorf("camsim: frame width %d over %d", w, maxWidth)
	}
	s := &Sim{
		cfg:       cfg,
		noise:     newNoiseTable(cfg.Seed),
		rng:       rand.New(rand.NewPCG(cfg.Seed, 0x66617573)),
		faults:    cfg.Faults,
		maxMotion: max(0, min(cfg.Sensor.MaxMotion, cfg.Scene.Margin())),
		width:     w, hgt: h,
		lastTemp: temperature(0),
	}
	return s, nil
}

// Sensor returns the sensor description in use (defaults filled in).
func (s *Sim) Sensor() Sensor { return s.cfg.Sensor }

// Identity is what the camera reports about itself.
func (s *Sim) Identity() (model, serial, firmware string) {
	return s.cfg.Model, s.cfg.Serial, s.cfg.Firmware
}

// SetFaults replaces the fault settings.
func (s *Sim) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// HangNext makes the next n captures hang (the timeout fault, on demand).
func (s *Sim) HangNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hangNext = n
}

// Hanging returns a channel that is closed when a capture next starts
// hanging (the timeout fault). Take it before triggering the capture.
func (s *Sim) Hanging() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hanging == nil {
		s.hanging = make(chan struct{})
	}
	return s.hanging
}

// Stats returns a snapshot of the counters.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

func (s *Sim) count(f func(*Stats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.stats)
}

// shouldHang decides the timeout fault for one capture.
func (s *Sim) shouldHang() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	hang := s.hangNext > 0 || s.faults.TimeoutRate > 0 && s.rng.Float64() < s.faults.TimeoutRate
	if s.hangNext > 0 {
		s.hangNext--
	}
	if hang {
		s.stats.Hung++
		if s.hanging != nil {
			close(s.hanging)
			s.hanging = nil
		}
	}
	return hang
}

func (s *Sim) latency() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.Latency
}

// Request is what a capture asks for.
type Request struct {
	Exposure time.Duration
	Gain     float64
}

// LightShare is one band/filter's share of an exposure: the fraction of
// the exposure time it was lit times its output fraction.
type LightShare struct {
	Band    light.Band
	Filter  light.Filter
	Weight  float64
	Settled bool // lit and settled for the whole of its share
}

// Frame is a rendered frame and what the camera knows about it.
type Frame struct {
	Width, Height int
	Pix           []uint16
	Counter       uint64
	Exposure      time.Duration // applied
	Gain          float64       // applied
	Temperature   float64       // sensor, °C
	Start         time.Time     // exposure start on the shared clock
	// Offset is the hand motion: frame pixel (x, y) shows what the
	// scene's truth has at (x+Offset[0], y+Offset[1]).
	Offset [2]int
	// Light is the illumination during the exposure (simulator-only
	// knowledge; a real camera has none).
	Light []LightShare
}

// Capture exposes a frame: it waits (on the clock) for the exposure and
// readout, then renders what the light engine lit during the exposure. It
// returns ErrBusy if a capture is in progress.
func (s *Sim) Capture(ctx context.Context, req Request) (*Frame, error) {
	if !s.sensor.TryLock() {
		s.count(func(st *Stats) { st.Busy++ })
		return nil, ErrBusy
	}
	defer s.sensor.Unlock()
	exp, gain := s.cfg.Sensor.Applied(req.Exposure, req.Gain)
	s.mu.Lock()
	s.frames++
	n := s.frames
	s.stats.Captures++
	s.mu.Unlock()
	start := s.cfg.Clock.Now()
	if err := clock.Sleep(ctx, s.cfg.Clock, exp+s.cfg.Sensor.Readout); err != nil {
		return nil, err
	}
	return s.renderFrame(n, start, exp, gain), nil
}

// renderFrame renders frame n exposed from start for exp at gain.
func (s *Sim) renderFrame(n uint64, start time.Time, exp time.Duration, gain float64) *Frame {
	temp := temperature(n)
	f := &Frame{Width: s.width, Height: s.hgt, Counter: n, Exposure: exp, Gain: gain,
		Temperature: temp, Start: start, Light: s.illumination(start, exp)}
	f.Offset = s.motion(n)
	p := s.plan(f)
	f.Pix = make([]uint16, s.width*s.hgt)
	s.renderParallel(f.Pix, &p)
	s.mu.Lock()
	s.lastTemp = temp
	s.mu.Unlock()
	return f
}

func (s *Sim) plan(f *Frame) plan {
	sec := f.Exposure.Seconds()
	sn := s.cfg.Sensor
	p := plan{
		dark:  float32(sn.darkRate(f.Temperature) * sec),
		read2: float32(sn.ReadNoise * sn.ReadNoise),
		full:  float32(sn.FullWell),
		conv:  float32(65535 / sn.FullWell * f.Gain),
		dx:    f.Offset[0], dy: f.Offset[1],
		seed: mix64(s.cfg.Seed ^ f.Counter*0x9e3779b97f4a7c15),
	}
	for _, sh := range f.Light {
		l := s.cfg.Scene.Layer(sh.Band, sh.Filter)
		p.comps = append(p.comps, component{layer: l, k: float32(sn.PhotonFlux * sec * sh.Weight * l.Unit)})
	}
	return p
}

func (s *Sim) renderParallel(dst []uint16, p *plan) {
	n := runtime.GOMAXPROCS(0)
	if n < 2 {
		render(dst, s.width, s.noise, p, 0, s.hgt, make([]float32, s.width))
		return
	}
	var wg sync.WaitGroup
	step := (s.hgt + n - 1) / n
	for y0 := 0; y0 < s.hgt; y0 += step {
		y1 := min(y0+step, s.hgt)
		wg.Add(1)
		go func() {
			defer wg.Done()
			render(dst, s.width, s.noise, p, y0, y1, make([]float32, s.width))
		}()
	}
	wg.Wait()
}

// motion is frame n's hand-motion offset: a slow sway plus jitter, within
// ±maxMotion pixels, a function of the seed and n only.
func (s *Sim) motion(n uint64) [2]int {
	m := float64(s.maxMotion)
	if m == 0 {
		return [2]int{}
	}
	h := mix64(s.cfg.Seed ^ 0x6d6f74696f6e ^ n)
	j := func(bits uint64) float64 { return float64(bits&0xffff)/0xffff*2 - 1 }
	ph := float64(s.cfg.Seed%1000) / 1000 * 2 * math.Pi
	dx := 0.6*m*math.Sin(2*math.Pi*float64(n)/17+ph) + 0.4*m*j(h)
	dy := 0.6*m*math.Cos(2*math.Pi*float64(n)/23+ph) + 0.4*m*j(h>>16)
	c := func(v float64) int { return int(math.Max(-m, math.Min(m, math.Round(v)))) }
	return [2]int{c(dx), c(dy)}
}

// lightSamples is how many instants of an exposure are asked about.
const lightSamples = 32

// illumination integrates the light engine's emission over an exposure.
func (s *Sim) illumination(start time.Time, exp time.Duration) []LightShare {
	if s.cfg.Light == nil {
		return nil
	}
	var shares []LightShare
	add := func(e lightsim.Emission, w float64, settled bool) {
		if w <= 0 {
			return
		}
		for i := range shares {
			if shares[i].Band == e.Band && shares[i].Filter == e.Filter {
				shares[i].Weight += w
				shares[i].Settled = shares[i].Settled && settled
				return
			}
		}
		shares = append(shares, LightShare{Band: e.Band, Filter: e.Filter, Weight: w, Settled: settled})
	}
	for i := range lightSamples {
		t := start.Add(time.Duration((float64(i) + 0.5) / lightSamples * float64(exp)))
		e := s.cfg.Light.EmissionAt(t)
		out := func(e lightsim.Emission) float64 {
			if !e.On {
				return 0
			}
			return float64(e.Output) / 100 / lightSamples
		}
		if e.Settled {
			add(e, out(e), true)
			continue
		}
		// Settling: a ramp from the previous state to this one.
		span := e.SettledAt.Sub(e.Since)
		f := 1.0
		if span > 0 {
			f = float64(t.Sub(e.Since)) / float64(span)
		}
		add(e, f*out(e), false)
		prev := s.cfg.Light.EmissionAt(e.Since.Add(-time.Nanosecond))
		add(prev, (1-f)*out(prev), false)
	}
	return shares
}

// Temperature is the sensor temperature now.
func (s *Sim) Temperature() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastTemp
}

// Frames is the number of frames exposed since New.
func (s *Sim) Frames() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.frames
}

// Busy reports whether a capture is in progress.
func (s *Sim) Busy() bool {
	if s.sensor.TryLock() {
		s.sensor.Unlock()
		return false
	}
	return true
}

// ErrBusy: a capture is already in progress (HTTP 409 "busy").
var ErrBusy = errors.New("camsim: a capture is in progress")
