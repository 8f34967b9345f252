package measure

import (
	"flag"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
	"github.com/exhibit-forensics/exhibit/imaging/imagingtest"
)

// The accuracy runs: every skin group 1–6 × scene seeds 1–3, four bruises
// asked of each scene, at 2000 × 1500 pixels (the rig's field of view at
// half its resolution: 0.113 mm per pixel, measured with Reduce 2 so the
// working map is the same 0.23 mm per pixel as at full size). Every band is
// measured against the 850 nm + IR-pass frame as its reference. Camera
// noise seeds: 100·seed + band index (reference 0).
const (
	modeRef   = "÷ 850 nm"
	modeAlone = "alone"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata from this run")

var (
	accuracyModes  = []string{modeRef, modeAlone}
	accuracySeeds  = []uint64{1, 2, 3}
	accuracyGroups = []int{1, 2, 3, 4, 5, 6}
	accuracyBands  = []struct {
		name string
		b    light.Band
		f    light.Filter
	}{
		{"415 nm + yellow", light.Band415, light.FilterYellow},
		{"450 nm + orange", light.Band450, light.FilterOrange},
		{"white", light.BandWhite, light.FilterNone},
	}
)

// outcome is one truth bruise seen in one band.
type outcome struct {
	mode    string // "÷ 850 nm" or "alone"
	group   int
	seed    uint64
	band    string
	truth   scene.TruthBruise
	found   bool
	got     Bruise
	falsePo int // measured regions matching no bruise (counted on the scene's first bruise only)
}

func (o outcome) areaErr() float64  { return o.got.AreaMM2/o.truth.AreaMM2 - 1 }
func (o outcome) majorErr() float64 { return o.got.MajorMM/o.truth.MajorMM - 1 }
func (o outcome) minorErr() float64 { return o.got.MinorMM/o.truth.MinorMM - 1 }

// inside reports whether (x, y) is inside the polygon (even-odd rule).
func inside(poly [][2]float64, x, y float64) bool {
	in := false
	for i, j := 0, len(poly)-1; i < len(poly); j, i = i, i+1 {
		a, b := poly[i], poly[j]
		if (a[1] > y) != (b[1] > y) && x < (b[0]-a[0])*(y-a[1])/(b[1]-a[1])+a[0] {
			in = !in
		}
	}
	return in
}

var accuracyRuns = sync.OnceValues(func() ([]outcome, error) {
	var out []outcome
	for _, g := range accuracyGroups {
		for _, seed := range accuracySeeds {
			sc, err := scene.New(scene.Config{Seed: seed, Skin: g, Bruises: 4, Width: 2000, Height: 1500})
			if err != nil {
				return nil, err
			}
			tr := sc.Truth()
			var scale []image.Point
			for _, p := range tr.Scale.OutlinePx {
				scale = append(scale, image.Pt(int(math.Round(p[0])), int(math.Round(p[1]))))
			}
			ref := imagingtest.SimFrame(tb{}, sc, light.Band850, light.FilterIRPass, 100*seed)
			for bi, bc := range accuracyBands {
				f := imagingtest.SimFrame(tb{}, sc, bc.b, bc.f, 100*seed+uint64(bi)+1)
				for _, mode := range accuracyModes {
					r := ref
					if mode == modeAlone {
						r = nil
					}
					res, err := Measure(f, r, Params{MMPerPixel: tr.Geometry.MMPerPixel, Reduce: 2, Exclude: [][]image.Point{scale}})
					if err != nil {
						return nil, err
					}
					used := make([]bool, len(res.Bruises))
					var rows []outcome
					for _, tb := range tr.Bruises {
						o := outcome{mode: mode, group: g, seed: seed, band: bc.name, truth: tb}
						for k, b := range res.Bruises {
							if !used[k] && inside(tb.OutlinePx, b.CentroidPx[0], b.CentroidPx[1]) {
								used[k], o.found, o.got = true, true, b
								break
							}
						}
						rows = append(rows, o)
					}
					for _, u := range used {
						if !u {
							rows[0].falsePo++
						}
					}
					out = append(out, rows...)
				}
			}
		}
	}
	return out, nil
})

// tb lets the frame helper run inside sync.OnceValues.
type tb struct{ testing.TB }

func (tb) Helper()                   {}
func (tb) Fatal(args ...any)         { panic(fmt.Sprint(args...)) }
func (tb) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }

func accuracy(t *testing.T) []outcome {
	t.Helper()
	if testing.Short() {
		t.Skip("the accuracy runs render 54 frames")
	}
	o, err := accuracyRuns()
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// table is the accuracy table of docs/imaging-accuracy.md.
func table(outs []outcome) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "| skin group | band | contrast map | detected / present | false detections | mean area error | worst area error | mean axis error |\n")
	fmt.Fprintf(&sb, "|---|---|---|---|---|---|---|---|\n")
	for _, g := range accuracyGroups {
		for _, mode := range accuracyModes {
			for _, bc := range accuracyBands {
				var present, found, fp int
				var sumA, worstA, sumAx float64
				for _, o := range outs {
					if o.group != g || o.band != bc.name || o.mode != mode {
						continue
					}
					present++
					fp += o.falsePo
					if o.found {
						found++
						sumA += math.Abs(o.areaErr())
						if math.Abs(o.areaErr()) > math.Abs(worstA) {
							worstA = o.areaErr()
						}
						sumAx += (math.Abs(o.majorErr()) + math.Abs(o.minorErr())) / 2
					}
				}
				mean := func(s float64) string {
					if found == 0 {
						return "—"
					}
					return fmt.Sprintf("%.1f %%", 100*s/float64(found))
				}
				fmt.Fprintf(&sb, "| %d | %s | %s | %d / %d | %d | %s | %+.1f %% | %s |\n", g, bc.name, mode, found, present, fp, mean(sumA), 100*worstA, mean(sumAx))
			}
		}
	}
	return sb.String()
}

// TestAccuracyTable pins the table of docs/imaging-accuracy.md
// (testdata/accuracy.md; go test -update rewrites it) and logs every
// bruise under -v.
func TestAccuracyTable(t *testing.T) {
	outs := accuracy(t)
	got := table(outs)
	path := filepath.Join("testdata", "accuracy.md")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if got != string(want) {
		t.Errorf("the accuracy table changed (go test -update rewrites %s; then copy it into docs/imaging-accuracy.md):\n%s", path, got)
	}
	for _, o := range outs {
		if o.found {
			om, on := outlineAxes(o.truth.OutlineMM)
			t.Logf("%s g%d s%d %-16s #%d age %4.1f depth %.3f area %6.1f core %6.1f: area %+6.1f%% major %+6.1f%% minor %+6.1f%% (outline moments: %+6.1f%% %+6.1f%%) peak %.3f",
				o.mode, o.group, o.seed, o.band, o.truth.ID, o.truth.AgeDays, o.truth.DepthMM, o.truth.AreaMM2, o.truth.CoreAreaMM2,
				100*o.areaErr(), 100*o.majorErr(), 100*o.minorErr(), 100*(o.got.MajorMM/om-1), 100*(o.got.MinorMM/on-1), o.got.PeakContrast)
		} else {
			t.Logf("%s g%d s%d %-16s #%d age %4.1f depth %.3f area %6.1f core %6.1f: missed", o.mode, o.group, o.seed, o.band, o.truth.ID, o.truth.AgeDays, o.truth.DepthMM, o.truth.AreaMM2, o.truth.CoreAreaMM2)
		}
	}
}

// outlineAxes are the axes (full lengths) of the ellipse with the same
// second moments as the polygon, by Green's theorem: the quantity Measure
// reports, computed on the truth's outline. The truth's MajorMM and MinorMM
// are the axes of the ellipse the outline was drawn from before its
// harmonic wobble, which moves the moments a little.
func outlineAxes(poly [][2]float64) (major, minor float64) {
	var a, cx, cy, sxx, syy, sxy float64
	for i := range poly {
		x0, y0 := poly[i][0], poly[i][1]
		x1, y1 := poly[(i+1)%len(poly)][0], poly[(i+1)%len(poly)][1]
		c := x0*y1 - x1*y0
		a += c / 2
		cx += (x0 + x1) * c / 6
		cy += (y0 + y1) * c / 6
		sxx += (x0*x0 + x0*x1 + x1*x1) * c / 12
		syy += (y0*y0 + y0*y1 + y1*y1) * c / 12
		sxy += (x0*y1 + 2*x0*y0 + 2*x1*y1 + x1*y0) * c / 24
	}
	cx, cy = cx/a, cy/a
	vxx, vyy, vxy := sxx/a-cx*cx, syy/a-cy*cy, sxy/a-cx*cy
	tr, det := vxx+vyy, vxx*vyy-vxy*vxy
	d := math.Sqrt(max(0, tr*tr/4-det))
	return 4 * math.Sqrt(tr/2+d), 4 * math.Sqrt(max(0, tr/2-d))
}

func TestOutlineAxes(t *testing.T) {
	// A 4 × 2 rectangle's moments: variances 4/3 and 1/3, so the equal-moment
	// ellipse has axes 4·√(4/3) and 4·√(1/3).
	maj, mnr := outlineAxes([][2]float64{{0, 0}, {4, 0}, {4, 2}, {0, 2}})
	if math.Abs(maj-4*math.Sqrt(4.0/3)) > 1e-9 || math.Abs(mnr-4*math.Sqrt(1.0/3)) > 1e-9 {
		t.Errorf("rectangle: %g, %g", maj, mnr)
	}
}

// within checks a measured bruise against the truth: area against the
// truth's area, axes against the equal-moment ellipse of the truth's
// outline (outlineAxes), each within tol.
func within(t *testing.T, o outcome, tol float64) {
	t.Helper()
	om, on := outlineAxes(o.truth.OutlineMM)
	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"area", o.got.AreaMM2, o.truth.AreaMM2},
		{"major axis", o.got.MajorMM, om},
		{"minor axis", o.got.MinorMM, on},
	} {
		if e := c.got/c.want - 1; math.Abs(e) > tol {
			t.Errorf("skin %d, seed %d, %s (%s), bruise %d (%.1f days, %.2f mm deep): %s %.1f, truth %.1f (%+.1f %%)",
				o.group, o.seed, o.band, o.mode, o.truth.ID, o.truth.AgeDays, o.truth.DepthMM, c.what, c.got, c.want, 100*e)
		}
	}
}

// TestAccuracy450Orange: on 450 nm + orange against the 850 nm reference,
// every bruise on every skin group is found, and its area and axes are
// within ±10 % of the truth. (Bilirubin absorbs at 450 nm, so an older
// bruise's yellowing rim is measured too.)
func TestAccuracy450Orange(t *testing.T) {
	for _, o := range accuracy(t) {
		if o.band != "450 nm + orange" || o.mode != modeRef {
			continue
		}
		if !o.found {
			t.Errorf("skin %d, seed %d: bruise %d (%.1f days, %.2f mm deep) not found", o.group, o.seed, o.truth.ID, o.truth.AgeDays, o.truth.DepthMM)
			continue
		}
		within(t, o, 0.10)
		if o.falsePo > 0 {
			t.Errorf("skin %d, seed %d: %d false detections", o.group, o.seed, o.falsePo)
		}
	}
}

// TestAccuracy415YellowFresh: on 415 nm + yellow against the 850 nm
// reference, every bruise that has no bilirubin rim yet (its haemoglobin
// core is the whole bruise) is found and measured within ±10 %. Older
// bruises' rims hardly absorb at 415 nm and are under-measured there: the
// table shows by how much.
func TestAccuracy415YellowFresh(t *testing.T) {
	n := 0
	for _, o := range accuracy(t) {
		if o.band != "415 nm + yellow" || o.mode != modeRef || o.truth.CoreAreaMM2 < o.truth.AreaMM2 {
			continue
		}
		n++
		if !o.found {
			t.Errorf("skin %d, seed %d: fresh bruise %d not found", o.group, o.seed, o.truth.ID)
			continue
		}
		within(t, o, 0.10)
	}
	if n < 3*len(accuracyGroups) {
		t.Errorf("only %d fresh bruises in the runs; the test wants at least three per skin group", n)
	}
}

// TestDarkSkinDetection is the research result (J Forensic Sci 2020): on the
// two darkest skin groups, 415/450 nm behind a barrier filter find bruises
// that white light misses. In the simulator, with each band measured the
// same way, 450 nm + orange finds every bruise white light finds and more,
// both against the 850 nm reference and on the band alone; 415 nm + yellow
// finds at least one that white light misses.
func TestDarkSkinDetection(t *testing.T) {
	outs := accuracy(t)
	type key struct {
		mode, band string
		group      int
		seed       uint64
		id         int
	}
	found := map[key]bool{}
	for _, o := range outs {
		found[key{o.mode, o.band, o.group, o.seed, o.truth.ID}] = o.found
	}
	for _, mode := range accuracyModes {
		for _, g := range []int{5, 6} {
			extra := map[string]int{}
			for _, o := range outs {
				if o.mode != mode || o.group != g || o.band != "white" {
					continue
				}
				for _, band := range []string{"415 nm + yellow", "450 nm + orange"} {
					f := found[key{mode, band, g, o.seed, o.truth.ID}]
					if !o.found && f {
						extra[band]++
					}
					if o.found && !f && band == "450 nm + orange" {
						t.Errorf("%s, skin %d, seed %d: white light finds bruise %d, 450 nm + orange does not", mode, g, o.seed, o.truth.ID)
					}
				}
			}
			if extra["450 nm + orange"] == 0 {
				t.Errorf("%s, skin %d: 450 nm + orange finds no bruise that white light misses", mode, g)
			}
			if mode == modeRef && extra["415 nm + yellow"] == 0 {
				t.Errorf("%s, skin %d: 415 nm + yellow finds no bruise that white light misses", mode, g)
			}
			t.Logf("%s, skin %d: found where white light missed: %v", mode, g, extra)
		}
	}
}

var moreSeeds = flag.String("more-seeds", "", "TestAccuracyMoreSeeds: scene seeds FIRST-LAST to run (skin group (seed − 1) mod 6 + 1, four bruises)")

// TestAccuracyMoreSeeds looks beyond the seeds the method was checked on:
// with -more-seeds FIRST-LAST it measures the scenes of those seeds (skin
// group cycling 1–6, four bruises each, the accuracy runs' frames
// otherwise) on 450 nm + orange ÷ 850 nm with every method, and logs, per
// method, how many bruises were found, how many within ±10 % of their
// area, the worst error and the false detections. It asserts nothing
// beyond the runs completing: its figures are in docs/imaging-accuracy.md.
func TestAccuracyMoreSeeds(t *testing.T) {
	if *moreSeeds == "" {
		t.Skip("go test -run TestAccuracyMoreSeeds -v -args -more-seeds 4-27")
	}
	var first, last uint64
	if _, err := fmt.Sscanf(*moreSeeds, "%d-%d", &first, &last); err != nil || last < first {
		t.Fatalf("-more-seeds %q: want FIRST-LAST", *moreSeeds)
	}
	type tally struct {
		present, found, within, falses int
		worst                          float64
	}
	tallies := map[int]*tally{}
	for seed := first; seed <= last; seed++ {
		g := int((seed-1)%6) + 1
		sc, err := scene.New(scene.Config{Seed: seed, Skin: g, Bruises: 4, Width: 2000, Height: 1500})
		if err != nil {
			t.Fatal(err)
		}
		tr := sc.Truth()
		var scale []image.Point
		for _, p := range tr.Scale.OutlinePx {
			scale = append(scale, image.Pt(int(math.Round(p[0])), int(math.Round(p[1]))))
		}
		ref := imagingtest.SimFrame(t, sc, light.Band850, light.FilterIRPass, 100*seed)
		f := imagingtest.SimFrame(t, sc, light.Band450, light.FilterOrange, 100*seed+2)
		for method := MethodGlareMasked; method <= MethodLatest; method++ {
			res, err := Measure(f, ref, Params{MMPerPixel: tr.Geometry.MMPerPixel, Reduce: 2, Exclude: [][]image.Point{scale}, Method: method})
			if err != nil {
				t.Fatal(err)
			}
			ty := tallies[method]
			if ty == nil {
				ty = &tally{}
				tallies[method] = ty
			}
			used := make([]bool, len(res.Bruises))
			for _, tb := range tr.Bruises {
				ty.present++
				// The largest region on the bruise: a bruise cut in two is
				// scored by its larger piece, the other counts as false.
				best := -1
				for k, b := range res.Bruises {
					if !used[k] && inside(tb.OutlinePx, b.CentroidPx[0], b.CentroidPx[1]) && (best < 0 || b.AreaMM2 > res.Bruises[best].AreaMM2) {
						best = k
					}
				}
				if best < 0 {
					t.Logf("method %d, seed %d, skin %d: bruise %d (%.1f days, %.2f mm deep) missed", method, seed, g, tb.ID, tb.AgeDays, tb.DepthMM)
					continue
				}
				used[best] = true
				ty.found++
				e := res.Bruises[best].AreaMM2/tb.AreaMM2 - 1
				if math.Abs(e) <= 0.10 {
					ty.within++
				} else {
					t.Logf("method %d, seed %d, skin %d: bruise %d (%.1f days, %.2f mm deep) %+.1f %%", method, seed, g, tb.ID, tb.AgeDays, tb.DepthMM, 100*e)
				}
				if math.Abs(e) > math.Abs(ty.worst) {
					ty.worst = e
				}
			}
			for k, u := range used {
				if !u {
					ty.falses++
					b := res.Bruises[k]
					t.Logf("method %d, seed %d, skin %d: false detection, %.1f mm² at %.0f,%.0f", method, seed, g, b.AreaMM2, b.CentroidPx[0], b.CentroidPx[1])
				}
			}
		}
	}
	for method := MethodGlareMasked; method <= MethodLatest; method++ {
		ty := tallies[method]
		t.Logf("seeds %d–%d, method %d: %d of %d found, %d within ±10 %%, worst %+.1f %%, %d false detections",
			first, last, method, ty.found, ty.present, ty.within, 100*ty.worst, ty.falses)
	}
}
