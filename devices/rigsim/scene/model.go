package scene

import (
	"fmt"
	"math"

	"github.com/exhibit-forensics/exhibit/devices/light"
)

// wl indexes the six wavelengths the model follows.
type wl int

const (
	nm365 wl = iota
	nm415
	nm450
	nm540
	nm600
	nm850
	numWL
)

// row is one row of the physics table (imaging.md, "Physics for a
// believable simulator").
type row struct {
	nm          int
	bloodOxy    float64 // μa of whole blood, fully oxygenated, cm⁻¹
	bloodDeoxy  float64 // μa of whole blood, deoxygenated, cm⁻¹
	melLight    float64 // melanin μa, light skin, cm⁻¹
	melDark     float64 // melanin μa, dark skin, cm⁻¹
	reachMM     float64 // 1/μeff in dermis, mm
	dermalR     float64 // Rd: diffuse reflectance without melanin (see package doc)
	bilirubin   float64 // relative bilirubin absorption, 1 at 450 nm
	fluorescEta float64 // relative autofluorescence yield when used as excitation
	epiShare    float64 // share of that fluorescence arising in the epidermis, above any bruise
}

var table = [numWL]row{
	nm365: {365, 474, 739, 37, 234, 0.21, 0.17, 0.30, 0.030, 0.70},
	nm415: {415, 2800, 1890, 24, 150, 0.12, 0.235, 0.55, 0.025, 0.05},
	nm450: {450, 336, 553, 18, 113, 0.33, 0.246, 1.00, 0.015, 0.03},
	nm540: {540, 285, 250, 10, 60, 0.48, 0.32, 0.02, 0.003, 0.60},
	nm600: {600, 17, 79, 7, 41, 1.14, 0.52, 0, 0, 0},
	nm850: {850, 5.7, 3.7, 2, 12, 2.25, 0.60, 0, 0, 0},
}

// Model constants (package doc, "Reflectance model").
const (
	epidermisCM   = 0.0044 // effective melanin path d, cm
	extraBloodCM  = 0.0021 // L, effective path through a bruise's extra blood, cm
	contrastFloor = 0.085  // c0
	bruiseScale   = 0.6    // k
	bilirubinMax  = 0.40   // Cbil(450 nm) of a mature superficial rim
	glareBase     = 0.04   // specular reflection, fraction of incident light
	xpolGlare     = 0.03   // fraction of glare left under cross-polarised white
	filterPass    = 0.90   // transmission of a filter in its pass band
	filterBlock   = 0.001  // leakage (OD 3) outside it
	// SuperficialMM is the depth at which a bruise shows the anchor
	// contrasts.
	SuperficialMM = 0.058
)

// White light's spectral mix and the fluorescence emission spectrum.
var (
	whiteMix = [...]struct {
		w wl
		f float64
	}{{nm450, 0.25}, {nm540, 0.40}, {nm600, 0.35}}
	emissionMix = [...]struct {
		w wl
		f float64
	}{{nm540, 0.70}, {nm600, 0.30}}
)

// melaninFactor is the melanin concentration of skin group g (1–6)
// relative to the table's "light" column: group 2 is "light", group 5
// "dark", geometric in between and beyond.
func melaninFactor(group int) float64 {
	const darkOverLight = 6.25 // the table's dark/light ratio (150/24 at 415 nm)
	return math.Pow(darkOverLight, float64(group-2)/3)
}

// epidermisT is the one-way transmission of the epidermis at w.
func epidermisT(w wl, group int) float64 {
	mu := table[w].melLight * melaninFactor(group)
	return math.Exp(-mu * epidermisCM)
}

// skinDiffuse is the diffuse reflectance of unbruised skin at w.
func skinDiffuse(w wl, group int) float64 {
	t := epidermisT(w, group)
	return table[w].dermalR * t * t
}

// depthFactor is how much of a superficial bruise's contrast survives at
// depth z (mm): exp(−2z/reach), relative to the superficial depth.
func depthFactor(w wl, depthMM float64) float64 {
	return math.Exp(-2 * depthMM / table[w].reachMM)
}

// chb is the diffuse contrast of a superficial fresh bruise at w (before
// the depth factor for SuperficialMM is applied).
func chb(w wl) float64 {
	return math.Min(1, 1-math.Exp(-extraBloodCM*table[w].bloodDeoxy)+contrastFloor)
}

// cbil is the diffuse contrast of a mature bilirubin rim at w.
func cbil(w wl) float64 {
	return bilirubinMax * table[w].bilirubin
}

// attenuation holds, per wavelength, the fraction of diffuse light removed
// per unit haemoglobin weight and per unit bilirubin weight, for one
// bruise (its age and depth folded in).
type attenuation struct {
	hb, bil [numWL]float64
}

func bruiseAttenuation(ageDays, depthMM float64) attenuation {
	var a attenuation
	hb, bil := hbAmount(ageDays), bilAmount(ageDays)
	for w := range numWL {
		d := depthFactor(w, depthMM)
		a.hb[w] = bruiseScale * hb * chb(w) * d
		a.bil[w] = bruiseScale * bil * cbil(w) * d
	}
	return a
}

// hbAmount is the haemoglobin left in a bruise of the given age, relative
// to a fresh one.
func hbAmount(age float64) float64 { return math.Exp(-age / 6) }

// bilAmount is the bilirubin in a bruise of the given age, relative to its
// peak (about day 6–8).
func bilAmount(age float64) float64 {
	if age <= 2 {
		return 0
	}
	t := age - 2
	v := (1 - math.Exp(-t/2)) * math.Exp(-t/10)
	return v / 0.6 // peak of the curve ≈ 0.6 at t ≈ 4.8
}

// coreFraction is the radius of the haemoglobin core relative to the
// bruise's outline.
func coreFraction(age float64) float64 {
	return 1 - 0.45*math.Min(1, math.Max(0, (age-2)/6))
}

// filterCutOn is each filter's long-pass edge in nm (0: no filter).
var filterCutOn = map[light.Filter]float64{
	light.FilterNone: 0, light.FilterYellow: 500, light.FilterOrange: 550,
	light.FilterRed: 600, light.FilterIRPass: 720,
}

// filterT is the filter's transmission at w.
func filterT(f light.Filter, w wl) float64 {
	c := filterCutOn[f]
	switch nm := float64(table[w].nm); {
	case c == 0:
		return 1
	case nm > c+5:
		return filterPass
	case nm >= c-5:
		return filterPass / 2 // on the edge
	default:
		return filterBlock
	}
}

// sourcePower is each band's relative photon flux at 100 % output as the
// sensor sees it (LED power × sensor quantum efficiency). Assumed values.
var sourcePower = map[light.Band]float64{
	light.BandWhite: 1.0, light.BandCrossPolarised: 0.25,
	light.Band365: 0.3, light.Band415: 0.8, light.Band450: 1.0, light.Band535: 0.7, light.Band850: 0.5,
}

// bandMix is the band's spectrum over the model wavelengths.
func bandMix(b light.Band) []struct {
	w wl
	f float64
} {
	one := func(w wl) []struct {
		w wl
		f float64
	} {
		return []struct {
			w wl
			f float64
		}{{w, 1}}
	}
	switch b {
	case light.BandWhite, light.BandCrossPolarised:
		return whiteMix[:]
	case light.Band365:
		return one(nm365)
	case light.Band415:
		return one(nm415)
	case light.Band450:
		return one(nm450)
	case light.Band535:
		return one(nm540)
	case light.Band850:
		return one(nm850)
	}
	panic(fmt.Sprintf("scene: band %v", b))
}

// response is what one (band, filter) pair does at a pixel, as linear
// coefficients over the pixel's properties, precomputed once per layer:
//
//	radiance = shade·Σ_w refl[w]·Rdiffuse_w(x) + glare·glareK
//	         + shade·eta·Tepi(ex)·(1−A_ex(x))·Σ_w emis[w]·Tepi(w)·(1−A_w(x))
type response struct {
	power   float64        // source power
	refl    [numWL]float64 // weight of diffuse reflectance at w (band mix × filter)
	glareK  float64        // weight of glare
	ex      wl             // excitation wavelength for fluorescence
	eta     float64        // autofluorescence yield of the excitation (0: none)
	emis    [numWL]float64 // emission mix × filter transmission
	scaleFl float64        // fluorescence of the scale's white base, filter included
}

func newResponse(b light.Band, f light.Filter) response {
	r := response{power: sourcePower[b]}
	var reflT float64
	for _, m := range bandMix(b) {
		t := filterT(f, m.w)
		r.refl[m.w] += m.f * t
		reflT += m.f * t
	}
	r.glareK = reflT
	if b == light.BandCrossPolarised {
		r.glareK *= xpolGlare
	}
	if b != light.BandWhite && b != light.BandCrossPolarised {
		ex := bandMix(b)[0].w
		r.ex = ex
		var pass float64
		for _, m := range emissionMix {
			t := filterT(f, m.w)
			r.emis[m.w] = m.f * t
			pass += m.f * t
		}
		if pass > 0 {
			r.eta = table[ex].fluorescEta
		}
		r.scaleFl = scaleFluorescence(ex) * pass
	}
	return r
}

// skinRadiance is the light a skin pixel sends to the sensor per unit of
// source output, before shading: diffuse (attenuated by A) plus
// fluorescence. att is the bruise attenuation at the pixel per wavelength
// (0 outside bruises).
func (r *response) skinRadiance(group int, att *[numWL]float64) float64 {
	var v float64
	for w := range numWL {
		if r.refl[w] != 0 {
			v += r.refl[w] * skinDiffuse(w, group) * clamp01(1-att[w])
		}
	}
	if r.eta != 0 {
		// Dermal fluorescence: excitation and emission both cross the
		// melanin layer and the bruise.
		var em, surface float64
		for w := range numWL {
			if r.emis[w] != 0 {
				em += r.emis[w] * epidermisT(w, group) * clamp01(1-att[w])
				surface += r.emis[w]
			}
		}
		s := table[r.ex].epiShare
		v += r.eta * ((1-s)*epidermisT(r.ex, group)*clamp01(1-att[r.ex])*em + s*surface)
	}
	return v
}

func clamp01(v float64) float64 { return math.Min(1, math.Max(0, v)) }

// Contrast is the model's contrast 1 − bruise/skin for a bruise of the
// given age and depth, seen at (band, filter) on skin group, with the
// bruise's haemoglobin and bilirubin weights hbW and bilW (1 at the centre
// of a fresh bruise), including uniform glare (no hot spots). It is what a
// rendered frame should show, on average, between a bruise region and the
// skin around it.
func Contrast(b light.Band, f light.Filter, group int, ageDays, depthMM, hbW, bilW float64) float64 {
	r := newResponse(b, f)
	a := bruiseAttenuation(ageDays, depthMM)
	var none, in [numWL]float64
	for w := range numWL {
		in[w] = hbW*a.hb[w] + bilW*a.bil[w]
	}
	skin := r.skinRadiance(group, &none) + glareBase*r.glareK
	bruise := r.skinRadiance(group, &in) + glareBase*r.glareK
	if skin == 0 {
		return 0
	}
	return 1 - bruise/skin
}

// Brightness is the radiance of unbruised skin at (band, filter) per unit
// source output, glare included: a guide for choosing exposures.
func Brightness(b light.Band, f light.Filter, group int) float64 {
	r := newResponse(b, f)
	var none [numWL]float64
	return r.power * (r.skinRadiance(group, &none) + glareBase*r.glareK)
}
