package scene

import (
	"math"

	"github.com/exhibit-forensics/exhibit/devices/light"
)

// Layer is the light one (band, filter) pair sends from every pixel of the
// scene to the sensor, per unit of source output and per unit of time, in
// relative units (the camera simulator multiplies by its photon flux,
// exposure and gain). It covers the frame plus Margin pixels on every side.
//
// Radiance at frame pixel (x, y) shifted by (dx, dy) is
//
//	float64(Pix[(y+Margin+dy)*Stride + x+Margin+dx]) * Unit
type Layer struct {
	Band          light.Band
	Filter        light.Filter
	Width, Height int // the frame
	Margin        int
	Stride        int // Width + 2·Margin; there are Height + 2·Margin rows
	Pix           []uint16
	Unit          float64
}

// pixelModel is a response with the skin group's constants folded in.
type pixelModel struct {
	power    float64
	dif      [numWL]float64 // refl·skinDiffuse
	reflSum  float64        // Σ refl (for the spectrally flat scale)
	glareK   float64
	eta      float64
	ex       wl
	exT      float64        // Tepi(ex)
	emT      [numWL]float64 // emis·Tepi
	surface  float64        // Σ emis
	epiShare float64
	scaleFl  float64
	skin0    float64 // radiance of unbruised skin (no shade, no glare)
}

func newPixelModel(b light.Band, f light.Filter, group int) pixelModel {
	r := newResponse(b, f)
	p := pixelModel{power: r.power, glareK: r.glareK, eta: r.eta, ex: r.ex, scaleFl: r.scaleFl}
	for w := range numWL {
		p.dif[w] = r.refl[w] * skinDiffuse(w, group)
		p.reflSum += r.refl[w]
		p.emT[w] = r.emis[w] * epidermisT(w, group)
		p.surface += r.emis[w]
	}
	if r.eta != 0 {
		p.exT = epidermisT(r.ex, group)
		p.epiShare = table[r.ex].epiShare
	}
	var none [numWL]float64
	p.skin0 = p.skin(&none)
	return p
}

// skin is the radiance of skin with bruise attenuation att (no shade, no
// glare). It is response.skinRadiance with the constants precomputed.
func (p *pixelModel) skin(att *[numWL]float64) float64 {
	var v float64
	for w := range numWL {
		if p.dif[w] != 0 {
			v += p.dif[w] * clamp01(1-att[w])
		}
	}
	if p.eta != 0 {
		var em float64
		for w := range numWL {
			if p.emT[w] != 0 {
				em += p.emT[w] * clamp01(1-att[w])
			}
		}
		v += p.eta * ((1-p.epiShare)*p.exT*clamp01(1-att[p.ex])*em + p.epiShare*p.surface)
	}
	return v
}

// upperBound bounds the radiance of any pixel, for quantisation.
func (p *pixelModel) upperBound(s *Scene) float64 {
	maxSpot := 0.0
	for _, sp := range s.spots {
		maxSpot += sp.peak
	}
	diffuse := math.Max(p.skin0*1.1, p.reflSum*albedoWhite+p.scaleFl)
	return p.power * (diffuse + p.glareK*(glareBase+maxSpot)) * 1.05
}

// Layer returns the layer for (b, f), computing it on first use (on all
// cores: about a second at 12 MP on two). Layers are cached, the least
// recently used beyond Config.MaxLayers dropped.
func (s *Scene) Layer(b light.Band, f light.Filter) *Layer {
	k := layerKey{b, f}
	s.mu.Lock()
	e := s.layers[k]
	s.tick++
	if e == nil {
		e = &layerEntry{used: s.tick}
		s.layers[k] = e
		s.evictLocked()
	}
	e.used = s.tick
	s.mu.Unlock()
	e.once.Do(func() { e.l = s.buildLayer(b, f) })
	return e.l
}

func (s *Scene) evictLocked() {
	for len(s.layers) > s.cfg.MaxLayers {
		var oldest layerKey
		var t uint64 = math.MaxUint64
		for k, e := range s.layers {
			if e.used < t {
				oldest, t = k, e.used
			}
		}
		delete(s.layers, oldest)
	}
}

func (s *Scene) buildLayer(b light.Band, f light.Filter) *Layer {
	s.ensureMaps()
	p := newPixelModel(b, f, s.skin)
	l := &Layer{Band: b, Filter: f, Width: s.cfg.Width, Height: s.cfg.Height, Margin: s.cfg.Margin,
		Stride: s.stride, Pix: make([]uint16, s.stride*s.rows)}
	ub := p.upperBound(s)
	if ub <= 0 {
		ub = 1
	}
	l.Unit = ub / 65535
	q := 1 / l.Unit
	parallelRows(0, s.rows, func(y0, y1 int) {
		diffuse := make([]float64, s.stride)
		glare := make([]float64, s.stride)
		for ly := y0; ly < y1; ly++ {
			s.radianceRow(&p, ly, diffuse, glare)
			out := l.Pix[ly*s.stride : (ly+1)*s.stride]
			for lx := range out {
				v := p.power * (diffuse[lx] + p.glareK*glare[lx]) * q
				out[lx] = uint16(math.Min(65535, math.Max(0, v+0.5)))
			}
		}
	})
	return l
}

// radianceRow fills one layer row's diffuse (fluorescence included) and
// glare terms.
func (s *Scene) radianceRow(p *pixelModel, ly int, diffuse, glare []float64) {
	shade := s.shade[ly*s.stride : (ly+1)*s.stride]
	for lx := range diffuse {
		diffuse[lx] = float64(shade[lx]) * p.skin0
		glare[lx] = glareBase * s.illumination(lx, ly)
	}
	var att [numWL]float64
	for _, b := range s.bruises {
		m := &b.m
		if ly < m.y0 || ly >= m.y0+m.h {
			continue
		}
		row := (ly - m.y0) * m.w
		for i := range m.w {
			hb, bil := float64(m.a[row+i]), float64(m.b[row+i])
			if hb == 0 && bil == 0 {
				continue
			}
			for w := range numWL {
				att[w] = hb*b.att.hb[w] + bil*b.att.bil[w]
			}
			lx := m.x0 + i
			diffuse[lx] = float64(shade[lx]) * p.skin(&att)
		}
	}
	if m := &s.scaleM; ly >= m.y0 && ly < m.y0+m.h {
		row := (ly - m.y0) * m.w
		for i := range m.w {
			cov := float64(m.a[row+i])
			if cov == 0 {
				continue
			}
			lx := m.x0 + i
			sc := s.illumination(lx, ly) * (float64(m.b[row+i])*p.reflSum + float64(m.c[row+i])*p.scaleFl)
			diffuse[lx] = (1-cov)*diffuse[lx] + cov*sc
		}
	}
	for _, sp := range s.spots {
		r := 3.5 * sp.sigma
		x0, y0, x1, y1 := s.planeBoxToLayer([][2]float64{{sp.u - r, sp.v - r}, {sp.u + r, sp.v - r}, {sp.u - r, sp.v + r}, {sp.u + r, sp.v + r}})
		if ly < y0 || ly >= y1 {
			continue
		}
		k := -1 / (2 * sp.sigma * sp.sigma)
		for lx := x0; lx < x1; lx++ {
			u, v := s.layerPlane(lx, ly)
			d2 := (u-sp.u)*(u-sp.u) + (v-sp.v)*(v-sp.v)
			glare[lx] += sp.peak * math.Exp(d2*k)
		}
	}
}
