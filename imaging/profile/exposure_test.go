package profile

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/camera/camsim"
	"github.com/exhibit-forensics/exhibit/devices/light/lightsim"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
	"github.com/exhibit-forensics/exhibit/internal/clock"
)

var fullRes = flag.Bool("full-res", false, "TestExposure: render the rig's full 4000×3000 frames instead of 1000×750")

// Exposure targets (docs/profiles.md, "Exposures"): under 0.5 % of the
// frame clipped, and the mean of the skin region at 20–60 % of full scale on
// skin groups 1 and 6. Where the second cannot be had without breaking the
// first — the ABFO scale's fluorescent white base is 5–8 times as bright as
// the darkest skin behind most filters — a shot may leave a group below 20 %
// only if raising its exposure to reach 20 % would clip, only if it uses at
// least 80 % of the range the clipping limit leaves (headroom ≤ 1.25), and
// only if what would clip is the scale (at least 95 % of the frame's
// brightest 0.5 % inside the scale's bounding box).
const (
	skinLow, skinHigh = 0.20, 0.60
	maxClipped        = 0.005
	maxHeadroom       = 1.25
)

// steady is a light engine that has been emitting one band, filter and
// level, settled, for ever: a stand-in for lightsim with nothing to wait for.
type steady struct{ e lightsim.Emission }

func (s steady) EmissionAt(time.Time) lightsim.Emission { return s.e }

// exposure is what one frame measured.
type exposure struct {
	skinMean float64 // mean of the skin region, fraction of full scale
	clipped  float64 // fraction of the frame at 65535
	p995     float64 // the frame's 99.5th percentile, fraction of full scale
	// brightInScale is the share of the pixels at or above p995 that lie
	// in the scale's bounding box.
	brightInScale float64
}

// rigFrame renders one frame of the simulated rig's camera (camsim, with
// its default NC12M sensor, noise and all) of sc under shot s, on a fake
// clock, and measures it.
func rigFrame(t *testing.T, sc *scene.Scene, s Shot) exposure {
	t.Helper()
	fake := clock.NewFake(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))
	past := fake.Now().Add(-time.Hour)
	em := lightsim.Emission{On: true, Band: s.Band, Filter: s.Filter, Level: s.Level, Output: s.Level,
		Since: past, SettledAt: past, Settled: true, Temperature: 40}
	cam, err := camsim.New(camsim.Config{Scene: sc, Light: steady{em}, Clock: fake, Seed: 7,
		Sensor: camsim.Sensor{MaxMotion: -1}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	type result struct {
		f   *camsim.Frame
		err error
	}
	done := make(chan result, 1)
	waiting := len(fake.Pending())
	go func() {
		f, err := cam.Capture(ctx, camsim.Request{Exposure: s.Camera.Exposure, Gain: s.Camera.Gain})
		done <- result{f, err}
	}()
	if err := fake.BlockUntil(ctx, waiting+1); err != nil {
		t.Fatal(err)
	}
	// The sensor quantises the exposure to whole line times.
	exp, _ := cam.Sensor().Applied(s.Camera.Exposure, s.Camera.Gain)
	fake.Advance(exp + cam.Sensor().Readout)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	return measure(sc, r.f.Pix, r.f.Width, r.f.Height, r.f.Offset)
}

// measure measures a frame of sc (w × h samples pix, showing the truth
// shifted by offset). The skin region is the frame less the scale's
// bounding box and each bruise's, each grown by 3 mm (which also covers the
// few pixels of hand motion of a frame whose offset is not known).
func measure(sc *scene.Scene, pix []uint16, w, h int, offset [2]int) exposure {
	tr := sc.Truth()
	grow := 3 / sc.MMPerPixel()
	type box struct{ x0, y0, x1, y1 float64 }
	var boxes []box
	sx0, sy0, sx1, sy1 := 1e9, 1e9, -1e9, -1e9
	for _, v := range tr.Scale.OutlinePx {
		sx0, sy0, sx1, sy1 = min(sx0, v[0]), min(sy0, v[1]), max(sx1, v[0]), max(sy1, v[1])
	}
	boxes = append(boxes, box{sx0 - grow, sy0 - grow, sx1 + grow, sy1 + grow})
	for _, b := range tr.Bruises {
		boxes = append(boxes, box{b.BBoxPx[0] - grow, b.BBoxPx[1] - grow, b.BBoxPx[2] + grow, b.BBoxPx[3] + grow})
	}
	var sum float64
	var n, clipped int
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := pix[y*w+x]
			if v == 65535 {
				clipped++
			}
			px, py := float64(x+offset[0])+0.5, float64(y+offset[1])+0.5
			skin := true
			for _, b := range boxes {
				if px >= b.x0 && px <= b.x1 && py >= b.y0 && py <= b.y1 {
					skin = false
					break
				}
			}
			if skin {
				sum += float64(v)
				n++
			}
		}
	}
	sorted := slices.Clone(pix)
	slices.Sort(sorted)
	p995 := sorted[len(sorted)*995/1000]
	var bright, inScale int
	sc0 := boxes[0]
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if pix[y*w+x] >= p995 {
				bright++
				px, py := float64(x+offset[0])+0.5, float64(y+offset[1])+0.5
				if px >= sc0.x0 && px <= sc0.x1 && py >= sc0.y0 && py <= sc0.y1 {
					inScale++
				}
			}
		}
	}
	return exposure{skinMean: sum / float64(n) / 65535, clipped: float64(clipped) / float64(len(pix)),
		p995: float64(p995) / 65535, brightInScale: float64(inScale) / float64(bright)}
}

// TestExposure renders every shot of every built-in profile with the
// simulated rig's camera on skin groups 1 and 6 and checks the exposure
// targets. With -v it prints the table docs/profiles.md quotes:
//
//	go test ./imaging/profile -run TestExposure -v [-full-res]
func TestExposure(t *testing.T) {
	if testing.Short() {
		t.Skip("renders frames of the simulated rig")
	}
	w, h := 1000, 750
	if *fullRes {
		w, h = 4000, 3000
	}
	scenes := map[int]*scene.Scene{}
	for _, g := range []int{1, 6} {
		sc, err := scene.New(scene.Config{Seed: 10, Skin: g, Width: w, Height: h, MaxLayers: 2})
		if err != nil {
			t.Fatal(err)
		}
		scenes[g] = sc
	}
	t.Logf("%d×%d frames, scene seed 10, camera seed 7, no hand motion", w, h)
	tableHeader(t)
	measured := map[string]bool{}
	for _, p := range All() {
		for _, s := range p.Shots {
			key := fmt.Sprintf("%s/%s %d %v %v", s.Band.Token(), s.Filter.Token(), s.Level, s.Camera.Exposure, s.Camera.Gain)
			if measured[key] {
				continue // the same settings in another profile
			}
			measured[key] = true
			var m [7]exposure
			for _, g := range []int{1, 6} {
				m[g] = rigFrame(t, scenes[g], s)
			}
			checkExposure(t, p, s, m)
		}
	}
}

// checkExposure checks one shot's frames on skin groups 1 and 6 against the
// targets, and logs a line of the table.
func checkExposure(t *testing.T, p Profile, s Shot, m [7]exposure) {
	t.Helper()
	// headroom: how much the exposure could grow before the brighter
	// frame's 99.5th percentile reaches full scale.
	headroom := 1 / max(m[1].p995, m[6].p995)
	t.Logf("%-26s %-8s %-5d %-9v %-4v %-7.1f %-7.1f %-7.3f %-7.3f %-8.2f %.0f / %.0f", p.Name+"/"+s.ID,
		s.Band.Token()+"/"+s.Filter.Token(), s.Level, s.Camera.Exposure, s.Camera.Gain,
		100*m[1].skinMean, 100*m[6].skinMean, 100*m[1].clipped, 100*m[6].clipped, headroom,
		100*m[1].brightInScale, 100*m[6].brightInScale)
	for _, g := range []int{1, 6} {
		e := m[g]
		where := fmt.Sprintf("%s %s, skin group %d", p.ID(), s.ID, g)
		if e.clipped >= maxClipped {
			t.Errorf("%s: %.2f %% of the frame clipped, want under %.1f %%", where, 100*e.clipped, 100*maxClipped)
		}
		switch {
		case e.skinMean > skinHigh:
			t.Errorf("%s: skin mean %.1f %% of full scale, want at most %.0f %%", where, 100*e.skinMean, 100*skinHigh)
		case e.skinMean < skinLow && e.skinMean*headroom >= skinLow:
			t.Errorf("%s: skin mean %.1f %% of full scale, want %.0f %% (there is headroom ×%.2f before clipping)",
				where, 100*e.skinMean, 100*skinLow, headroom)
		case e.skinMean < skinLow && headroom > maxHeadroom:
			t.Errorf("%s: skin mean %.1f %% of full scale, and only %.0f %% of the range before clipping used: expose longer",
				where, 100*e.skinMean, 100/headroom)
		case e.skinMean < skinLow && e.brightInScale < 0.95:
			t.Errorf("%s: skin mean %.1f %% of full scale, held down by something other than the scale (%.0f %% of the brightest pixels in it)",
				where, 100*e.skinMean, 100*e.brightInScale)
		}
	}
}

// tableHeader logs the header of checkExposure's table.
func tableHeader(t *testing.T) {
	t.Helper()
	t.Logf("%-26s %-8s %-5s %-9s %-4s %-7s %-7s %-7s %-7s %-8s %s", "profile/shot", "band", "level", "exposure", "gain",
		"skin g1", "skin g6", "clip g1", "clip g6", "headroom", "top 0.5% in scale g1 / g6")
}
