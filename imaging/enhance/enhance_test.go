package enhance

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
	"github.com/exhibit-forensics/exhibit/imaging/imagingtest"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.txt from this run")

// bands are the small test scene's frames: 320 × 240, skin group 4, three
// bruises, seed 7, one noise seed per band.
var bands = sync.OnceValues(func() (map[string]*camera.Frame, error) {
	sc, err := scene.New(scene.Config{Seed: 7, Skin: 4, Bruises: 3, Width: 320, Height: 240})
	if err != nil {
		return nil, err
	}
	m := map[string]*camera.Frame{}
	for i, bf := range []struct {
		name string
		b    light.Band
		f    light.Filter
	}{
		{"415y", light.Band415, light.FilterYellow},
		{"450o", light.Band450, light.FilterOrange},
		{"850", light.Band850, light.FilterNone},
	} {
		m[bf.name] = imagingtest.SimFrame(tb{}, sc, bf.b, bf.f, uint64(100+i))
	}
	return m, nil
})

// tb lets the frame helper run inside sync.OnceValues: it panics instead of
// failing a test that is not there.
type tb struct{ testing.TB }

func (tb) Helper()                   {}
func (tb) Fatal(args ...any)         { panic(fmt.Sprint(args...)) }
func (tb) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }

func testBands(t *testing.T) map[string]*camera.Frame {
	t.Helper()
	m, err := bands()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// derivatives makes one derivative of every kind from the test bands.
func derivatives(t *testing.T) map[string]any {
	t.Helper()
	b := testBands(t)
	out := map[string]any{}
	add := func(name string, img any, _ Step, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = img
	}
	c, s, err := CLAHE(b["450o"], CLAHEParams{ClipLimit: 3, TilesX: 4, TilesY: 4})
	add("clahe-450o", c, s, err)
	r, s, err := Ratio(b["450o"], b["850"], RatioParams{})
	add("ratio-450o-850", r, s, err)
	cm, s, err := Composite(b["850"], b["450o"], b["415y"], CompositeParams{
		Red: Window{Black: 20000, White: 45000}, Green: Window{Black: 20000, White: 45000}, Blue: Window{Black: 20000, White: 45000, Gamma: 2}})
	add("composite-850-450o-415y", cm, s, err)
	p, s, err := Preview(b["415y"], PreviewParams{MaxWidth: 160, MaxHeight: 160})
	add("preview-415y", p, s, err)
	th, s, err := Preview(b["415y"], ThumbnailParams(Window{Black: 10000, White: 50000}))
	add("thumbnail-415y", th, s, err)
	return out
}

// digest is the SHA-256 of a derivative's pixel bytes: a 16-bit frame's
// samples little-endian, row by row; an NRGBA picture's Pix.
func digest(t *testing.T, img any) (string, string) {
	t.Helper()
	h := sha256.New()
	var size string
	switch v := img.(type) {
	case *camera.Frame:
		if err := binary.Write(h, binary.LittleEndian, v.Pix); err != nil {
			t.Fatal(err)
		}
		size = fmt.Sprintf("%dx%dx16", v.Width, v.Height)
	case *image.NRGBA:
		h.Write(v.Pix)
		size = fmt.Sprintf("%dx%dx8x4", v.Rect.Dx(), v.Rect.Dy())
	default:
		t.Fatalf("no digest for %T", img)
	}
	return size, hex.EncodeToString(h.Sum(nil))
}

var pictures = flag.String("pictures", "", "write the golden derivatives as PNGs into this directory, to look at")

func TestGolden(t *testing.T) {
	var lines []string
	for name, img := range derivatives(t) {
		if *pictures != "" {
			writePNG(t, filepath.Join(*pictures, name+".png"), img)
		}
		size, sum := digest(t, img)
		lines = append(lines, fmt.Sprintf("%s %s %s", name, size, sum))
	}
	sort.Strings(lines)
	got := strings.Join(lines, "\n") + "\n"
	path := filepath.Join("testdata", "golden.txt")
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
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("derivatives changed (go test -update rewrites %s after a deliberate change)\ngot:\n%swant:\n%s", path, got, want)
	}
}

// TestDeterministic runs every operation again and wants the same bytes.
func TestDeterministic(t *testing.T) {
	a, b := derivatives(t), derivatives(t)
	for name := range a {
		_, x := digest(t, a[name])
		_, y := digest(t, b[name])
		if x != y {
			t.Errorf("%s: two runs differ: %s, %s", name, x, y)
		}
	}
}

func TestRatioMapping(t *testing.T) {
	frame := func(v ...uint16) *camera.Frame {
		return &camera.Frame{Width: len(v), Height: 1, Channels: 1, Pix: v, Meta: camera.Meta{BitDepth: 16}}
	}
	for _, c := range []struct {
		name     string
		num, den []uint16
		p        RatioParams
		want     []uint16
	}{
		{"defaults: ratio 1 is 16384", []uint16{100, 200, 50, 0}, []uint16{100, 100, 100, 100}, RatioParams{}, []uint16{16384, 32768, 8192, 0}},
		{"above 4 clips", []uint16{500, 65535}, []uint16{100, 1}, RatioParams{}, []uint16{65535, 65535}},
		{"zero denominator", []uint16{0, 7}, []uint16{0, 0}, RatioParams{}, []uint16{0, 65535}},
		{"offsets", []uint16{110, 105}, []uint16{210, 10}, RatioParams{NumeratorOffset: 10, DenominatorOffset: 10}, []uint16{8192, 65535}},
		{"numerator below its offset", []uint16{5}, []uint16{100}, RatioParams{NumeratorOffset: 10}, []uint16{0}},
		{"gain and scale", []uint16{300}, []uint16{600}, RatioParams{Gain: 3, Scale: 1000}, []uint16{1500}},
		{"rounds half away from zero", []uint16{1}, []uint16{2}, RatioParams{Scale: 3}, []uint16{2}},
	} {
		got, step, err := Ratio(frame(c.num...), frame(c.den...), c.p)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if fmt.Sprint(got.Pix) != fmt.Sprint(c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got.Pix, c.want)
		}
		if p := step.Params.(RatioParams); p.Gain == 0 || p.Scale == 0 {
			t.Errorf("%s: step records %+v, defaults not filled in", c.name, p)
		}
	}
}

func TestWindow(t *testing.T) {
	for _, c := range []struct {
		w    Window
		in   []uint16
		want []uint8
	}{
		{Window{}, []uint16{0, 128, 32767, 65535}, []uint8{0, 0, 127, 255}},
		{Window{Black: 1000, White: 2000}, []uint16{0, 1000, 1500, 2000, 60000}, []uint8{0, 0, 128, 255, 255}},
		{Window{Black: 0, White: 100, Gamma: 2}, []uint16{25, 100}, []uint8{128, 255}},
	} {
		tab := c.w.withDefaults().table()
		for i, v := range c.in {
			if got := tab[v]; got != c.want[i] {
				t.Errorf("%+v: %d → %d, want %d", c.w, v, got, c.want[i])
			}
		}
	}
}

func TestRefusals(t *testing.T) {
	good := &camera.Frame{Width: 16, Height: 16, Channels: 1, Pix: make([]uint16, 256), Meta: camera.Meta{BitDepth: 16}}
	small := &camera.Frame{Width: 8, Height: 16, Channels: 1, Pix: make([]uint16, 128), Meta: camera.Meta{BitDepth: 16}}
	colour := &camera.Frame{Width: 16, Height: 16, Channels: 3, Pix: make([]uint16, 768), Meta: camera.Meta{BitDepth: 16}}
	torn := &camera.Frame{Width: 16, Height: 16, Channels: 1, Pix: make([]uint16, 10), Meta: camera.Meta{BitDepth: 16}}
	for _, c := range []struct {
		name    string
		run     func() error
		isInput bool
	}{
		{"CLAHE of a colour frame", func() error { _, _, err := CLAHE(colour, CLAHEParams{}); return err }, true},
		{"CLAHE of a torn frame", func() error { _, _, err := CLAHE(torn, CLAHEParams{}); return err }, true},
		{"CLAHE with no tiles", func() error { _, _, err := CLAHE(good, CLAHEParams{TilesX: -1}); return err }, false},
		{"ratio of unregistered sizes", func() error { _, _, err := Ratio(good, small, RatioParams{}); return err }, true},
		{"ratio with a negative gain", func() error { _, _, err := Ratio(good, good, RatioParams{Gain: -1}); return err }, false},
		{"ratio with no denominator", func() error { _, _, err := Ratio(good, nil, RatioParams{}); return err }, true},
		{"composite with an inverted window", func() error {
			_, _, err := Composite(good, good, good, CompositeParams{Red: Window{Black: 9, White: 3}})
			return err
		}, false},
		{"preview with an unknown filter", func() error { _, _, err := Preview(good, PreviewParams{Filter: "bicubic"}); return err }, false},
	} {
		err := c.run()
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		if errors.Is(err, ErrInput) != c.isInput {
			t.Errorf("%s: %v; errors.Is(ErrInput) = %v, want %v", c.name, err, !c.isInput, c.isInput)
		}
	}
}

func TestCLAHERaisesLocalContrast(t *testing.T) {
	f := testBands(t)["450o"]
	out, step, err := CLAHE(f, CLAHEParams{})
	if err != nil {
		t.Fatal(err)
	}
	if out.Width != f.Width || out.Height != f.Height || out.Meta.BitDepth != 16 {
		t.Fatalf("CLAHE gave %d×%d at %d bits", out.Width, out.Height, out.Meta.BitDepth)
	}
	spread := func(p []uint16) int {
		lo, hi := 65535, 0
		for _, v := range p {
			lo, hi = min(lo, int(v)), max(hi, int(v))
		}
		return hi - lo
	}
	if spread(out.Pix) <= spread(f.Pix) {
		t.Errorf("CLAHE spread %d, input %d: want it wider", spread(out.Pix), spread(f.Pix))
	}
	if step.Libraries[LibOpenCV] == "" || step.Libraries[LibGoCV] == "" {
		t.Errorf("step %v does not name the OpenCV and gocv versions", step)
	}
	if !strings.Contains(step.String(), `"clip_limit":2`) {
		t.Errorf("step %v: want the default clip limit recorded", step)
	}
}

func TestPreviewSizes(t *testing.T) {
	f := testBands(t)["415y"]
	for _, c := range []struct {
		p    PreviewParams
		w, h int
	}{
		{PreviewParams{}, 320, 240}, // never enlarged
		{PreviewParams{MaxWidth: 160, MaxHeight: 160}, 160, 120},
		{ThumbnailParams(Window{}), 256, 192},
		{PreviewParams{MaxWidth: 100, MaxHeight: 30}, 40, 30},
	} {
		img, _, err := Preview(f, c.p)
		if err != nil {
			t.Fatal(err)
		}
		if img.Rect.Dx() != c.w || img.Rect.Dy() != c.h {
			t.Errorf("%+v: %v, want %d×%d", c.p, img.Rect, c.w, c.h)
		}
	}
}

// TestImagingVersion keeps ImagingModuleVersion equal to go.mod's.
func TestImagingVersion(t *testing.T) {
	mod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/disintegration/imaging (\S+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod does not require github.com/disintegration/imaging")
	}
	if !bytes.Equal(m[1], []byte(ImagingModuleVersion)) {
		t.Errorf("go.mod has %s, ImagingModuleVersion is %s", m[1], ImagingModuleVersion)
	}
}

func writePNG(t *testing.T, path string, img any) {
	t.Helper()
	var im image.Image
	switch v := img.(type) {
	case *camera.Frame:
		g, err := v.Gray16()
		if err != nil {
			t.Fatal(err)
		}
		im = g
	case *image.NRGBA:
		im = v
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, im); err != nil {
		t.Fatal(err)
	}
}
