package scale_test

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
	"github.com/exhibit-forensics/exhibit/imaging/scale"
	"github.com/exhibit-forensics/exhibit/imaging/scale/scaletest"
)

// bands are the light/filter pairs the accuracy test photographs: white
// light and the barrier-filtered bands of the injury profile, where only
// the scale's fluorescent base shows it.
var bands = []scaletest.Shot{
	{Band: light.BandWhite},
	{Band: light.Band415, Filter: light.FilterYellow},
	{Band: light.Band450, Filter: light.FilterYellow},
	{Band: light.Band450, Filter: light.FilterOrange},
}

func TestGeometryIsTheSimulatorsScale(t *testing.T) {
	c := scene.CircleCentresMM
	for i, d := range []float64{math.Hypot(c[1][0]-c[0][0], c[1][1]-c[0][1]), math.Hypot(c[2][0]-c[0][0], c[2][1]-c[0][1])} {
		if math.Abs(d-scale.ABFO2.CentreDistanceMM) > 1e-9 {
			t.Errorf("arm %d: centres %.3f mm apart in the simulator, ABFO2 says %.3f", i+1, d, scale.ABFO2.CentreDistanceMM)
		}
	}
	if d := 2 * scene.CircleRadiusMM; d != scale.ABFO2.CircleDiameterMM {
		t.Errorf("the simulator prints %.1f mm circles, ABFO2 says %.1f", d, scale.ABFO2.CircleDiameterMM)
	}
}

// TestAccuracy photographs the simulated scale on every skin group, with
// several seeds (which move and turn the scale), tilts from 0° to 30° and
// the bands above, and scores Find against the scene's truth: mm per pixel
// along and across the tilt axis within ±1 %, tilt within ±2°. Run with -v
// for the table of errors.
func TestAccuracy(t *testing.T) {
	type row struct {
		name                   string
		along, across, tilt    float64 // errors: %, %, degrees
		ellipseTilt, axis, cnf float64
	}
	var rows []row
	tilts := []float64{0, 10, 20, 30}
	perSkin := 2
	if testing.Short() {
		perSkin = 1
	}
	for skin := 1; skin <= 6; skin++ {
		for si := range perSkin {
			seed := uint64(10*skin + si)
			tilt := tilts[(2*skin+si)%len(tilts)]
			axis := float64(seed%6) * 30
			// Half-resolution frames (2000 × 1500, 0.113 mm/px) keep the
			// test quick; TestAccuracyFullFrame covers 12 MP.
			rig := scaletest.NewRig(t, scene.Config{Seed: seed, Skin: skin, Width: 2000, Height: 1500,
				TiltDeg: tilt, TiltAxisDeg: axis}, -1)
			tr := rig.Scene.Truth()
			for _, b := range bands {
				name := fmt.Sprintf("skin%d/seed%d/tilt%.0f@%.0f/%s", skin, seed, tilt, axis, scaletest.Name(b.Band, b.Filter))
				f, _ := rig.Capture(t, b)
				r := check(t, name, f, tr)
				if r == nil {
					continue
				}
				axisErr := math.NaN() // meaningless without tilt
				if tr.Tilt.Deg >= 10 {
					axisErr = axisError(r.TiltAxisDeg, tr.Tilt.AxisDeg)
				}
				rows = append(rows, row{name,
					100 * (r.MMPerPixel/tr.Geometry.MMPerPixelAlongAxis - 1),
					100 * (r.MMPerPixelAcross/tr.Geometry.MMPerPixelAcrossAxis - 1),
					r.TiltDeg - tr.Tilt.Deg, r.EllipseTiltDeg - tr.Tilt.Deg,
					axisErr, r.Confidence})
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-36s %9s %9s %8s %8s %8s %5s\n", "case", "along %", "across %", "tilt °", "ellip °", "axis °", "conf")
	var worst row
	for _, r := range rows {
		axis := "       -"
		if !math.IsNaN(r.axis) {
			axis = fmt.Sprintf("%+8.2f", r.axis)
		}
		fmt.Fprintf(&b, "%-36s %+9.4f %+9.4f %+8.3f %+8.3f %s %5.2f\n", r.name, r.along, r.across, r.tilt, r.ellipseTilt, axis, r.cnf)
		worst.along = max(worst.along, math.Abs(r.along))
		worst.across = max(worst.across, math.Abs(r.across))
		worst.tilt = max(worst.tilt, math.Abs(r.tilt))
		worst.ellipseTilt = max(worst.ellipseTilt, math.Abs(r.ellipseTilt))
	}
	fmt.Fprintf(&b, "%-36s %9.4f %9.4f %8.3f %8.3f (largest |error| of %d frames)\n", "worst", worst.along, worst.across, worst.tilt, worst.ellipseTilt, len(rows))
	fmt.Fprintf(&b, "\nLargest |error| per skin group (all seeds, tilts and bands):\n%-6s %9s %9s %8s\n", "skin", "along %", "across %", "tilt °")
	for skin := 1; skin <= 6; skin++ {
		var w row
		for _, r := range rows {
			if strings.HasPrefix(r.name, fmt.Sprintf("skin%d/", skin)) {
				w.along, w.across, w.tilt = max(w.along, math.Abs(r.along)), max(w.across, math.Abs(r.across)), max(w.tilt, math.Abs(r.tilt))
			}
		}
		fmt.Fprintf(&b, "%-6d %9.4f %9.4f %8.3f\n", skin, w.along, w.across, w.tilt)
	}
	head := "Errors of scale.Find against scene.Truth: mm/px along and across the tilt axis (%), tilt and tilt from the\n" +
		"rings alone (degrees), tilt axis for tilts of 10° or more (degrees), confidence. 2000 × 1500 frames.\n" +
		"Regenerate with: go test ./imaging/scale -run 'TestAccuracy$' -update\n\n"
	t.Log(head + b.String())
	if *update && !testing.Short() {
		if err := os.WriteFile(filepath.Join("testdata", "accuracy.txt"), []byte(head+b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var update = flag.Bool("update", false, "write the accuracy table to testdata/accuracy.txt")

// check runs Find on f and fails the test if it is off the truth by more
// than the limits. It returns the result (nil if none).
func check(t *testing.T, name string, f *camera.Frame, tr scene.Truth) *scale.Result {
	t.Helper()
	r, err := scale.Find(f, scale.Geometry{})
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return nil
	}
	g := tr.Geometry
	if e := r.MMPerPixel/g.MMPerPixelAlongAxis - 1; math.Abs(e) > 0.01 {
		t.Errorf("%s: %.5f mm/px along the tilt axis, truth %.5f (%+.2f %%)", name, r.MMPerPixel, g.MMPerPixelAlongAxis, 100*e)
	}
	if e := r.MMPerPixelAcross/g.MMPerPixelAcrossAxis - 1; math.Abs(e) > 0.01 {
		t.Errorf("%s: %.5f mm/px across the tilt axis, truth %.5f (%+.2f %%)", name, r.MMPerPixelAcross, g.MMPerPixelAcrossAxis, 100*e)
	}
	if e := r.TiltDeg - tr.Tilt.Deg; math.Abs(e) > 2 {
		t.Errorf("%s: tilt %.2f°, truth %.2f°", name, r.TiltDeg, tr.Tilt.Deg)
	}
	if tr.Tilt.Deg >= 10 {
		if e := axisError(r.TiltAxisDeg, tr.Tilt.AxisDeg); math.Abs(e) > 3 {
			t.Errorf("%s: tilt axis %.1f°, truth %.1f°", name, r.TiltAxisDeg, tr.Tilt.AxisDeg)
		}
	}
	if r.Confidence < 0.8 {
		t.Errorf("%s: confidence %.2f on a clean view of the scale", name, r.Confidence)
	}
	for i, c := range r.Circles {
		want := tr.Scale.Circles[i].Px
		if d := math.Hypot(c.X-want[0], c.Y-want[1]); d > 1 {
			t.Errorf("%s: circle %d at (%.2f, %.2f), truth (%.2f, %.2f)", name, i, c.X, c.Y, want[0], want[1])
		}
	}
	return r
}

// axisError is a−b for axis directions, which repeat every 180°.
func axisError(a, b float64) float64 { return math.Remainder(a-b, 180) }

// TestAccuracyFullFrame checks 12 MP frames (4000 × 3000, 0.0566 mm/px) on
// the lightest and darkest skin at 0° and 25°.
func TestAccuracyFullFrame(t *testing.T) {
	if testing.Short() {
		t.Skip("12 MP scenes")
	}
	for _, c := range []struct {
		skin       int
		tilt, axis float64
	}{{1, 0, 0}, {6, 25, 120}} {
		rig := scaletest.NewRig(t, scene.Config{Seed: 3, Skin: c.skin, TiltDeg: c.tilt, TiltAxisDeg: c.axis}, -1)
		tr := rig.Scene.Truth()
		for _, b := range bands[:3] {
			f, _ := rig.Capture(t, b)
			name := fmt.Sprintf("12MP/skin%d/tilt%.0f/%s", c.skin, c.tilt, scaletest.Name(b.Band, b.Filter))
			if r := check(t, name, f, tr); r != nil {
				t.Logf("%s: %v (truth %.5f, %.5f across, tilt %.1f°)", name, r, tr.Geometry.MMPerPixelAlongAxis,
					tr.Geometry.MMPerPixelAcrossAxis, tr.Tilt.Deg)
			}
		}
	}
}

func TestLengthMM(t *testing.T) {
	rig := scaletest.NewRig(t, scene.Config{Seed: 5, Skin: 3, Width: 2000, Height: 1500, TiltDeg: 25, TiltAxisDeg: 70}, -1)
	f, _ := rig.Capture(t, scaletest.Shot{Band: light.BandWhite})
	r, err := scale.Find(f, scale.Geometry{})
	if err != nil {
		t.Fatal(err)
	}
	// Circle to circle along each arm is 85 mm, across the L 120.2 mm,
	// whatever the foreshortening in the frame.
	c := r.Circles
	for _, p := range []struct {
		a, b int
		want float64
	}{{0, 1, 85}, {0, 2, 85}, {1, 2, 85 * math.Sqrt2}} {
		got := r.LengthMM(c[p.b].X-c[p.a].X, c[p.b].Y-c[p.a].Y)
		if math.Abs(got-p.want) > 1e-6 {
			t.Errorf("circle %d to %d: %.4f mm, want %.4f", p.a, p.b, got, p.want)
		}
	}
	// A bruise's area in the frame converts to its area on the skin.
	for _, b := range rig.Scene.Truth().Bruises {
		if got := r.AreaMM2(b.AreaPx); math.Abs(got/b.AreaMM2-1) > 0.01 {
			t.Errorf("bruise %d: %.0f px² is %.1f mm², truth %.1f", b.ID, b.AreaPx, got, b.AreaMM2)
		}
	}
	// A bruise's truth outline: its first and 37th points are opposite.
	b := rig.Scene.Truth().Bruises[0]
	p, q := b.OutlinePx[0], b.OutlinePx[36]
	u, v := b.OutlineMM[0], b.OutlineMM[36]
	want := math.Hypot(v[0]-u[0], v[1]-u[1])
	if got := r.LengthMM(q[0]-p[0], q[1]-p[1]); math.Abs(got/want-1) > 0.01 {
		t.Errorf("bruise chord: %.2f mm, truth %.2f", got, want)
	}
}

// crop returns the part of f inside [x0, x1) × [y0, y1).
func crop(f *camera.Frame, x0, y0, x1, y1 int) *camera.Frame {
	out := &camera.Frame{Width: x1 - x0, Height: y1 - y0, Channels: 1, Meta: f.Meta}
	for y := y0; y < y1; y++ {
		out.Pix = append(out.Pix, f.Pix[y*f.Width+x0:y*f.Width+x1]...)
	}
	return out
}

func TestNoScale(t *testing.T) {
	rig := scaletest.NewRig(t, scene.Config{Seed: 7, Skin: 4, Width: 2000, Height: 1500}, -1)
	tr := rig.Scene.Truth()
	f, _ := rig.Capture(t, scaletest.Shot{Band: light.BandWhite})
	// The scale's bounding box, to cut it out of the frame.
	x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, p := range tr.Scale.OutlinePx {
		x0, y0, x1, y1 = min(x0, p[0]), min(y0, p[1]), max(x1, p[0]), max(y1, p[1])
	}
	var skin *camera.Frame
	switch {
	case x0 > 600:
		skin = crop(f, 0, 0, int(x0)-20, f.Height)
	case x1 < float64(f.Width)-600:
		skin = crop(f, int(x1)+20, 0, f.Width, f.Height)
	case y0 > 600:
		skin = crop(f, 0, 0, f.Width, int(y0)-20)
	default:
		skin = crop(f, 0, int(y1)+20, f.Width, f.Height)
	}
	// One circle cut off by the frame's edge: the corner circle's column.
	cx := int(tr.Scale.Circles[0].Px[0])
	half := crop(f, 0, 0, f.Width, f.Height)
	for y := range half.Height {
		for x := max(0, cx-80); x < min(half.Width, cx+80); x++ {
			half.Pix[y*half.Width+x] = half.Pix[y*half.Width+max(0, cx-200)]
		}
	}
	flat := &camera.Frame{Width: 800, Height: 600, Channels: 1, Pix: make([]uint16, 800*600), Meta: camera.Meta{BitDepth: 16}}
	for i := range flat.Pix {
		flat.Pix[i] = uint16(1000 + i*7919%97)
	}
	for _, c := range []struct {
		name string
		f    *camera.Frame
	}{{"skin only", skin}, {"corner circle painted over", half}, {"flat noise", flat}} {
		r, err := scale.Find(c.f, scale.Geometry{})
		if !errors.Is(err, scale.ErrNoScale) {
			t.Errorf("%s: got %v, %v; want an error wrapping ErrNoScale", c.name, r, err)
			continue
		}
		t.Logf("%s: %v", c.name, err)
	}
	if _, err := scale.Find(&camera.Frame{Width: 2, Height: 1, Channels: 3, Pix: make([]uint16, 6), Meta: camera.Meta{BitDepth: 16}}, scale.Geometry{}); err == nil || errors.Is(err, scale.ErrNoScale) {
		t.Errorf("a colour frame: %v, want an error that is not ErrNoScale", err)
	}
}

// TestSteepTilts goes beyond the 0–30° the kiosk needs, to 60° (the
// simulator's limit), on random scale poses: the weak-perspective view
// keeps the circles' centres exact however oblique the shot.
func TestSteepTilts(t *testing.T) {
	if testing.Short() {
		t.Skip("many scenes")
	}
	for seed := uint64(100); seed < 108; seed++ {
		tilt := 32 + float64(seed%8)*4
		rig := scaletest.NewRig(t, scene.Config{Seed: seed, Width: 2000, Height: 1500, TiltDeg: tilt, TiltAxisDeg: float64(seed * 37 % 180)}, -1)
		tr := rig.Scene.Truth()
		for _, b := range []scaletest.Shot{{Band: light.BandWhite}, {Band: light.Band365, Filter: light.FilterYellow}} {
			f, _ := rig.Capture(t, b)
			name := fmt.Sprintf("seed%d/skin%d/tilt%.0f/%s", seed, tr.SkinGroup, tilt, scaletest.Name(b.Band, b.Filter))
			if r := check(t, name, f, tr); r != nil {
				t.Logf("%s: %v", name, r)
			}
		}
	}
}
