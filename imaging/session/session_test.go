package session_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/devices/camera/camsim"
	"github.com/exhibit-forensics/exhibit/devices/camera/netcam"
	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/light/lightsim"
	"github.com/exhibit-forensics/exhibit/devices/rigsim"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/rigtest"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
	"github.com/exhibit-forensics/exhibit/imaging/session"
)

// guard bounds waits that must end; it is not a timing assertion.
const guard = 30 * time.Second

// startRig starts the rig (a small scene unless cfg says otherwise) with
// the real drivers open on it.
func startRig(t *testing.T, cfg rigsim.Config, cam netcam.Config) *rigtest.Rig {
	t.Helper()
	if cfg.Scene == (scene.Config{}) {
		cfg.Scene = scene.Config{Width: 640, Height: 480, Skin: 5}
	}
	return rigtest.Start(t, cfg, cam)
}

// shots is a short injury capture: white, violet and blue behind their
// barrier filters, and near infrared.
var shots = []session.Shot{
	{ID: "white", Label: "White light", Band: light.BandWhite, Level: 60, Settings: camera.Settings{Exposure: 8 * time.Millisecond, Gain: 1}},
	{ID: "415-yellow", Label: "Violet 415 nm, yellow filter", Band: light.Band415, Filter: light.FilterYellow, Level: 100, Settings: camera.Settings{Exposure: 40 * time.Millisecond, Gain: 4}},
	{ID: "450-orange", Label: "Blue 450 nm, orange filter", Band: light.Band450, Filter: light.FilterOrange, Level: 100, Settings: camera.Settings{Exposure: 40 * time.Millisecond, Gain: 4}},
	{ID: "850-ir", Label: "Infrared 850 nm, IR-pass filter", Band: light.Band850, Filter: light.FilterIRPass, Level: 100, Settings: camera.Settings{Exposure: 10 * time.Millisecond, Gain: 2}},
}

func newSession(t *testing.T, r *rigtest.Rig, mod func(*session.Config)) *session.Session {
	t.Helper()
	cfg := session.Config{Light: r.Light, Camera: r.Camera, SettlePoll: 2 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	s, err := session.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ctxGuard(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	t.Cleanup(cancel)
	return ctx
}

// lightIsOff fails the test unless the simulated engine is dark.
func lightIsOff(t *testing.T, r *rigtest.Rig) {
	t.Helper()
	if e := r.Sim.Light.Emission(); e.On {
		t.Errorf("the light is still on after the capture: %+v", e)
	}
}

// TestRunAgainstRig: every shot is taken in order through the real drivers,
// each frame exposed under the band and filter its shot asked for once the
// light had settled, each handed to Keep before the next shot began, and
// the light is off at the end.
func TestRunAgainstRig(t *testing.T) {
	r := startRig(t, rigsim.Config{Seed: 7}, netcam.Config{})
	var (
		mu    sync.Mutex
		kept  []string
		steps []string
	)
	s := newSession(t, r, func(c *session.Config) {
		c.Keep = func(ctx context.Context, f *session.Frame) error {
			mu.Lock()
			defer mu.Unlock()
			// The emission at keep time is still this shot's: the next
			// shot has not begun.
			if e := r.Sim.Light.Emission(); e.Band != f.Shot.Band || e.Filter != f.Shot.Filter {
				t.Errorf("keep of %s while the engine shows %v/%v", f.Shot.ID, e.Band, e.Filter)
			}
			kept = append(kept, f.Shot.ID)
			return nil
		}
		c.OnProgress = func(p session.Progress) {
			mu.Lock()
			steps = append(steps, p.Shot.ID+":"+p.Step)
			mu.Unlock()
		}
	})
	if err := s.Run(ctxGuard(t), shots); err != nil {
		t.Fatal(err)
	}
	frames := s.Frames()
	if len(frames) != len(shots) || len(kept) != len(shots) {
		t.Fatalf("%d frames, %d kept, want %d", len(frames), len(kept), len(shots))
	}
	for i, f := range frames {
		sh := shots[i]
		if f.Shot.ID != sh.ID || kept[i] != sh.ID || f.Attempt != 1 || f.Rejected != "" {
			t.Errorf("frame %d: %+v (kept %s)", i, f.Shot, kept[i])
		}
		if f.Light.Band != sh.Band || f.Light.Filter != sh.Filter || !f.Light.Settled || !f.Light.On {
			t.Errorf("%s: settled status %v", sh.ID, f.Light)
		}
		if f.Image == nil || f.Image.Width != 640 || f.Image.Height != 480 || f.Image.EncodedType != "image/png" || len(f.Image.Encoded) == 0 {
			t.Fatalf("%s: image %+v", sh.ID, f.Image)
		}
		if f.Applied.Exposure <= 0 || f.Image.Meta.Exposure != f.Applied.Exposure {
			t.Errorf("%s: applied %v, frame says %v", sh.ID, f.Applied, f.Image.Meta.Exposure)
		}
	}
	if got := strings.Join(steps[:4], " "); got != "white:light white:settle white:expose white:done" {
		t.Errorf("progress of the first shot: %s", got)
	}
	if len(steps) != 4*len(shots) {
		t.Errorf("%d progress steps: %v", len(steps), steps)
	}
	lightIsOff(t, r)
}

// TestInterlockOpenHalts: the violet band is refused while the enclosure is
// open; the capture stops at that shot with advice about the enclosure,
// the light is off, and the white frame taken before is kept.
func TestInterlockOpenHalts(t *testing.T) {
	r := startRig(t, rigsim.Config{Seed: 8, LightFaults: lightsim.Faults{InterlockOpen: true}}, netcam.Config{})
	s := newSession(t, r, nil)
	err := s.Run(ctxGuard(t), shots)
	var se *session.ShotError
	var ie *light.InterlockError
	if !errors.As(err, &se) || !errors.As(err, &ie) || se.Shot.ID != "415-yellow" || se.Step != "light" {
		t.Fatalf("err %v, want the interlock refusing 415-yellow", err)
	}
	if a := se.Advice(); !strings.Contains(a, "Close the enclosure") || !strings.Contains(a, "kept") {
		t.Errorf("advice %q", a)
	}
	if f := s.Frames(); len(f) != 1 || f[0].Shot.ID != "white" {
		t.Errorf("frames %v", f)
	}
	lightIsOff(t, r)
}

// TestInterlockOpenedMidShot: the enclosure opened while the violet light
// settles, or as its exposure begins, switches the light off on the
// engine itself; the capture stops at that shot with the interlock in the
// error and the enclosure in the advice. A violet frame exposed in the
// dark is kept, but already rejected with the reason, so it is not the
// shot's picture.
func TestInterlockOpenedMidShot(t *testing.T) {
	for _, tc := range []struct {
		step, advice string
		frames       int // the white one, and a violet one set aside
	}{
		{"settle", "went off before the picture was taken", 1},
		{"expose", "that picture is kept but set aside", 2},
	} {
		t.Run(tc.step, func(t *testing.T) {
			r := startRig(t, rigsim.Config{Seed: 12}, netcam.Config{})
			kept := 0
			s := newSession(t, r, func(c *session.Config) {
				c.Keep = func(_ context.Context, f *session.Frame) error {
					if kept++; f.Shot.ID == "415-yellow" && !strings.Contains(f.Rejected, "enclosure was opened") {
						t.Errorf("the violet frame is kept as %q, want set aside", f.Rejected)
					}
					return nil
				}
				c.OnProgress = func(p session.Progress) {
					if p.Shot.ID == "415-yellow" && p.Step == tc.step {
						r.Sim.Light.SetInterlock(true)
					}
				}
			})
			err := s.Run(ctxGuard(t), shots)
			var se *session.ShotError
			if !errors.As(err, &se) || !errors.Is(err, light.ErrInterlockOpen) || se.Shot.ID != "415-yellow" || se.Step != tc.step {
				t.Fatalf("err %v, want the interlock stopping 415-yellow at %s", err, tc.step)
			}
			if tc.step == "expose" && !errors.Is(err, session.ErrLightWentOff) {
				t.Errorf("err %v does not say the light went off", err)
			}
			if a := se.Advice(); !strings.Contains(a, "Close the enclosure") || !strings.Contains(a, tc.advice) {
				t.Errorf("advice %q", a)
			}
			if f := s.Frames(); len(f) != tc.frames || f[0].Shot.ID != "white" || kept != tc.frames {
				t.Errorf("frames %v, %d kept; want %d", f, kept, tc.frames)
			}
			if a := s.Accepted(); len(a) != 1 || a[0].Shot.ID != "white" {
				t.Errorf("accepted %v, want the white frame only", a)
			}
			lightIsOff(t, r)
		})
	}
}

// TestCancelHalts: a capture cancelled while the light settles stops at
// once with the devices halted and the earlier frame kept.
func TestCancelHalts(t *testing.T) {
	r := startRig(t, rigsim.Config{Seed: 9}, netcam.Config{})
	ctx, cancel := context.WithCancel(ctxGuard(t))
	s := newSession(t, r, func(c *session.Config) {
		c.OnProgress = func(p session.Progress) {
			if p.Shot.ID == "450-orange" && p.Step == "settle" {
				cancel()
			}
		}
	})
	err := s.Run(ctx, shots)
	var se *session.ShotError
	if !errors.As(err, &se) || !errors.Is(err, context.Canceled) || se.Shot.ID != "450-orange" {
		t.Fatalf("err %v, want cancelled at 450-orange", err)
	}
	if !strings.HasPrefix(se.Advice(), "Capture stopped. The light is off.") {
		t.Errorf("advice %q", se.Advice())
	}
	if f := s.Frames(); len(f) != 2 {
		t.Errorf("%d frames kept, want 2", len(f))
	}
	lightIsOff(t, r)
}

// TestCameraTimeoutHalts: a camera that never answers stops the capture at
// its first shot, the light is switched off, and the advice says to check
// the camera.
func TestCameraTimeoutHalts(t *testing.T) {
	r := startRig(t, rigsim.Config{Seed: 10, CameraFaults: camsim.Faults{TimeoutRate: 1}},
		netcam.Config{Timeout: 50 * time.Millisecond, Attempts: 1})
	s := newSession(t, r, nil)
	err := s.Run(ctxGuard(t), shots)
	var se *session.ShotError
	if !errors.As(err, &se) || !errors.Is(err, camera.ErrTimeout) || se.Step != "expose" || se.Shot.ID != "white" {
		t.Fatalf("err %v, want the camera timing out on the first shot", err)
	}
	if !strings.Contains(se.Advice(), "camera did not answer") {
		t.Errorf("advice %q", se.Advice())
	}
	if len(s.Frames()) != 0 {
		t.Errorf("frames %v", s.Frames())
	}
	lightIsOff(t, r)
}

// TestKeepFailureStops: a frame that cannot be kept stops the capture
// before the next shot, devices halted; the frame is not counted as taken.
func TestKeepFailureStops(t *testing.T) {
	r := startRig(t, rigsim.Config{Seed: 11}, netcam.Config{})
	full := errors.New("no space left on device")
	s := newSession(t, r, func(c *session.Config) {
		c.Keep = func(ctx context.Context, f *session.Frame) error {
			if f.Shot.ID == "415-yellow" {
				return full
			}
			return nil
		}
	})
	err := s.Run(ctxGuard(t), shots)
	var se *session.ShotError
	if !errors.As(err, &se) || !errors.Is(err, full) || se.Step != "keep" || se.Shot.ID != "415-yellow" {
		t.Fatalf("err %v", err)
	}
	if !strings.Contains(se.Advice(), "could not be saved") {
		t.Errorf("advice %q", se.Advice())
	}
	if f := s.Frames(); len(f) != 1 || f[0].Shot.ID != "white" {
		t.Errorf("frames %v", f)
	}
	lightIsOff(t, r)
}

// TestRetakeKeepsRejected: a retake appends a new frame and marks the one
// it replaces rejected with the reason; nothing is removed. A retake that
// fails leaves the earlier frame current.
func TestRetakeKeepsRejected(t *testing.T) {
	r := startRig(t, rigsim.Config{Seed: 12}, netcam.Config{})
	fail := false
	s := newSession(t, r, func(c *session.Config) {
		c.Keep = func(ctx context.Context, f *session.Frame) error {
			if fail {
				return errors.New("disk full")
			}
			return nil
		}
	})
	ctx := ctxGuard(t)
	if err := s.Run(ctx, shots[:2]); err != nil {
		t.Fatal(err)
	}
	first := s.Frames()[0]
	if _, err := s.Retake(ctx, "white", " "); err == nil {
		t.Fatal("a retake without a reason was taken")
	}
	if _, err := s.Retake(ctx, "450-orange", "blurred"); !errors.Is(err, session.ErrUnknownShot) {
		t.Fatalf("retake of a shot never taken: %v", err)
	}
	f, err := s.Retake(ctx, "white", "the patient moved")
	if err != nil {
		t.Fatal(err)
	}
	if f.Attempt != 2 || f.Replaces != first || f.Why != "the patient moved" || first.Rejected != "the patient moved" {
		t.Fatalf("retake %+v; first rejected %q", f, first.Rejected)
	}
	all := s.Frames()
	if len(all) != 3 || all[0] != first || all[2] != f {
		t.Fatalf("frames %v", all)
	}
	acc := s.Accepted()
	if len(acc) != 2 || acc[0] != f || acc[1].Shot.ID != "415-yellow" {
		t.Fatalf("accepted %v", acc)
	}
	lightIsOff(t, r)

	// A retake whose frame cannot be kept changes nothing.
	fail = true
	if _, err := s.Retake(ctx, "415-yellow", "out of focus"); err == nil {
		t.Fatal("a retake that could not be kept succeeded")
	}
	if acc := s.Accepted(); acc[1].Shot.ID != "415-yellow" || acc[1].Rejected != "" || acc[1].Attempt != 1 {
		t.Fatalf("after a failed retake: %+v", acc[1])
	}
	if len(s.Frames()) != 3 {
		t.Fatalf("%d frames", len(s.Frames()))
	}
	lightIsOff(t, r)
}

// TestRunRefusesBadShots: shots are checked before any device is touched.
func TestRunRefusesBadShots(t *testing.T) {
	r := startRig(t, rigsim.Config{Seed: 13}, netcam.Config{})
	s := newSession(t, r, nil)
	before := r.Sim.Light.Stats().Commands
	bad := []session.Shot{shots[0], shots[0]}
	var se *session.ShotError
	if err := s.Run(ctxGuard(t), bad); !errors.As(err, &se) || se.Step != "check" {
		t.Fatalf("duplicate ids: %v", err)
	}
	zero := shots[0]
	zero.Level = 0
	if err := s.Run(ctxGuard(t), []session.Shot{zero}); !errors.As(err, &se) || se.Step != "check" {
		t.Fatalf("level 0: %v", err)
	}
	if n := r.Sim.Light.Stats().Commands - before; n != 0 {
		t.Errorf("%d commands reached the engine", n)
	}
}

// TestAdviceFor: the photographer's sentence for the errors a fault test
// cannot make on demand on every run.
func TestAdviceFor(t *testing.T) {
	violet := session.Shot{ID: "415-yellow", Band: light.Band415}
	for _, tc := range []struct {
		step string
		err  error
		want string
	}{
		{"keep", fmt.Errorf("seal: recording 415-yellow: write blob: %w", syscall.ENOSPC), "storage is full"},
		{"keep", errors.New("database is locked"), "could not be saved"},
		{"expose", fmt.Errorf("%w: the light engine reports off", session.ErrLightWentOff), "light went off before the picture was finished; that picture is kept but set aside"},
		{"expose", fmt.Errorf("netcam: %w", camera.ErrTimeout), "camera did not answer"},
	} {
		a := (&session.ShotError{Shot: violet, Step: tc.step, Err: tc.err}).Advice()
		if !strings.Contains(a, tc.want) || !strings.HasSuffix(a, "The pictures already taken are kept.") {
			t.Errorf("%s %v: advice %q, want it to say %q and that the pictures are kept", tc.step, tc.err, a, tc.want)
		}
	}
}
