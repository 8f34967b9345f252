package register

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/devices/camera"
)

// tolerancePx is how far a recovered translation may be from the
// simulator's known offset.
const tolerancePx = 0.5

// TestSimulatorBands registers the white, 415 nm + yellow, 450 nm + orange
// and 850 nm + IR-pass frames of a capture to its cross-polarised white
// reference, on every skin group, at the sensor's full 4000 × 3000, and
// checks each recovered translation against the hand motion camsim
// reports, within ±0.5 px — at the warp's origin and at every corner of
// the frame, so that a small spurious rotation cannot hide. On the same frames it also runs the
// alternatives the package doc rejects (intensity instead of gradient
// images, an affine instead of a Euclidean model) and checks that the
// default's worst error is the smallest: the evidence for the choice.
func TestSimulatorBands(t *testing.T) {
	if testing.Short() {
		t.Skip("renders 24 12 MP layers")
	}
	alternatives := []struct {
		name string
		cfg  Config
	}{
		{"gradient, euclidean (default)", Config{}},
		{"intensity, euclidean", Config{Normalise: Intensity}},
		{"gradient, affine", Config{Motion: Affine}},
	}
	worst := make([]float64, len(alternatives))
	failed := make([]int, len(alternatives))
	moved := 0
	for skin := 1; skin <= 6; skin++ {
		t.Run(fmt.Sprintf("skin%d", skin), func(t *testing.T) {
			r := newRig(t, 100+uint64(skin), skin, 4000, 3000)
			ref, refOff := r.shoot(t, shotCrossP)
			regs := make([]*Registrar, len(alternatives))
			for i, a := range alternatives {
				reg, err := New(ref, a.cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer reg.Close()
				regs[i] = reg
			}
			for _, s := range testShots {
				band, off := r.shoot(t, s)
				want := [2]float64{float64(refOff[0] - off[0]), float64(refOff[1] - off[1])}
				if want != [2]float64{} {
					moved++
				}
				res, err := regs[0].Register(context.Background(), band)
				if err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				gx, gy := res.Warp.Translation()
				t.Logf("%-12s offset %+v → translation (%+.3f, %+.3f), error (%+.3f, %+.3f), rotation %+.4f°, ECC %.3f, residual %.3f",
					s.name, want, gx, gy, gx-want[0], gy-want[1], res.Warp.RotationDeg(), res.Correlation, res.Residual)
				if math.Abs(gx-want[0]) > tolerancePx || math.Abs(gy-want[1]) > tolerancePx {
					t.Errorf("%s: translation (%.3f, %.3f), want (%v, %v) ± %v", s.name, gx, gy, want[0], want[1], tolerancePx)
				}
				if res.Correlation < DefaultMinCorrelation || !(res.Residual < 1) {
					t.Errorf("%s: correlation %.3f, residual %.3f", s.name, res.Correlation, res.Residual)
				}
				checkRegistered(t, s.name, band, res)
				frameErr := displacementError(res.Warp, want, band.Width, band.Height)
				if frameErr > tolerancePx {
					t.Errorf("%s: the warp moves some corner of the frame %.3f px from the offset", s.name, frameErr)
				}
				worst[0] = max(worst[0], frameErr)
				for i := 1; i < len(regs); i++ {
					est, err := regs[i].Estimate(context.Background(), band)
					if err != nil {
						failed[i]++
						continue
					}
					worst[i] = max(worst[i], displacementError(est.Warp, want, band.Width, band.Height))
				}
			}
		})
	}
	if moved == 0 {
		t.Error("the simulator moved no band relative to its reference: the test proves nothing")
	}
	for i, a := range alternatives {
		t.Logf("%-30s worst displacement error %.3f px, %d of 24 bands failed", a.name, worst[i], failed[i])
		if i > 0 && failed[i] == 0 && worst[i] < worst[0] {
			t.Errorf("%s (worst %.3f px) beats the default (%.3f px): revisit the package doc", a.name, worst[i], worst[0])
		}
	}
}

// displacementError is how far, at worst, w moves the frame's corners and
// centre from the pure translation want (the simulator's hand motion is a
// whole-pixel translation, so the truth is the same at every pixel).
func displacementError(w Warp, want [2]float64, width, height int) float64 {
	worst := 0.0
	x1, y1 := float64(width-1), float64(height-1)
	for _, p := range [][2]float64{{0, 0}, {x1, 0}, {0, y1}, {x1, y1}, {x1 / 2, y1 / 2}} {
		dx := w[0][0]*p[0] + w[0][1]*p[1] + w[0][2] - p[0]
		dy := w[1][0]*p[0] + w[1][1]*p[1] + w[1][2] - p[1]
		worst = max(worst, math.Abs(dx-want[0]), math.Abs(dy-want[1]))
	}
	return worst
}

// checkRegistered checks the registered frame against the band: the same
// size, every valid pixel where the warp says it comes from (for a
// near-integer warp, the nearest band pixel within interpolation), and
// invalid pixels 0.
func checkRegistered(t *testing.T, name string, band *camera.Frame, res Result) {
	t.Helper()
	f, m := res.Frame, res.Mask
	if f.Width != band.Width || f.Height != band.Height || len(f.Pix) != len(band.Pix) || m.Width != f.Width {
		t.Fatalf("%s: registered frame %d×%d (%d samples), mask %d×%d", name, f.Width, f.Height, len(f.Pix), m.Width, m.Height)
	}
	valid := 0
	for i, v := range m.Pix {
		switch v {
		case 1:
			valid++
		case 0:
			if f.Pix[i] != 0 {
				t.Fatalf("%s: invalid pixel %d holds %d", name, i, f.Pix[i])
			}
		default:
			t.Fatalf("%s: mask value %d", name, v)
		}
	}
	if valid != m.Valid {
		t.Errorf("%s: mask counts %d valid, holds %d", name, m.Valid, valid)
	}
	// A translation of at most 8 px with a tiny rotation leaves a border
	// a few pixels wide: most of the frame is valid, but not all of it
	// once the band has moved.
	frac := float64(m.Valid) / float64(len(m.Pix))
	gx, gy := res.Warp.Translation()
	if frac < 0.98 || (math.Abs(gx) > 0.01 || math.Abs(gy) > 0.01) && frac == 1 {
		t.Errorf("%s: %.4f of the frame valid for warp %v", name, frac, res.Warp)
	}
}

// TestApply warps synthetic frames by known warps: whole-pixel shifts copy
// samples exactly, the border they uncover is 0 and masked, and a
// half-pixel shift averages neighbours (bilinear) without leaving their
// range.
func TestApply(t *testing.T) {
	const w, h = 97, 83
	src := &camera.Frame{Width: w, Height: h, Channels: 1, Pix: make([]uint16, w*h)}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range src.Pix {
		src.Pix[i] = uint16(rng.IntN(65536))
	}
	at := func(x, y int) (uint16, bool) {
		if x < 0 || y < 0 || x >= w || y >= h {
			return 0, false
		}
		return src.Pix[y*w+x], true
	}
	for _, c := range []struct {
		name   string
		warp   Warp
		dx, dy int // whole-pixel translation, or
		half   bool
	}{
		{name: "identity", warp: Identity},
		{name: "right 3 up 2", warp: Warp{{1, 0, 3}, {0, 1, -2}}, dx: 3, dy: -2},
		{name: "left 7 down 5", warp: Warp{{1, 0, -7}, {0, 1, 5}}, dx: -7, dy: 5},
		{name: "half pixel right", warp: Warp{{1, 0, 0.5}, {0, 1, 0}}, half: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, m, err := Apply(src, c.warp)
			if err != nil {
				t.Fatal(err)
			}
			valid := 0
			for y := range h {
				for x := range w {
					got, ok := out.Pix[y*w+x], m.Pix[y*w+x] == 1
					if ok {
						valid++
					}
					if c.half {
						a, okA := at(x, y)
						b, okB := at(x+1, y)
						if ok != (okA && okB) {
							t.Fatalf("(%d,%d): valid %v, sources inside %v %v", x, y, ok, okA, okB)
						}
						if ok && (got < min(a, b) || got > max(a, b) || math.Abs(float64(got)-(float64(a)+float64(b))/2) > 1) {
							t.Fatalf("(%d,%d) = %d from %d and %d", x, y, got, a, b)
						}
						continue
					}
					want, inside := at(x+c.dx, y+c.dy)
					if ok != inside || got != want {
						t.Fatalf("(%d,%d) = %d valid %v, want %d valid %v", x, y, got, ok, want, inside)
					}
				}
			}
			if valid != m.Valid {
				t.Errorf("Valid = %d, counted %d", m.Valid, valid)
			}
		})
	}
}

// TestRescale checks the warp's change of resolution against points
// mapped by hand: at factor s, level pixel centre x sits at full-resolution
// s·x + (s−1)/2.
func TestRescale(t *testing.T) {
	toFull := func(x, s float64) float64 { return s*x + (s-1)/2 }
	for _, c := range []struct {
		name string
		w    Warp
		from float64
	}{
		{"translation at 1/8", Warp{{1, 0, 0.25}, {0, 1, -0.5}}, 8},
		{"rotation at 1/4", rot(2, 1.5, -0.75), 4},
		{"affine at 1/2", Warp{{1.01, 0.02, 0.3}, {-0.01, 0.99, 0.1}}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			full := c.w.rescale(c.from, 1)
			back := full.rescale(1, c.from)
			for _, p := range [][2]float64{{0, 0}, {10, 3}, {123.5, 77}} {
				// p at the level; the level warp sends it to q.
				qx := c.w[0][0]*p[0] + c.w[0][1]*p[1] + c.w[0][2]
				qy := c.w[1][0]*p[0] + c.w[1][1]*p[1] + c.w[1][2]
				fx, fy := toFull(p[0], c.from), toFull(p[1], c.from)
				gx := full[0][0]*fx + full[0][1]*fy + full[0][2]
				gy := full[1][0]*fx + full[1][1]*fy + full[1][2]
				if math.Abs(gx-toFull(qx, c.from)) > 1e-9 || math.Abs(gy-toFull(qy, c.from)) > 1e-9 {
					t.Errorf("%v: full-resolution warp gives (%v, %v), want (%v, %v)", p, gx, gy, toFull(qx, c.from), toFull(qy, c.from))
				}
			}
			for i := range 2 {
				for j := range 3 {
					if math.Abs(back[i][j]-c.w[i][j]) > 1e-12 {
						t.Errorf("round trip %v, want %v", back, c.w)
					}
				}
			}
		})
	}
}

func rot(deg, tx, ty float64) Warp {
	s, c := math.Sincos(deg * math.Pi / 180)
	return Warp{{c, -s, tx}, {s, c, ty}}
}

// TestNoConverge feeds ECC pairs it cannot align: every one fails with
// ErrNoConverge (and, where OpenCV throws, the process survives).
func TestNoConverge(t *testing.T) {
	const w, h = 640, 480
	r := newRig(t, 5, 3, w, h)
	ref, _ := r.shoot(t, shotCrossP)
	band, _ := r.shoot(t, shot415Y)
	noise := &camera.Frame{Width: w, Height: h, Channels: 1, Pix: make([]uint16, w*h)}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range noise.Pix {
		noise.Pix[i] = uint16(rng.IntN(65536))
	}
	flat := &camera.Frame{Width: w, Height: h, Channels: 1, Pix: make([]uint16, w*h)}
	for i := range flat.Pix {
		flat.Pix[i] = 1000
	}
	// A frame with nothing in common with the reference: the scene turned
	// upside down and shifted by a third of the frame.
	flipped := &camera.Frame{Width: w, Height: h, Channels: 1, Pix: make([]uint16, w*h)}
	for y := range h {
		for x := range w {
			flipped.Pix[y*w+x] = band.Pix[(h-1-y)*w+(x+w/3)%w]
		}
	}
	for _, c := range []struct {
		name string
		band *camera.Frame
		cfg  Config
	}{
		{"noise", noise, Config{}},
		{"uniform", flat, Config{}},
		{"flipped scene", flipped, Config{}},
		{"threshold above what the band reaches", band, Config{MinCorrelation: 0.9999}},
	} {
		t.Run(c.name, func(t *testing.T) {
			reg, err := New(ref, c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer reg.Close()
			res, err := reg.Register(context.Background(), c.band)
			if !errors.Is(err, ErrNoConverge) {
				t.Fatalf("err = %v (correlation %.3f), want ErrNoConverge", err, res.Correlation)
			}
			if res.Frame != nil {
				t.Error("a frame was produced for a band that did not register")
			}
			t.Logf("%v", err)
		})
	}
	// A uniform reference cannot be registered to either.
	if _, err := New(flat, Config{}); !errors.Is(err, ErrNoConverge) {
		t.Errorf("uniform reference: err = %v, want ErrNoConverge", err)
	}
}

// TestConfig checks what New refuses.
func TestConfig(t *testing.T) {
	r := newRig(t, 5, 3, 640, 480)
	ref, _ := r.shoot(t, shotCrossP)
	for _, c := range []struct {
		name string
		cfg  Config
		ref  *camera.Frame
		ok   bool
	}{
		{"default", Config{}, ref, true},
		{"affine, intensity, three levels", Config{Motion: Affine, Normalise: Intensity, Levels: []int{8, 4, 2}}, ref, true},
		{"levels not dividing", Config{Levels: []int{8, 3}}, ref, false},
		{"level zero", Config{Levels: []int{0}}, ref, false},
		{"unknown motion", Config{Motion: 9}, ref, false},
		{"unknown normalisation", Config{Normalise: 9}, ref, false},
		{"too coarse for the frame", Config{Levels: []int{64}}, ref, false},
		{"nil reference", Config{}, nil, false},
		{"colour reference", Config{}, &camera.Frame{Width: 640, Height: 480, Channels: 3, Pix: make([]uint16, 640*480*3)}, false},
		{"short reference", Config{}, &camera.Frame{Width: 640, Height: 480, Channels: 1, Pix: make([]uint16, 10)}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			reg, err := New(c.ref, c.cfg)
			if (err == nil) != c.ok {
				t.Fatalf("err = %v, want ok %v", err, c.ok)
			}
			if err == nil {
				reg.Close()
			}
		})
	}
	reg, err := New(ref, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	small := &camera.Frame{Width: 320, Height: 240, Channels: 1, Pix: make([]uint16, 320*240)}
	if _, err := reg.Register(context.Background(), small); err == nil {
		t.Error("a band of another size was registered")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := reg.Register(ctx, ref); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}

// TestAdvice checks that every kind of failure gets a plain sentence.
func TestAdvice(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{fmt.Errorf("band 2: %w", ErrNoConverge), "retake this band"},
		{context.Canceled, "Nothing was lost"},
		{errors.New("register: frame has 3 channels"), "system administrator"},
	} {
		got := Advice(c.err)
		if c.want == "" && got != "" || !strings.Contains(got, c.want) {
			t.Errorf("Advice(%v) = %q, want it to say %q", c.err, got, c.want)
		}
	}
}

// TestSyntheticMotion moves a simulator band further than camsim's hand
// motion does — long shifts and rotations, applied with Apply — and
// registers it back. The moved band's border (uncovered by the warp)
// would be an edge no real frame has, so reference and band are both
// cropped by a margin wider than it. Within the capture range the
// displacement at every corner is within ±0.5 px; beyond it (3° here)
// registration must fail with ErrNoConverge rather than return a wrong
// warp: whenever Estimate succeeds, its warp is right.
func TestSyntheticMotion(t *testing.T) {
	if testing.Short() {
		t.Skip("renders two 12 MP layers")
	}
	const margin = 100
	r := newRig(t, 9, 4, 4000, 3000)
	ref, refOff := r.shoot(t, shotCrossP)
	band, off := r.shoot(t, shot415Y)
	hand := Warp{{1, 0, float64(refOff[0] - off[0])}, {0, 1, float64(refOff[1] - off[1])}}
	reg, err := New(crop(ref, margin), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	toCrop, fromCrop := Warp{{1, 0, -margin}, {0, 1, -margin}}, Warp{{1, 0, margin}, {0, 1, margin}}
	for _, c := range []struct {
		deg, tx, ty float64
		inRange     bool
	}{
		{0, 40, -30, true},
		{0, 64, 0, true},
		{0.5, 3, 2, true},
		{1, 0, 0, true},
		{2, 5, 5, true},
		{3, 0, 0, false},
	} {
		name := fmt.Sprintf("%g° (%g, %g)", c.deg, c.tx, c.ty)
		s := rot(c.deg, c.tx, c.ty)
		moved, _, err := Apply(band, s)
		if err != nil {
			t.Fatal(err)
		}
		est, err := reg.Estimate(context.Background(), crop(moved, margin))
		// moved(x) = band(s·x) and band(hand·x) ≈ ref(x), so the warp from
		// ref to moved is s⁻¹∘hand, here in the crops' coordinates.
		want := compose(toCrop, compose(compose(invert(s), hand), fromCrop))
		worst := 0.0
		w, h := float64(band.Width-2*margin-1), float64(band.Height-2*margin-1)
		for _, p := range [][2]float64{{0, 0}, {w, 0}, {0, h}, {w, h}} {
			for i := range 2 {
				got := est.Warp[i][0]*p[0] + est.Warp[i][1]*p[1] + est.Warp[i][2]
				exp := want[i][0]*p[0] + want[i][1]*p[1] + want[i][2]
				worst = max(worst, math.Abs(got-exp))
			}
		}
		t.Logf("%-16s rotation %+.4f° (want %+.4f°), worst corner error %.3f px, ECC %.3f, err %v",
			name, est.Warp.RotationDeg(), want.RotationDeg(), worst, est.Correlation, err)
		switch {
		case err == nil && worst > tolerancePx:
			t.Errorf("%s: registered with a corner %.3f px off", name, worst)
		case err != nil && !errors.Is(err, ErrNoConverge):
			t.Errorf("%s: %v", name, err)
		case err != nil && c.inRange:
			t.Errorf("%s: %v", name, err)
		}
	}
}

// crop returns f without a margin of m pixels on every side.
func crop(f *camera.Frame, m int) *camera.Frame {
	w, h := f.Width-2*m, f.Height-2*m
	out := &camera.Frame{Width: w, Height: h, Channels: 1, Pix: make([]uint16, w*h)}
	for y := range h {
		copy(out.Pix[y*w:(y+1)*w], f.Pix[(y+m)*f.Width+m:])
	}
	return out
}

// invert returns the inverse of an invertible warp.
func invert(w Warp) Warp {
	a, b, c, d := w[0][0], w[0][1], w[1][0], w[1][1]
	det := a*d - b*c
	ia, ib, ic, id := d/det, -b/det, -c/det, a/det
	return Warp{{ia, ib, -(ia*w[0][2] + ib*w[1][2])}, {ic, id, -(ic*w[0][2] + id*w[1][2])}}
}

// compose returns the warp x ↦ a(b(x)).
func compose(a, b Warp) Warp {
	var o Warp
	for i := range 2 {
		for j := range 3 {
			o[i][j] = a[i][0]*b[0][j] + a[i][1]*b[1][j]
		}
		o[i][2] += a[i][2]
	}
	return o
}
