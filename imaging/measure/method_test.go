package measure

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
	"github.com/exhibit-forensics/exhibit/imaging/imagingtest"
)

// hotSpot adds a specular highlight to f: a Gaussian of standard
// deviation sigma pixels at (cx, cy), peak times the frame's level there.
func hotSpot(f *camera.Frame, cx, cy, sigma, peak float64) {
	for y := range f.Height {
		for x := range f.Width {
			d2 := (float64(x)+0.5-cx)*(float64(x)+0.5-cx) + (float64(y)+0.5-cy)*(float64(y)+0.5-cy)
			i := y*f.Width + x
			f.Pix[i] = uint16(math.Min(65535, math.Round(float64(f.Pix[i])*(1+peak*math.Exp(-d2/(2*sigma*sigma))))))
		}
	}
}

// TestReferenceHotSpot: a specular hot spot in the reference, on a
// bruise's edge (the band, behind its barrier filter, has none): the
// latest method measures the bruise through it, within ±3 %; the first
// left the hot spot and its margin out of the skin and cut them out of the
// bruise. A hot spot on plain skin is outlined by neither.
func TestReferenceHotSpot(t *testing.T) {
	const mm = 0.113
	e := ellipse{400, 300, 110, 80, 20, 0.2}
	band, ref := synthetic(800, 600, e), synthetic(800, 600)
	hotSpot(ref, 400+110, 300, 15, 0.4) // on the bruise's edge, 1.7 mm σ
	hotSpot(ref, 150, 480, 20, 0.3)     // on skin
	hotSpot(band, 150, 480, 20, 0.3)    // the same glare in the band: left out as a bruise would not be
	want := math.Pi * e.a * e.b * mm * mm
	areas := map[int]float64{}
	for _, method := range []int{MethodGlareMasked, MethodGlareFilled} {
		res, err := Measure(band, ref, Params{MMPerPixel: mm, Reduce: 2, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Bruises) != 1 {
			t.Fatalf("method %d: found %d bruises, want 1: %+v", method, len(res.Bruises), res.Bruises)
		}
		areas[method] = res.Bruises[0].AreaMM2
		t.Logf("method %d: %.1f mm², truth %.1f (%+.1f %%)", method, areas[method], want, 100*(areas[method]/want-1))
	}
	if e := areas[MethodGlareFilled]/want - 1; math.Abs(e) > 0.03 {
		t.Errorf("through the hot spot: %.1f mm², want %.1f ± 3 %% (%+.1f %%)", areas[MethodGlareFilled], want, 100*e)
	}
	if areas[MethodGlareMasked] > 0.95*want {
		t.Errorf("the first method measured %.1f mm² of %.1f: the test's hot spot no longer bites (the test is moot)", areas[MethodGlareMasked], want)
	}
}

// ring is a noise-free frame with an older bruise's shape: an elliptical
// rim of contrast rim around a paler core of contrast core, the core's
// radius 0.55 of the outline's (the simulator's core at day 8).
func ring(w, h int, e ellipse, core, rim float64) *camera.Frame {
	f := &camera.Frame{Width: w, Height: h, Channels: 1, Pix: make([]uint16, w*h), Meta: camera.Meta{BitDepth: 16}}
	s, c := math.Sincos(e.angleDeg * math.Pi / 180)
	for y := range h {
		for x := range w {
			dx, dy := float64(x)+0.5-e.cx, float64(y)+0.5-e.cy
			r := math.Hypot((c*dx+s*dy)/e.a, (-s*dx+c*dy)/e.b)
			step := func(e0, e1 float64) float64 {
				t := min(1, max(0, (r-e0)/(e1-e0)))
				return t * t * (3 - 2*t)
			}
			out := 1 - step(0.88, 1.12)
			inCore := 1 - step(0.55-0.12, 0.55+0.12)
			con := out * (core*inCore + rim*(1-inCore))
			f.Pix[y*w+x] = uint16(math.Round(30000 * (1 - con)))
		}
	}
	return f
}

// TestRingBruise: an older bruise whose core is paler than its rim has
// several peaks along the rim. The latest method outlines it as one bruise
// (the outlines of the rim's parts touch), within ±3 % of its area; the
// first method cut it into pieces along the basins' dividing lines.
func TestRingBruise(t *testing.T) {
	const mm = 0.113
	e := ellipse{400, 300, 200, 120, 30, 0}
	res, err := Measure(ring(800, 600, e, 0.04, 0.12), nil, Params{MMPerPixel: mm, Reduce: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := math.Pi * e.a * e.b * mm * mm
	if len(res.Bruises) != 1 {
		t.Fatalf("found %d bruises, want 1: %+v", len(res.Bruises), res.Bruises)
	}
	if a := res.Bruises[0].AreaMM2; math.Abs(a/want-1) > 0.03 {
		t.Errorf("area %.1f mm², want %.1f ± 3 %%", a, want)
	}
	old, err := Measure(ring(800, 600, e, 0.04, 0.12), nil, Params{MMPerPixel: mm, Reduce: 2, Method: MethodGlareMasked})
	if err != nil {
		t.Fatal(err)
	}
	if len(old.Bruises) < 2 {
		t.Errorf("the first method found the ring as %d region: the test's ring no longer splits (the test is moot)", len(old.Bruises))
	}
}

// TestParamsJSON: parameters without a method are the first method's (a
// recipe written before the field existed); with one, it is kept; the
// strict decoding a recipe uses still rejects unknown members; and what a
// measurement records decodes to the same parameters.
func TestParamsJSON(t *testing.T) {
	strict := jsonv2.RejectUnknownMembers(true)
	var p Params
	if err := jsonv2.Unmarshal([]byte(`{"mm_per_px": 0.1, "reduce": 2}`), &p, strict); err != nil {
		t.Fatal(err)
	}
	if p.Method != MethodGlareMasked || p.MMPerPixel != 0.1 || p.Reduce != 2 {
		t.Errorf("without a method: %+v", p)
	}
	if err := json.Unmarshal([]byte(`{"mm_per_px": 0.1}`), &p); err != nil || p.Method != MethodGlareMasked {
		t.Errorf("encoding/json without a method: %+v, %v", p, err)
	}
	if err := jsonv2.Unmarshal([]byte(`{"mm_per_px": 0.1, "method": 2}`), &p, strict); err != nil || p.Method != 2 {
		t.Errorf("method 2: %+v, %v", p, err)
	}
	if err := jsonv2.Unmarshal([]byte(`{"mm_per_px": 0.1, "methd": 2}`), &p, strict); err == nil {
		t.Errorf("an unknown member was accepted: %+v", p)
	}
	rec := Params{MMPerPixel: 0.05, Exclude: [][]image.Point{{{1, 2}, {3, 4}, {5, 1}}}}.withDefaults()
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	var back Params
	if err := jsonv2.Unmarshal(b, &back, strict); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(back) != fmt.Sprint(rec) || back.Method != MethodLatest {
		t.Errorf("round trip: %+v, want %+v", back, rec)
	}
	if _, err := Measure(synthetic(200, 200), nil, Params{MMPerPixel: 0.1, Method: MethodLatest + 1}); !errors.Is(err, ErrInput) {
		t.Errorf("an unknown method: %v", err)
	}
}

// TestMethodGlareMaskedUnchanged: parameters recorded before the method
// was named (no "method" member) still give, to the bit, what the code of
// that time gave — testdata/method1.golden, written by the measurement
// at commit d277769 and never rewritten by -update — so that derivatives
// sealed then still reproduce. The scene (seed 41, skin group 1, the end-
// to-end test's) has a hot spot of the reference on its smallest bruise:
// the latest method measures that bruise within ±10 % of the truth.
func TestMethodGlareMaskedUnchanged(t *testing.T) {
	if testing.Short() {
		t.Skip("renders two 2000 × 1500 frames")
	}
	sc, err := scene.New(scene.Config{Seed: 41, Skin: 1, Bruises: 3, Width: 2000, Height: 1500})
	if err != nil {
		t.Fatal(err)
	}
	tr := sc.Truth()
	var scale []image.Point
	for _, p := range tr.Scale.OutlinePx {
		scale = append(scale, image.Pt(int(math.Round(p[0])), int(math.Round(p[1]))))
	}
	band := imagingtest.SimFrame(t, sc, light.Band450, light.FilterOrange, 4102)
	ref := imagingtest.SimFrame(t, sc, light.Band850, light.FilterIRPass, 4100)
	var p Params
	if err := json.Unmarshal([]byte(fmt.Sprintf(`{"mm_per_px": %v, "reduce": 2}`, tr.Geometry.MMPerPixel)), &p); err != nil {
		t.Fatal(err)
	}
	p.Exclude = [][]image.Point{scale}
	res, err := Measure(band, ref, p)
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.MarshalIndent(struct {
		Bruises []Bruise
		Skin    Skin
	}{res.Bruises, res.Skin}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "method1.golden"))
	if err != nil {
		t.Fatal(err)
	}
	if string(js)+"\n" != string(want) {
		t.Errorf("the first method's measurement changed:\n%s\nwant:\n%s", js, want)
	}

	p.Method = 0
	res, err = Measure(band, ref, p)
	if err != nil {
		t.Fatal(err)
	}
	small := tr.Bruises[0]
	for _, tb := range tr.Bruises {
		if tb.AreaMM2 < small.AreaMM2 {
			small = tb
		}
	}
	for _, b := range res.Bruises {
		if inside(small.OutlinePx, b.CentroidPx[0], b.CentroidPx[1]) {
			if e := b.AreaMM2/small.AreaMM2 - 1; math.Abs(e) > 0.10 {
				t.Errorf("bruise %d under the hot spot: %.1f mm², truth %.1f (%+.1f %%)", small.ID, b.AreaMM2, small.AreaMM2, 100*e)
			}
			return
		}
	}
	t.Errorf("bruise %d under the hot spot not found: %+v", small.ID, res.Bruises)
}
