package quality_test

import (
	"encoding/json"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"

	"gocv.io/x/gocv"

	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/devices/camera/camsim"
	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
	"github.com/exhibit-forensics/exhibit/imaging/quality"
	"github.com/exhibit-forensics/exhibit/imaging/scale/scaletest"
)

// rig builds a fresh simulated rig for each test, so that every test sees
// the same frames (the camera's noise follows its frame counter) whatever
// else ran before it and however often (-count).
func rig(t testing.TB, cfg scene.Config, motion int) *scaletest.Rig {
	t.Helper()
	return scaletest.NewRig(t, cfg, motion)
}

// bands are the light/filter pairs of an injury profile, from bright
// white light to dim barrier-filtered fluorescence.
var bands = []scaletest.Shot{
	{Band: light.BandWhite},
	{Band: light.BandCrossPolarised},
	{Band: light.Band415, Filter: light.FilterYellow},
	{Band: light.Band450, Filter: light.FilterOrange},
	{Band: light.Band850, Filter: light.FilterIRPass},
	{Band: light.Band535, Filter: light.FilterRed},
}

// wrap returns a Mat sharing f's samples.
func wrap(t testing.TB, f *camera.Frame) gocv.Mat {
	t.Helper()
	b := unsafe.Slice((*byte)(unsafe.Pointer(&f.Pix[0])), len(f.Pix)*2)
	m, err := gocv.NewMatFromBytes(f.Height, f.Width, gocv.MatTypeCV16UC1, b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// defocus returns f blurred by a Gaussian of sigma pixels (gocv), as a
// lens out of focus blurs the scene. With renoise the sensor's noise is
// put back afterwards (shot and read noise of the camera simulator's
// sensor model, fixed seed), as a real defocused frame has it; without, the
// blur smooths the noise too.
func defocus(t testing.TB, f *camera.Frame, sigma float64, renoise bool) *camera.Frame {
	t.Helper()
	src := wrap(t, f)
	defer src.Close()
	dst := gocv.NewMat()
	defer dst.Close()
	gocv.GaussianBlur(src, &dst, image.Pt(0, 0), sigma, sigma, gocv.BorderReflect101)
	pix, err := dst.DataPtrUint16()
	if err != nil {
		t.Fatal(err)
	}
	out := &camera.Frame{Width: f.Width, Height: f.Height, Channels: 1, Pix: append([]uint16(nil), pix...), Meta: f.Meta}
	if renoise {
		// camsim: DN = electrons × 65535 / 20000 × gain; noise √(e + 2.5²).
		conv := 65535.0 / 20000 * f.Meta.Gain
		rng := rand.New(rand.NewPCG(1, 2))
		for i, v := range out.Pix {
			e := float64(v) / conv
			n := float64(v) + rng.NormFloat64()*math.Sqrt(e+6.25)*conv
			out.Pix[i] = uint16(max(0, min(65535, math.Round(n))))
		}
	}
	return out
}

func TestFocus(t *testing.T) {
	skins := []int{1, 6}
	if testing.Short() {
		skins = skins[:1]
	}
	for _, skin := range skins {
		r := rig(t, scene.Config{Seed: 1, Skin: skin}, -1)
		for _, b := range bands {
			name := fmt.Sprintf("skin%d/%s", skin, scaletest.Name(b.Band, b.Filter))
			f, _ := r.Capture(t, b)
			for _, c := range []struct {
				blur    string
				f       *camera.Frame
				want    quality.Level
				contain string
			}{
				{"sharp", f, quality.OK, "sharp"},
				{"blur σ=2 px", defocus(t, f, 2, false), quality.Fail, "blurred"},
				{"blur σ=1.5 px, noise back", defocus(t, f, 1.5, true), quality.Fail, "blurred"},
			} {
				got, err := quality.Thresholds{}.Focus(c.f)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%s %s: focus %.2f %s", name, c.blur, got.Value, got.Level)
				if got.Level != c.want || !strings.Contains(got.Message, c.contain) {
					t.Errorf("%s %s: %v; want %v", name, c.blur, got, c.want)
				}
			}
		}
	}
}

func TestExposure(t *testing.T) {
	r := rig(t, scene.Config{Seed: 1, Skin: 6}, -1)
	for _, b := range bands {
		for _, c := range []struct {
			name        string
			fill        float64 // brightest 0.5 % of the scene as a share of the full well
			clip, floor quality.Level
		}{
			{"well exposed", 0.6, quality.OK, quality.OK},
			{"exposure ×5 (long)", 3, quality.Fail, quality.OK},
			{"exposure ÷150 (short)", 0.004, quality.OK, quality.Fail},
		} {
			name := scaletest.Name(b.Band, b.Filter) + "/" + c.name
			s := b
			s.Fill = c.fill
			f, _ := r.Capture(t, s)
			clip, floor, err := quality.Thresholds{}.Exposure(f)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s (exposure %v, gain %.2f): clipped %.4f %%, at the floor %.4f %%", name, f.Meta.Exposure, f.Meta.Gain, 100*clip.Value, 100*floor.Value)
			if clip.Level != c.clip {
				t.Errorf("%s: %v; want %v", name, clip, c.clip)
			}
			if c.floor == quality.Fail && f.Meta.Exposure <= camsim.DefaultSensor.MinExposure {
				// The sensor cannot expose white light or 850 nm briefly
				// enough to lose the picture in the noise floor.
				t.Logf("%s: the shortest exposure the sensor allows; not dark enough to test the floor", name)
				continue
			}
			if floor.Level != c.floor {
				t.Errorf("%s: %v; want %v", name, floor, c.floor)
			}
		}
	}
}

func TestExposureFullScale(t *testing.T) {
	// A 12-bit camera's full scale is 4095; an 8-bit one widened to 16 bits
	// reaches 65535.
	f := &camera.Frame{Width: 100, Height: 100, Channels: 1, Pix: make([]uint16, 100*100), Meta: camera.Meta{BitDepth: 12}}
	for i := range f.Pix {
		f.Pix[i] = 2000
		if i%10 == 0 {
			f.Pix[i] = 4095
		}
	}
	clip, floor, err := quality.Thresholds{}.Exposure(f)
	if err != nil {
		t.Fatal(err)
	}
	if clip.Level != quality.Fail || math.Abs(clip.Value-0.1) > 1e-9 || floor.Level != quality.OK {
		t.Errorf("12-bit frame, 10 %% at 4095: %v; %v", clip, floor)
	}
	f.Meta = camera.Meta{BitDepth: 8, Widened: true}
	if clip, _, _ = (quality.Thresholds{}).Exposure(f); clip.Level != quality.OK {
		t.Errorf("widened 8-bit frame, nothing near 65535: %v", clip)
	}
}

// shifted returns f moved by (dx, dy): the result shows at (x, y) what f
// shows at (x+dx, y+dy), edges repeated.
func shifted(f *camera.Frame, dx, dy int) *camera.Frame {
	out := &camera.Frame{Width: f.Width, Height: f.Height, Channels: 1, Pix: make([]uint16, len(f.Pix)), Meta: f.Meta}
	for y := range f.Height {
		sy := min(max(y+dy, 0), f.Height-1)
		for x := range f.Width {
			sx := min(max(x+dx, 0), f.Width-1)
			out.Pix[y*f.Width+x] = f.Pix[sy*f.Width+sx]
		}
	}
	return out
}

// TestMotion measures the camera simulator's hand motion between the
// reference band (white light) and every other band: within ±1 pixel of
// the offsets camsim reports.
func TestMotion(t *testing.T) {
	skins := []int{2, 6}
	if testing.Short() {
		skins = skins[:1]
	}
	worst := 0.0
	for _, skin := range skins {
		r := rig(t, scene.Config{Seed: uint64(20 + skin), Skin: skin}, 4)
		ref, refSim := r.Capture(t, bands[0])
		_, sc, err := quality.Thresholds{}.Scale(ref)
		if err != nil || sc == nil {
			t.Fatalf("no scale in the reference frame: %v", err)
		}
		for _, b := range bands[1:] {
			f, fs := r.Capture(t, b)
			want := [2]float64{float64(fs.Offset[0] - refSim.Offset[0]), float64(fs.Offset[1] - refSim.Offset[1])}
			got, err := quality.EstimateShift(ref, f)
			if err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("skin%d/%s", skin, scaletest.Name(b.Band, b.Filter))
			e := math.Hypot(got.DX-want[0], got.DY-want[1])
			worst = max(worst, e)
			t.Logf("%s: shift (%+.2f, %+.2f) px, camsim (%+.0f, %+.0f), error %.2f px, response %.2f", name, got.DX, got.DY, want[0], want[1], e, got.Response)
			if math.Abs(got.DX-want[0]) > 1 || math.Abs(got.DY-want[1]) > 1 {
				t.Errorf("%s: shift (%.2f, %.2f), camsim moved (%.0f, %.0f)", name, got.DX, got.DY, want[0], want[1])
			}
			m, err := quality.Thresholds{}.Motion(ref, f, sc)
			if err != nil {
				t.Fatal(err)
			}
			if m.Level != quality.OK || !strings.Contains(m.Message, " mm, ") {
				t.Errorf("%s: %v; want OK with the distance in mm", name, m)
			}
		}
	}
	t.Logf("largest error %.2f px", worst)
}

func TestMotionLevels(t *testing.T) {
	r := rig(t, scene.Config{Seed: 1, Skin: 6}, -1)
	ref, _ := r.Capture(t, bands[0])
	f, _ := r.Capture(t, bands[2])
	_, sc, _ := quality.Thresholds{}.Scale(ref)
	for _, c := range []struct {
		dx, dy int
		want   quality.Level
	}{{0, 0, quality.OK}, {30, -20, quality.Warn}, {-150, 90, quality.Fail}} {
		m, err := quality.Thresholds{}.Motion(ref, shifted(f, c.dx, c.dy), sc)
		if err != nil {
			t.Fatal(err)
		}
		px := math.Hypot(float64(c.dx), float64(c.dy))
		t.Logf("moved (%d, %d): %v", c.dx, c.dy, m)
		if m.Level != c.want || math.Abs(m.Value-px) > 1 {
			t.Errorf("moved (%d, %d) = %.1f px: %v; want %v", c.dx, c.dy, px, m, c.want)
		}
		if mm := px * sc.MMPerPixel; c.want != quality.OK && !strings.Contains(m.Message, fmt.Sprintf("%.1f mm", mm)) {
			t.Errorf("moved %.1f mm: message %q does not say so", mm, m.Message)
		}
	}
	// Frames with too little in common: another scene, and a featureless
	// frame.
	other, _ := rig(t, scene.Config{Seed: 2, Skin: 6}, -1).Capture(t, bands[0])
	flat := &camera.Frame{Width: ref.Width, Height: ref.Height, Channels: 1, Pix: make([]uint16, len(ref.Pix)), Meta: ref.Meta}
	for i := range flat.Pix {
		flat.Pix[i] = uint16(1000 + i*7919%97)
	}
	for name, f := range map[string]*camera.Frame{"another scene": other, "a featureless frame": flat} {
		m, err := quality.Thresholds{}.Motion(ref, f, sc)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %v", name, m)
		if m.Level != quality.Warn || m.Unit != "response" || !strings.Contains(m.Message, "could not be checked") {
			t.Errorf("%s: %v; want a warning that movement could not be checked", name, m)
		}
	}
	if _, err := quality.EstimateShift(ref, &camera.Frame{Width: 20, Height: 20, Channels: 1, Pix: make([]uint16, 400), Meta: camera.Meta{BitDepth: 16}}); err == nil {
		t.Error("frames of different sizes compared without an error")
	}
}

func TestScaleGate(t *testing.T) {
	for _, c := range []struct {
		tilt, axis float64
		want       quality.Level
		contain    string
	}{
		{0, 0, quality.OK, "square to the camera"},
		{8, 45, quality.OK, "square to the camera"},
		{14, 30, quality.Warn, "The scale is tilted 14° — hold the camera square to the skin"},
		{25, 100, quality.Warn, "The scale is tilted 25° — hold the camera square to the skin"},
	} {
		r := rig(t, scene.Config{Seed: 4, Skin: 5, Width: 2000, Height: 1500, TiltDeg: c.tilt, TiltAxisDeg: c.axis}, -1)
		for _, b := range []scaletest.Shot{bands[0], bands[2]} {
			f, _ := r.Capture(t, b)
			got, res, err := quality.Thresholds{}.Scale(f)
			if err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("tilt %.0f°/%s", c.tilt, scaletest.Name(b.Band, b.Filter))
			t.Logf("%s: %v", name, got)
			if got.Level != c.want || !strings.Contains(got.Message, c.contain) || res == nil {
				t.Errorf("%s: %v; want %v saying %q", name, got, c.want, c.contain)
			}
		}
	}
	// A scale found with less confidence than asked for warns.
	r0 := rig(t, scene.Config{Seed: 4, Skin: 5, Width: 2000, Height: 1500}, -1)
	f0, _ := r0.Capture(t, bands[0])
	got, res, err := quality.Thresholds{ScaleConfidenceWarn: 1.01}.Scale(f0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("confidence below the threshold: %v", got)
	if got.Level != quality.Warn || res == nil || !strings.Contains(got.Message, "hard to read") || got.Value != res.Confidence {
		t.Errorf("confidence %.2f under a threshold of 1.01: %v", res.Confidence, got)
	}

	// Without the scale: the part of the frame beside it.
	r := rig(t, scene.Config{Seed: 4, Skin: 5, Width: 2000, Height: 1500}, -1)
	f, _ := r.Capture(t, bands[0])
	x0, x1 := math.Inf(1), math.Inf(-1)
	for _, p := range r.Scene.Truth().Scale.OutlinePx {
		x0, x1 = min(x0, p[0]), max(x1, p[0])
	}
	from, to := 0, int(x0)-10
	if x0 < float64(f.Width)-x1 {
		from, to = int(x1)+10, f.Width
	}
	if to-from < 500 {
		t.Fatalf("no room beside the scale (%d px)", to-from)
	}
	crop := &camera.Frame{Width: to - from, Height: f.Height, Channels: 1, Meta: f.Meta}
	for y := range f.Height {
		crop.Pix = append(crop.Pix, f.Pix[y*f.Width+from:y*f.Width+to]...)
	}
	got, res, err = quality.Thresholds{}.Scale(crop)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("no scale: %v", got)
	if got.Level != quality.Fail || res != nil || !strings.Contains(got.Message, "not in the picture") {
		t.Errorf("no scale: %v, %v", got, res)
	}
}

func TestFrameRunsEveryGate(t *testing.T) {
	r := rig(t, scene.Config{Seed: 4, Skin: 5, Width: 2000, Height: 1500, TiltDeg: 14, TiltAxisDeg: 30}, -1)
	ref, _ := r.Capture(t, bands[0])
	f, _ := r.Capture(t, bands[2])
	got, sc, err := quality.Thresholds{}.Frame(f, ref)
	if err != nil {
		t.Fatal(err)
	}
	var gates []string
	for _, g := range got {
		gates = append(gates, string(g.Gate))
	}
	if s := strings.Join(gates, " "); s != "focus clipping noise-floor scale motion" || sc == nil {
		t.Fatalf("gates %q, scale %v", s, sc)
	}
	if w := quality.Worst(got); w != quality.Warn {
		t.Errorf("worst level %v, want warn (the tilt): %v", w, got)
	}
	b, err := json.Marshal(got[3])
	if err != nil {
		t.Fatal(err)
	}
	var back quality.Finding
	if err := json.Unmarshal(b, &back); err != nil || back != got[3] {
		t.Errorf("JSON round trip: %s → %+v, %v", b, back, err)
	}
	if !strings.Contains(string(b), `"level":"warn"`) {
		t.Errorf("JSON %s does not name the level", b)
	}
}

func TestDefaults(t *testing.T) {
	// Zero fields take the defaults; a set field is kept.
	f := &camera.Frame{Width: 100, Height: 100, Channels: 1, Pix: make([]uint16, 100*100), Meta: camera.Meta{BitDepth: 16}}
	for i := range f.Pix {
		f.Pix[i] = 30000
	}
	for i := range 50 { // 0.5 % clipped: warn by default (0.1 %), ok at 1 %
		f.Pix[i] = 65535
	}
	c, _, _ := quality.Thresholds{}.Exposure(f)
	if c.Level != quality.Warn || c.Threshold != quality.Defaults.ClipWarn {
		t.Errorf("defaults: %v", c)
	}
	c, _, _ = quality.Thresholds{ClipWarn: 0.01, ClipFail: 0.02}.Exposure(f)
	if c.Level != quality.OK || c.Threshold != 0.01 {
		t.Errorf("ClipWarn 1 %%: %v", c)
	}
	var l quality.Level
	if err := l.UnmarshalText([]byte("maybe")); err == nil {
		t.Error("level \"maybe\" accepted")
	}
}
