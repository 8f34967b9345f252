package quality_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
	"github.com/exhibit-forensics/exhibit/imaging/quality"
	"github.com/exhibit-forensics/exhibit/imaging/scale/scaletest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestMessagesGolden pins what the photographer reads: every gate's level
// and message for a set of frames of the simulated rig (2000 × 1500, fixed
// seeds), good and bad, in testdata/findings.golden. Run with -update after
// a deliberate change of wording or thresholds, and read the diff.
func TestMessagesGolden(t *testing.T) {
	square := rig(t, scene.Config{Seed: 31, Skin: 3, Width: 2000, Height: 1500}, -1)
	tilted := rig(t, scene.Config{Seed: 31, Skin: 3, Width: 2000, Height: 1500, TiltDeg: 14, TiltAxisDeg: 60}, -1)
	white, _ := square.Capture(t, scaletest.Shot{Band: light.BandWhite})
	violet, _ := square.Capture(t, scaletest.Shot{Band: light.Band415, Filter: light.FilterYellow})
	bright, _ := square.Capture(t, scaletest.Shot{Band: light.Band415, Filter: light.FilterYellow, Fill: 3})
	dark, _ := square.Capture(t, scaletest.Shot{Band: light.Band450, Filter: light.FilterOrange, Fill: 0.004})
	oblique, _ := tilted.Capture(t, scaletest.Shot{Band: light.Band415, Filter: light.FilterYellow})
	noScale := &camera.Frame{Width: 700, Height: white.Height, Channels: 1, Meta: white.Meta}
	x0 := white.Width - 700
	if c := square.Scene.Truth().Scale.OutlinePx; c[0][0] > 1000 {
		x0 = 0
	}
	for y := range white.Height {
		noScale.Pix = append(noScale.Pix, white.Pix[y*white.Width+x0:y*white.Width+x0+700]...)
	}
	var out bytes.Buffer
	for _, c := range []struct {
		name   string
		f, ref *camera.Frame
	}{
		{"white light, the reference band", white, nil},
		{"415 nm + yellow, steady", violet, white},
		{"415 nm + yellow, blurred", defocus(t, violet, 2, true), white},
		{"415 nm + yellow, over-exposed", bright, white},
		{"450 nm + orange, under-exposed", dark, white},
		{"415 nm + yellow, moved 3 mm", shifted(violet, 24, -12), white},
		{"415 nm + yellow, camera tilted 14°", oblique, nil},
		{"white light, the scale out of view", noScale, nil},
	} {
		findings, _, err := quality.Thresholds{}.Frame(c.f, c.ref)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		fmt.Fprintf(&out, "# %s: %s\n", c.name, quality.Worst(findings))
		for _, f := range findings {
			fmt.Fprintf(&out, "%-11s %-4s %s\n", f.Gate, f.Level, f.Message)
		}
		out.WriteByte('\n')
	}
	path := filepath.Join("testdata", "findings.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("findings differ from %s (run with -update if the change is meant):\n%s", path, out.String())
	}
}
