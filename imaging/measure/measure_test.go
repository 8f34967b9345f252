package measure

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
	"github.com/exhibit-forensics/exhibit/imaging/enhance"
	"github.com/exhibit-forensics/exhibit/imaging/imagingtest"
)

var pictures = flag.String("pictures", "", "write the golden scene's overlay as a PNG into this directory, to look at")

// synthetic is a frame of flat skin (30,000) with soft-edged elliptical
// bruises of contrast c and a gentle left-to-right fall-off of the light.
// The edge is the simulator's: the weight falls from 1 to 0 between 0.88
// and 1.12 of the outline's radius (a smoothstep), 0.5 on the outline.
type ellipse struct{ cx, cy, a, b, angleDeg, c float64 }

func synthetic(w, h int, es ...ellipse) *camera.Frame {
	f := &camera.Frame{Width: w, Height: h, Channels: 1, Pix: make([]uint16, w*h), Meta: camera.Meta{BitDepth: 16}}
	for y := range h {
		for x := range w {
			v := 30000 * (1 - 0.2*float64(x)/float64(w))
			for _, e := range es {
				s, c := math.Sincos(e.angleDeg * math.Pi / 180)
				dx, dy := float64(x)+0.5-e.cx, float64(y)+0.5-e.cy
				u, v2 := (c*dx+s*dy)/e.a, (-s*dx+c*dy)/e.b
				r := math.Hypot(u, v2)
				t := min(1, max(0, (r-0.88)/0.24))
				wt := 1 - t*t*(3-2*t)
				v *= 1 - e.c*wt
			}
			f.Pix[y*w+x] = uint16(math.Round(v))
		}
	}
	return f
}

// TestMeasureSynthetic measures noise-free bruises at the accuracy runs'
// geometry (0.113 mm per pixel, Reduce 2): within ±3 %.
func TestMeasureSynthetic(t *testing.T) {
	const mm = 0.113
	for _, c := range []struct {
		name string
		es   []ellipse
	}{
		{"one round bruise", []ellipse{{400, 300, 100, 100, 0, 0.2}}},
		{"an oblique oval", []ellipse{{420, 280, 150, 70, 30, 0.15}}},
		{"two bruises, a faint one", []ellipse{{200, 200, 80, 60, 90, 0.25}, {600, 420, 90, 50, 150, 0.05}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := Measure(synthetic(800, 600, c.es...), nil, Params{MMPerPixel: mm, Reduce: 2})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Bruises) != len(c.es) {
				t.Fatalf("found %d bruises, want %d: %+v", len(res.Bruises), len(c.es), res.Bruises)
			}
			for _, e := range c.es {
				var b *Bruise
				for i := range res.Bruises {
					if math.Hypot(res.Bruises[i].CentroidPx[0]-e.cx, res.Bruises[i].CentroidPx[1]-e.cy) < 3 {
						b = &res.Bruises[i]
					}
				}
				if b == nil {
					t.Fatalf("no bruise found at (%g, %g): %+v", e.cx, e.cy, res.Bruises)
				}
				area := math.Pi * e.a * e.b * mm * mm
				for _, q := range []struct {
					what      string
					got, want float64
				}{{"area", b.AreaMM2, area}, {"major", b.MajorMM, 2 * max(e.a, e.b) * mm}, {"minor", b.MinorMM, 2 * min(e.a, e.b) * mm}} {
					if math.Abs(q.got/q.want-1) > 0.03 {
						t.Errorf("%s %.2f, want %.2f ± 3 %%", q.what, q.got, q.want)
					}
				}
				if e.a != e.b {
					want := math.Mod(e.angleDeg+180, 180)
					if e.b > e.a {
						want = math.Mod(want+90, 180)
					}
					if d := math.Abs(b.OrientationDeg - want); min(d, 180-d) > 2 {
						t.Errorf("orientation %.1f°, want %.1f°", b.OrientationDeg, want)
					}
				}
			}
		})
	}
}

// TestReferenceCancelsShading: dividing by a reference frame with the same
// shading and no bruise gives the same measurement as the band alone on
// flat light.
func TestReferenceCancelsShading(t *testing.T) {
	e := ellipse{400, 300, 120, 80, 20, 0.2}
	band, ref := synthetic(800, 600, e), synthetic(800, 600)
	for i := range band.Pix { // a strong, lumpy texture in both
		k := 1 + 0.08*math.Sin(float64(i%800)/9)*math.Cos(float64(i/800)/7)
		band.Pix[i] = uint16(float64(band.Pix[i]) * k)
		ref.Pix[i] = uint16(float64(ref.Pix[i]) * k)
	}
	const mm = 0.113
	res, err := Measure(band, ref, Params{MMPerPixel: mm, Reduce: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Bruises) != 1 {
		t.Fatalf("found %d bruises in the ratio, want 1: %+v", len(res.Bruises), res.Bruises)
	}
	want := math.Pi * 120 * 80 * mm * mm
	if a := res.Bruises[0].AreaMM2; math.Abs(a/want-1) > 0.03 {
		t.Errorf("area %.1f mm², want %.1f", a, want)
	}
}

func TestMeasureRefusals(t *testing.T) {
	good := synthetic(200, 200)
	colour := &camera.Frame{Width: 200, Height: 200, Channels: 3, Pix: make([]uint16, 120000), Meta: camera.Meta{BitDepth: 16}}
	small := synthetic(100, 200)
	for _, c := range []struct {
		name string
		f    *camera.Frame
		ref  *camera.Frame
		p    Params
	}{
		{"no scale", good, nil, Params{}},
		{"negative scale", good, nil, Params{MMPerPixel: -1}},
		{"no frame", nil, nil, Params{MMPerPixel: 0.1}},
		{"colour frame", colour, nil, Params{MMPerPixel: 0.1}},
		{"reference of another size", good, small, Params{MMPerPixel: 0.1}},
		{"outline fraction 1", good, nil, Params{MMPerPixel: 0.1, OutlineFraction: 1}},
		{"reduced to nothing", good, nil, Params{MMPerPixel: 0.1, Reduce: 64}},
		{"a two-point polygon", good, nil, Params{MMPerPixel: 0.1, Exclude: [][]image.Point{{{0, 0}, {5, 5}}}}},
	} {
		if _, err := Measure(c.f, c.ref, c.p); !errors.Is(err, ErrInput) {
			t.Errorf("%s: %v, want ErrInput", c.name, err)
		}
	}
}

// small is the golden scene: 640 × 480 (0.35 mm per pixel), skin group 5,
// three bruises, scene seed 7; 450 nm + orange (noise seed 71) against
// 850 nm + IR-pass (noise seed 72).
func small(t *testing.T) (*scene.Scene, *camera.Frame, *camera.Frame, Params) {
	t.Helper()
	sc, err := scene.New(scene.Config{Seed: 7, Skin: 5, Bruises: 3, Width: 640, Height: 480})
	if err != nil {
		t.Fatal(err)
	}
	tr := sc.Truth()
	var scale []image.Point
	for _, p := range tr.Scale.OutlinePx {
		scale = append(scale, image.Pt(int(math.Round(p[0])), int(math.Round(p[1]))))
	}
	band := imagingtest.SimFrame(t, sc, light.Band450, light.FilterOrange, 71)
	ref := imagingtest.SimFrame(t, sc, light.Band850, light.FilterIRPass, 72)
	return sc, band, ref, Params{MMPerPixel: tr.Geometry.MMPerPixel, Reduce: 1, Exclude: [][]image.Point{scale}}
}

// golden is the text pinned for the small scene: the measurements as JSON
// and the overlay's SHA-256.
func golden(t *testing.T) string {
	t.Helper()
	_, band, ref, p := small(t)
	res, err := Measure(band, ref, p)
	if err != nil {
		t.Fatal(err)
	}
	prev, _, err := enhance.Preview(band, enhance.PreviewParams{MaxWidth: 320, MaxHeight: 320, Window: enhance.Window{Black: 15000, White: 45000}})
	if err != nil {
		t.Fatal(err)
	}
	ov, step := res.Overlay(prev)
	if step.Op != "outline-overlay" {
		t.Errorf("overlay step %v", step)
	}
	if *pictures != "" {
		f, err := os.Create(filepath.Join(*pictures, "measure-overlay.png"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := png.Encode(f, ov); err != nil {
			t.Fatal(err)
		}
	}
	sum := sha256.Sum256(ov.Pix)
	js, err := json.MarshalIndent(struct {
		Bruises []Bruise
		Skin    Skin
	}{res.Bruises, res.Skin}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("overlay %dx%dx8x4 %s\n%s\n", ov.Rect.Dx(), ov.Rect.Dy(), hex.EncodeToString(sum[:]), js)
}

func TestGolden(t *testing.T) {
	got := golden(t)
	path := filepath.Join("testdata", "measure.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if got != string(want) {
		t.Errorf("measurement changed (go test -update rewrites %s after a deliberate change):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestDeterministic(t *testing.T) {
	if a, b := golden(t), golden(t); a != b {
		t.Errorf("two runs differ:\n%s\n%s", a, b)
	}
}

// TestSmallSceneAgainstTruth: the golden scene's bruises, measured at 0.35
// mm per pixel, each within ±10 % of the truth's area; nothing found on the
// scale.
func TestSmallSceneAgainstTruth(t *testing.T) {
	sc, band, ref, p := small(t)
	res, err := Measure(band, ref, p)
	if err != nil {
		t.Fatal(err)
	}
	tr := sc.Truth()
	if len(res.Bruises) != len(tr.Bruises) {
		t.Fatalf("found %d bruises, the scene has %d", len(res.Bruises), len(tr.Bruises))
	}
	for _, tb := range tr.Bruises {
		ok := false
		for _, b := range res.Bruises {
			if inside(tb.OutlinePx, b.CentroidPx[0], b.CentroidPx[1]) {
				ok = true
				if e := b.AreaMM2/tb.AreaMM2 - 1; math.Abs(e) > 0.10 {
					t.Errorf("bruise %d: area %.1f mm², truth %.1f (%+.1f %%)", tb.ID, b.AreaMM2, tb.AreaMM2, 100*e)
				}
			}
		}
		if !ok {
			t.Errorf("bruise %d not found", tb.ID)
		}
	}
	if !strings.Contains(res.Step.String(), `"op":"measure"`) || res.Step.Libraries[enhance.LibOpenCV] == "" {
		t.Errorf("step %v", res.Step)
	}
}
