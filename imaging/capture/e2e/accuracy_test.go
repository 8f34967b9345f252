package e2e_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/devices/camera/netcam"
	"github.com/exhibit-forensics/exhibit/devices/rigsim"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/rigtest"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
	"github.com/exhibit-forensics/exhibit/imaging/capture"
	"github.com/exhibit-forensics/exhibit/imaging/profile"
	"github.com/exhibit-forensics/exhibit/imaging/quality"
	"github.com/exhibit-forensics/exhibit/imaging/seal"
)

// firstSeed is the scene seed of skin group 1; group g gets firstSeed + g
// − 1. The test's figures (docs/imaging-accuracy.md) are for 41; other
// values run the same checks on other scenes, for a look beyond the seeds
// the method was checked on (go test ./imaging/capture/e2e -run
// TestAccuracyEndToEnd -v -args -first-seed 51).
var firstSeed = flag.Uint64("first-seed", 41, "scene seed of skin group 1 (group g: first-seed + g − 1)")

// TestAccuracyEndToEnd runs the whole capture — the injury-standard
// profile through the real drivers on the simulated rig, registration,
// the scale found on the reference band, the bruise measured on the
// 450 nm band against the 850 nm band — once per skin group (fixed seeds),
// and scores what was sealed against the scene's truth, and a tilted scene
// makes the scale gate warn with the tilt. The table it logs is the one in
// docs/imaging-accuracy.md ("End to end").
//
// The targets: mm per pixel within ±1 %, every bruise found and
// measured within ±10 % of its true area, nothing outlined that is not a
// bruise.
func TestAccuracyEndToEnd(t *testing.T) {
	p, err := profile.Lookup("injury-standard@1")
	if err != nil {
		t.Fatal(err)
	}
	total, allFound, within, falses := 0, 0, 0, 0
	var table strings.Builder
	fmt.Fprintf(&table, "| skin | seed | mm/px error | bruises found | worst area error | worst axis error |\n|---|---|---|---|---|---|\n")
	for skin := 1; skin <= 6; skin++ {
		seed := *firstSeed + uint64(skin-1)
		res, truth := run(t, p, scene.Config{Seed: seed, Skin: skin, Width: 2000, Height: 1500, Bruises: 3})
		var outline *capture.Derivative
		for i := range res.Derivatives {
			if res.Derivatives[i].Kind == "outline" {
				outline = &res.Derivatives[i]
			}
		}
		if outline == nil {
			t.Fatalf("skin %d: no outline derivative (no scale found?)", skin)
		}
		var sc struct {
			MMPerPixel float64 `json:"mm_per_px"`
		}
		if err := jsonUnmarshal(outline.Recipe.Notes["scale"], &sc); err != nil {
			t.Fatal(err)
		}
		mmErr := sc.MMPerPixel/truth.Geometry.MMPerPixel - 1
		if math.Abs(mmErr) > 0.01 {
			t.Errorf("skin %d: %.5f mm/px, truth %.5f (%+.2f %%)", skin, sc.MMPerPixel, truth.Geometry.MMPerPixel, 100*mmErr)
		}
		found, worstArea, worstAxis := 0, 0.0, 0.0
		for _, tb := range truth.Bruises {
			best := -1
			bestD := math.Inf(1)
			for i, b := range outline.Measurement.Bruises {
				d := math.Hypot(b.CentroidPx[0]-tb.CentrePx[0], b.CentroidPx[1]-tb.CentrePx[1])
				if d < bestD {
					best, bestD = i, d
				}
			}
			total++
			if best < 0 || bestD > tb.MinorMM/2/truth.Geometry.MMPerPixel {
				t.Errorf("skin %d: bruise %d (%.0f mm², %.2f mm deep, %.1f days) not found", skin, tb.ID, tb.AreaMM2, tb.DepthMM, tb.AgeDays)
				continue
			}
			allFound++
			found++
			b := outline.Measurement.Bruises[best]
			ae := b.AreaMM2/tb.AreaMM2 - 1
			xe := math.Max(math.Abs(b.MajorMM/tb.MajorMM-1), math.Abs(b.MinorMM/tb.MinorMM-1))
			worstArea = maxAbs(worstArea, ae)
			worstAxis = math.Max(worstAxis, xe)
			t.Logf("skin %d bruise %d: age %.1f d, depth %.2f mm, truth %.1f mm² (%.1f×%.1f), measured %.1f mm² (%.1f×%.1f), %+.1f %%",
				skin, tb.ID, tb.AgeDays, tb.DepthMM, tb.AreaMM2, tb.MajorMM, tb.MinorMM, b.AreaMM2, b.MajorMM, b.MinorMM, 100*ae)
			if math.Abs(ae) > 0.10 {
				t.Errorf("skin %d: bruise %d area %.1f mm², truth %.1f (%+.1f %%)", skin, tb.ID, b.AreaMM2, tb.AreaMM2, 100*ae)
			}
			if math.Abs(ae) <= 0.10 {
				within++
			}
		}
		// Nothing outlined that is not a bruise: every measured region
		// lies on one of the scene's bruises.
		for _, b := range outline.Measurement.Bruises {
			on := false
			for _, tb := range truth.Bruises {
				if math.Hypot(b.CentroidPx[0]-tb.CentrePx[0], b.CentroidPx[1]-tb.CentrePx[1]) <= tb.MajorMM/truth.Geometry.MMPerPixel {
					on = true
				}
			}
			if !on {
				t.Errorf("skin %d: outlined something that is not a bruise: %s at %.0f,%.0f", skin, b, b.CentroidPx[0], b.CentroidPx[1])
				falses++
			}
		}
		fmt.Fprintf(&table, "| %d | %d | %+.2f %% | %d of %d | %+.1f %% | %.1f %% |\n", skin, seed, 100*mmErr, found, len(truth.Bruises), 100*worstArea, 100*worstAxis)
	}
	t.Logf("end to end, injury-standard@1 at 2000×1500: %d of %d bruises found, %d within ±10 %% of their area, %d false outlines\n%s", allFound, total, within, falses, table.String())

	// A tilted scene: the scale gate warns, naming the tilt.
	res, _ := run(t, p, scene.Config{Seed: 47, Skin: 3, Width: 2000, Height: 1500, TiltDeg: 18, TiltAxisDeg: 30})
	warned := false
	for _, fd := range res.Findings["white-xpol"] {
		if fd.Gate == quality.GateScale && fd.Level == quality.Warn && strings.Contains(fd.Message, "tilted 18°") {
			warned = true
		}
	}
	if !warned {
		t.Errorf("an 18° tilt was not flagged: %v", res.Findings["white-xpol"])
	}
}

func maxAbs(a, b float64) float64 {
	if math.Abs(b) > math.Abs(a) {
		return b
	}
	return a
}

// run captures one scene with p and returns the result and the truth.
func run(t *testing.T, p profile.Profile, sc scene.Config) (*capture.Result, scene.Truth) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rig := rigtest.Start(t, rigsim.Config{Seed: sc.Seed, Scene: sc}, netcam.Config{})
	r, ld, cam := rig.Sim, rig.Light, rig.Camera
	l, err := datadir.Init(ctx, t.TempDir(), "Jo Smith", "JS", datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	res, err := capture.Run(ctx, capture.Config{Ledger: l, Light: ld, Camera: cam, Profile: p,
		Set: seal.Request{Case: "C-1", Site: "left forearm", Photographer: chain.Person{Name: "Jo Smith"}}})
	if err != nil {
		t.Fatalf("skin %d: %v", sc.Skin, err)
	}
	return res, r.Scene.Truth()
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
