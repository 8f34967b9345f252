package scene

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/devices/light"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestTruthGolden pins the truth of the default rig for seed 7 (what
// `exhibit sim rig --seed 7 --truth-out F` writes). A change to the scene
// generator shows up here; regenerate with -update and review the diff.
func TestTruthGolden(t *testing.T) {
	s, err := New(Config{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.WriteTruth(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "truth-seed7.golden")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("truth for seed 7 differs from %s (run with -update and review the diff)", path)
	}
	var back Truth
	if err := json.Unmarshal(want, &back); err != nil {
		t.Fatalf("golden truth does not parse: %v", err)
	}
	if back.Version != TruthVersion || back.Seed != 7 || len(back.Bruises) == 0 {
		t.Errorf("golden truth: version %d seed %d %d bruises", back.Version, back.Seed, len(back.Bruises))
	}
}

// polygonArea is the shoelace area of a closed polygon.
func polygonArea(p [][2]float64) float64 {
	var a float64
	for i := range p {
		j := (i + 1) % len(p)
		a += p[i][0]*p[j][1] - p[j][0]*p[i][1]
	}
	return math.Abs(a) / 2
}

func TestTruthIsConsistent(t *testing.T) {
	for _, cfg := range []Config{
		{Seed: 1, Width: 1600, Height: 1200},
		{Seed: 2, Width: 1600, Height: 1200, TiltDeg: 35, TiltAxisDeg: 20},
		{Seed: 3, Width: 800, Height: 600, Skin: 6, Bruises: 4},
	} {
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		tr := s.Truth()
		g := tr.Geometry
		toPlane := func(p [2]float64) (float64, float64) {
			m := g.PlaneFromPixel
			return m[0]*p[0] + m[1]*p[1] + m[2], m[3]*p[0] + m[4]*p[1] + m[5]
		}
		for _, b := range tr.Bruises {
			// The 72-gon loses a little area to its chords.
			if a := polygonArea(b.OutlineMM); math.Abs(a-b.AreaMM2)/b.AreaMM2 > 0.01 {
				t.Errorf("seed %d bruise %d: outline polygon %.2f mm², truth says %.2f", cfg.Seed, b.ID, a, b.AreaMM2)
			}
			if a := polygonArea(b.OutlinePx); math.Abs(a-b.AreaPx)/b.AreaPx > 0.01 {
				t.Errorf("seed %d bruise %d: outline polygon %.1f px², truth says %.1f", cfg.Seed, b.ID, a, b.AreaPx)
			}
			if b.CoreAreaMM2 > b.AreaMM2 || b.CoreAreaMM2 <= 0 {
				t.Errorf("seed %d bruise %d: core %.2f mm² of %.2f", cfg.Seed, b.ID, b.CoreAreaMM2, b.AreaMM2)
			}
			for i, p := range b.OutlinePx {
				u, v := toPlane(p)
				if math.Hypot(u-b.OutlineMM[i][0], v-b.OutlineMM[i][1]) > 0.01 {
					t.Fatalf("seed %d bruise %d point %d: plane_from_px maps %v to (%.3f, %.3f), outline_mm says %v", cfg.Seed, b.ID, i, p, u, v, b.OutlineMM[i])
				}
				if p[0] < 0 || p[1] < 0 || p[0] > float64(cfg.Width) || p[1] > float64(cfg.Height) {
					t.Errorf("seed %d bruise %d: outline leaves the frame at %v", cfg.Seed, b.ID, p)
				}
			}
		}
		// The scale is its true size on the plane, whatever the tilt.
		sc := tr.Scale
		mm := func(a, b TruthPoint) float64 { return math.Hypot(a.MM[0]-b.MM[0], a.MM[1]-b.MM[1]) }
		pxToMM := func(a, b TruthPoint) float64 {
			u0, v0 := toPlane(a.Px)
			u1, v1 := toPlane(b.Px)
			return math.Hypot(u1-u0, v1-v0)
		}
		for _, c := range []struct {
			a, b TruthPoint
			want float64
		}{
			{sc.OuterCorner, sc.HorizontalEnd, ScaleLengthMM},
			{sc.OuterCorner, sc.VerticalEnd, ScaleLengthMM},
			{sc.Circles[0], sc.Circles[1], ScaleLengthMM - 20},
			{sc.Circles[0], sc.Circles[2], ScaleLengthMM - 20},
		} {
			if d := mm(c.a, c.b); math.Abs(d-c.want) > 0.01 {
				t.Errorf("seed %d: scale points %.3f mm apart on the plane, want %.1f", cfg.Seed, d, c.want)
			}
			if d := pxToMM(c.a, c.b); math.Abs(d-c.want) > 0.05 {
				t.Errorf("seed %d: scale points %.3f mm apart measured through the pixels, want %.1f", cfg.Seed, d, c.want)
			}
		}
		// With tilt, the image foreshortens the scale across the axis.
		if cfg.TiltDeg > 0 {
			ratio := g.MMPerPixelAcrossAxis / g.MMPerPixelAlongAxis
			if want := 1 / math.Cos(cfg.TiltDeg*math.Pi/180); math.Abs(ratio-want) > 1e-4 {
				t.Errorf("tilt %g°: across/along mm per px %.5f, want %.5f", cfg.TiltDeg, ratio, want)
			}
		}
	}
}

func layerHash(l *Layer) [32]byte {
	b := make([]byte, 2*len(l.Pix))
	for i, v := range l.Pix {
		b[2*i], b[2*i+1] = byte(v>>8), byte(v)
	}
	return sha256.Sum256(b)
}

func TestDeterministicFromSeed(t *testing.T) {
	mk := func(seed uint64, skin int) *Scene {
		s, err := New(Config{Seed: seed, Skin: skin, Width: 640, Height: 480})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b, c := mk(11, 0), mk(11, 0), mk(12, 0)
	ta, _ := json.Marshal(a.Truth())
	tb, _ := json.Marshal(b.Truth())
	tc, _ := json.Marshal(c.Truth())
	if !bytes.Equal(ta, tb) {
		t.Error("same seed, different truth")
	}
	if bytes.Equal(ta, tc) {
		t.Error("different seeds, same truth")
	}
	la, lb, lc := a.Layer(light.Band450, light.FilterYellow), b.Layer(light.Band450, light.FilterYellow), c.Layer(light.Band450, light.FilterYellow)
	if layerHash(la) != layerHash(lb) {
		t.Error("same seed, different layer pixels")
	}
	if layerHash(la) == layerHash(lc) {
		t.Error("different seeds, same layer pixels")
	}
	// The skin group changes the skin, not the layout.
	d := mk(11, 6)
	td := d.Truth()
	for i, br := range a.Truth().Bruises {
		if br.CentreMM != td.Bruises[i].CentreMM || br.AreaMM2 != td.Bruises[i].AreaMM2 {
			t.Errorf("bruise %d moved when only the skin group changed", br.ID)
		}
	}
	if td.SkinGroup != 6 {
		t.Errorf("skin group %d, want 6", td.SkinGroup)
	}
}

// TestModelAnchors checks the fitted constants against the contrasts of
// the domain notes they were fitted to (diffuse-only contrast of a
// superficial fresh bruise, before the realism factor k).
func TestModelAnchors(t *testing.T) {
	for _, c := range []struct {
		w    wl
		want float64
	}{{nm415, 0.38}, {nm450, 0.54}, {nm850, 0.09}} {
		got := chb(c.w) * depthFactor(c.w, SuperficialMM)
		if math.Abs(got-c.want) > 0.015 {
			t.Errorf("%d nm: superficial contrast %.3f, anchor %.2f", table[c.w].nm, got, c.want)
		}
	}
	// The ColorChecker anchors at 415 nm: light skin 0.19, dark 0.062.
	if got := skinDiffuse(nm415, 2); math.Abs(got-0.19) > 0.005 {
		t.Errorf("light skin at 415 nm: %.3f, anchor 0.19", got)
	}
	if got := skinDiffuse(nm415, 5); math.Abs(got-0.062) > 0.005 {
		t.Errorf("dark skin at 415 nm: %.3f, anchor 0.062", got)
	}
}

// TestModelOrdering checks what the model is for: a fresh bruise is
// faint under white light and clearest at 415/450 nm behind the yellow
// filter, on every skin group; depth fades it, fastest at short
// wavelengths; barrier-filtered light is much dimmer.
func TestModelOrdering(t *testing.T) {
	const age, depth = 1, 0.1
	for g := 1; g <= 6; g++ {
		white := Contrast(light.BandWhite, light.FilterNone, g, age, depth, 1, 0)
		if white < 0.03 || white > 0.25 {
			t.Errorf("group %d: white-light contrast %.3f, want faint (0.03–0.25)", g, white)
		}
		for _, b := range []light.Band{light.Band415, light.Band450} {
			c := Contrast(b, light.FilterYellow, g, age, depth, 1, 0)
			if c < 1.4*white {
				t.Errorf("group %d: %s + yellow contrast %.3f, not well above white light's %.3f", g, b, c, white)
			}
			for _, other := range ContrastPairs {
				if other.Filter == light.FilterYellow || other.Band == light.Band450 && other.Filter == light.FilterOrange {
					continue
				}
				if o := Contrast(other.Band, other.Filter, g, age, depth, 1, 0); o > c {
					t.Errorf("group %d: %s/%s contrast %.3f beats %s/yellow %.3f", g, other.Band, other.Filter, o, b, c)
				}
			}
			if r := Brightness(b, light.FilterYellow, g) / Brightness(light.BandWhite, light.FilterNone, g); r > 0.1 {
				t.Errorf("group %d: %s + yellow is %.2f of white's brightness; barrier-filtered light must be much dimmer", g, b, r)
			}
		}
		// Deeper is fainter, and 415 nm fades faster than 850 nm.
		c1 := Contrast(light.Band415, light.FilterNone, g, age, 0.05, 1, 0)
		c2 := Contrast(light.Band415, light.FilterNone, g, age, 0.4, 1, 0)
		n1 := Contrast(light.Band850, light.FilterNone, g, age, 0.05, 1, 0)
		n2 := Contrast(light.Band850, light.FilterNone, g, age, 0.4, 1, 0)
		if !(c2 < c1 && n2 < n1 && c2/c1 < n2/n1) {
			t.Errorf("group %d: depth 0.05→0.4 mm: 415 nm %.3f→%.3f, 850 nm %.3f→%.3f", g, c1, c2, n1, n2)
		}
	}
	// An old bruise's bilirubin rim shows best at 450 nm.
	rim450 := Contrast(light.Band450, light.FilterNone, 2, 8, 0.1, 0, 1)
	rim540 := Contrast(light.Band535, light.FilterNone, 2, 8, 0.1, 0, 1)
	if rim450 < 3*rim540 {
		t.Errorf("bilirubin rim: 450 nm %.3f vs 535 nm %.3f", rim450, rim540)
	}
}

// TestLayerFollowsModel checks the rendered layer against Contrast at
// every bruise's centre (the shade cancels out of the ratio).
func TestLayerFollowsModel(t *testing.T) {
	s, err := New(Config{Seed: 5, Width: 1200, Height: 900, Skin: 3})
	if err != nil {
		t.Fatal(err)
	}
	tr := s.Truth()
	for _, pair := range ContrastPairs {
		l := s.Layer(pair.Band, pair.Filter)
		p := newPixelModel(pair.Band, pair.Filter, s.skin)
		for _, b := range tr.Bruises {
			x, y := int(b.CentrePx[0])+l.Margin, int(b.CentrePx[1])+l.Margin
			i := y*l.Stride + x
			// Skin radiance at this pixel had there been no bruise.
			shade := float64(s.shade[i])
			glare := glareBase * s.illumination(x, y)
			skin := p.power * (shade*p.skin0 + p.glareK*glare)
			got := 1 - float64(l.Pix[i])*l.Unit/skin
			want := b.Contrast[pair.Band.String()+"/"+pair.Filter.String()]
			if math.Abs(got-want) > 0.01+0.05*want {
				t.Errorf("%s/%s bruise %d: layer contrast %.3f, model %.3f", pair.Band, pair.Filter, b.ID, got, want)
			}
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Width: 10, Height: 10}, "sensor"},
		{Config{Skin: 7}, "skin group"},
		{Config{TiltDeg: 75}, "tilt"},
		{Config{Bruises: 9}, "bruises"},
		{Config{Geometry: Geometry{SensorWidthMM: 6, FocalMM: 10, DistanceMM: 5}}, "geometry"},
		{Config{Margin: -1}, "margin"},
		{Config{Width: 4000, Height: 300}, "no room"},
	} {
		_, err := New(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want an error about %s", c.cfg, err, c.want)
		}
	}
}

func TestLayerCacheEvicts(t *testing.T) {
	s, err := New(Config{Seed: 1, Width: 320, Height: 240, MaxLayers: 2})
	if err != nil {
		t.Fatal(err)
	}
	a := s.Layer(light.BandWhite, light.FilterNone)
	s.Layer(light.Band415, light.FilterYellow)
	s.Layer(light.Band450, light.FilterYellow)
	if n := len(s.layers); n != 2 {
		t.Fatalf("%d layers cached, want 2", n)
	}
	if _, ok := s.layers[layerKey{light.BandWhite, light.FilterNone}]; ok {
		t.Error("least recently used layer kept")
	}
	if b := s.Layer(light.BandWhite, light.FilterNone); layerHash(a) != layerHash(b) {
		t.Error("rebuilt layer differs")
	}
}
