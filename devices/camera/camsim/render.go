package camsim

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
)

// Sensor describes the simulated image sensor.
type Sensor struct {
	FullWell    float64       // e⁻; default 20,000
	ReadNoise   float64       // e⁻ rms; default 2.5
	DarkCurrent float64       // e⁻/s at 25 °C, doubling every 6.5 °C; default 5
	PhotonFlux  float64       // e⁻/s per unit of layer radiance; default 2.6e6
	LineTime    time.Duration // exposure quantum; default 14.8 µs
	MinExposure time.Duration // default 100 µs
	MaxExposure time.Duration // default 2 s
	GainStep    float64       // default 1/16
	MinGain     float64       // default 1
	MaxGain     float64       // default 16
	Readout     time.Duration // time from the end of the exposure to the frame; default 40 ms
	MaxMotion   int           // hand motion between frames, pixels; default 4, negative for none (capped by the scene's margin)
}

// DefaultSensor is used for zero fields.
var DefaultSensor = Sensor{
	FullWell: 20000, ReadNoise: 2.5, DarkCurrent: 5, PhotonFlux: 2.6e6,
	LineTime: 14800 * time.Nanosecond, MinExposure: 100 * time.Microsecond, MaxExposure: 2 * time.Second,
	GainStep: 1.0 / 16, MinGain: 1, MaxGain: 16, Readout: 40 * time.Millisecond, MaxMotion: 4,
}

func (s *Sensor) setDefaults() {
	d := DefaultSensor
	for _, p := range []struct{ v, d *float64 }{
		{&s.FullWell, &d.FullWell}, {&s.ReadNoise, &d.ReadNoise}, {&s.DarkCurrent, &d.DarkCurrent},
		{&s.PhotonFlux, &d.PhotonFlux}, {&s.GainStep, &d.GainStep}, {&s.MinGain, &d.MinGain}, {&s.MaxGain, &d.MaxGain},
	} {
		if *p.v == 0 {
			*p.v = *p.d
		}
	}
	for _, p := range []struct{ v, d *time.Duration }{
		{&s.LineTime, &d.LineTime}, {&s.MinExposure, &d.MinExposure}, {&s.MaxExposure, &d.MaxExposure}, {&s.Readout, &d.Readout},
	} {
		if *p.v == 0 {
			*p.v = *p.d
		}
	}
	if s.MaxMotion == 0 {
		s.MaxMotion = d.MaxMotion
	}
}

// Applied quantises a requested exposure and gain to what the sensor can
// do: exposure to whole line times, gain to GainStep, both clamped to
// their ranges.
func (s Sensor) Applied(exposure time.Duration, gain float64) (time.Duration, float64) {
	lines := math.Round(float64(exposure) / float64(s.LineTime))
	e := time.Duration(max(1, lines)) * s.LineTime
	e = min(max(e, s.MinExposure), s.MaxExposure)
	g := math.Round(gain/s.GainStep) * s.GainStep
	g = min(max(g, s.MinGain), s.MaxGain)
	return e, g
}

// temperature is the sensor temperature after n frames: it warms from
// 30 °C towards 38 °C as it works.
func temperature(n uint64) float64 {
	return 30 + 8*(1-math.Exp(-float64(n)/150))
}

// darkRate is the dark current in e⁻/s at temperature t.
func (s Sensor) darkRate(t float64) float64 {
	return s.DarkCurrent * math.Exp2((t-25)/6.5)
}

// noiseBits sizes the table of normal deviates: a row starts at one of
// 2^17 offsets and reads on for a row's width, so the table holds 2^17 +
// maxWidth deviates (576 KiB).
const (
	noiseBits = 17
	maxWidth  = 16384
)

func newNoiseTable(seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 0x6e6f697365))
	t := make([]float32, 1<<noiseBits+maxWidth)
	for i := range t {
		t[i] = float32(rng.NormFloat64())
	}
	return t
}

// component is one layer's share of an exposure.
type component struct {
	layer *scene.Layer
	k     float32 // electrons per layer count over the whole exposure
}

// plan is everything a frame's pixels depend on.
type plan struct {
	comps  []component
	dark   float32 // mean dark electrons
	read2  float32 // read noise variance, e⁻²
	full   float32 // full well, e⁻
	conv   float32 // DN per electron (gain included)
	dx, dy int     // motion offset
	seed   uint64  // noise seed for this frame
}

// mix64 is SplitMix64's finaliser: a cheap, well-mixed hash.
func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// render writes the frame for p into dst (width × height samples), rows
// [y0, y1). acc is scratch space of at least width samples.
func render(dst []uint16, width int, noise []float32, p *plan, y0, y1 int, acc []float32) {
	const mask = 1<<noiseBits - 1
	dark, read2, full, conv := p.dark, p.read2, p.full, p.conv
	for y := y0; y < y1; y++ {
		out := dst[y*width : (y+1)*width]
		nb := int(mix64(p.seed^uint64(y)*0xd1b54a32d192ed03) & mask)
		nz := noise[nb : nb+width]
		if len(p.comps) == 1 {
			// The common case: one settled light.
			c := p.comps[0]
			l := c.layer
			off := (y+l.Margin+p.dy)*l.Stride + l.Margin + p.dx
			row, k := l.Pix[off:off+width], c.k
			for x := range out {
				e := float32(row[x])*k + dark
				sd := float32(math.Sqrt(float64(e + read2)))
				v := min(e+sd*nz[x], full) * conv
				out[x] = uint16(max(0, min(65535, v+0.5)))
			}
			continue
		}
		sig := acc[:width]
		for x := range sig {
			sig[x] = dark
		}
		for _, c := range p.comps {
			l := c.layer
			off := (y+l.Margin+p.dy)*l.Stride + l.Margin + p.dx
			row := l.Pix[off : off+width]
			for x, v := range row {
				sig[x] += float32(v) * c.k
			}
		}
		for x := range out {
			e := sig[x]
			sd := float32(math.Sqrt(float64(e + read2)))
			v := min(e+sd*nz[x], full) * conv
			out[x] = uint16(max(0, min(65535, v+0.5)))
		}
	}
}
