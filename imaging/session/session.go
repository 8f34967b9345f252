package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/internal/clock"
)

// Light is what a capture needs of a light engine; *light.Dev is one.
type Light interface {
	SetBand(ctx context.Context, b light.Band) error
	SetFilter(ctx context.Context, f light.Filter) error
	SetLevel(ctx context.Context, level int) error
	On(ctx context.Context) error
	Off(ctx context.Context) error
	WaitSettled(ctx context.Context, poll time.Duration) (light.Status, error)
	Status(ctx context.Context) (light.Status, error)
	Halt() error
}

var _ Light = (*light.Dev)(nil)

// Camera is what a capture needs of a camera; *netcam.Dev is one.
type Camera interface {
	Configure(ctx context.Context, s camera.Settings) (camera.Settings, error)
	Capture(ctx context.Context) (*camera.Frame, error)
	LightChanged()
	Halt() error
}

// A Shot is one exposure of a capture: the light, the filter in front of
// the camera, and the camera's settings.
type Shot struct {
	ID       string // unique within the capture, e.g. "415-yellow"
	Label    string // what a photographer reads, e.g. "Violet 415 nm, yellow filter"
	Band     light.Band
	Filter   light.Filter
	Level    int // light level, 1–100 %
	Settings camera.Settings
}

func (s Shot) validate() error {
	if s.ID == "" {
		return errors.New("a shot has no id")
	}
	if s.Level < 1 || s.Level > 100 {
		return fmt.Errorf("shot %s: light level %d%% is outside 1–100", s.ID, s.Level)
	}
	if err := s.Settings.Validate(); err != nil {
		return fmt.Errorf("shot %s: %w", s.ID, err)
	}
	return nil
}

// A Frame is one frame taken, with what the devices reported for it.
type Frame struct {
	Shot    Shot
	Attempt int // 1 for the first take of the shot, 2 for its first retake, …
	Image   *camera.Frame
	// Light is the engine's settled status before the exposure; Applied
	// the settings the camera reported it applied.
	Light   light.Status
	Applied camera.Settings
	// Settle is how long the light took to settle; Expose how long the
	// camera took to expose and deliver the frame (on Config.Clock).
	Settle, Expose time.Duration
	// Rejected is the reason the photographer gave for retaking the shot;
	// empty while the frame is the shot's current one.
	Rejected string
	// Replaces is the frame this retake replaced (rejected once this one
	// is kept), and Why the photographer's reason; nil and "" for a first
	// take.
	Replaces *Frame
	Why      string
}

// Progress says where a capture is. Step is "light" (setting band, filter
// and level), "settle" (waiting for the light), "expose" or "done".
type Progress struct {
	Shot         Shot
	Index, Total int // Index counts from 1
	Step         string
}

// Config configures a Session.
type Config struct {
	Light  Light  // required
	Camera Camera // required
	Clock  clock.Clock
	// SettlePoll is how often the light engine's status is asked while it
	// settles; zero: 20 ms.
	SettlePoll time.Duration
	// Keep, if set, is called with each frame as soon as it is taken,
	// before the next shot. An error stops the capture (devices halted).
	Keep func(ctx context.Context, f *Frame) error
	// OnProgress, if set, is called at each step.
	OnProgress func(Progress)
}

// A Session holds the frames of one capture. Its methods may be called from
// several goroutines; captures run one at a time.
type Session struct {
	cfg Config

	run    sync.Mutex // held while devices are in use
	mu     sync.Mutex
	frames []*Frame
}

// New returns a session.
func New(cfg Config) (*Session, error) {
	if cfg.Light == nil || cfg.Camera == nil {
		return nil, errors.New("session: a capture needs a light engine and a camera")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System
	}
	if cfg.SettlePoll <= 0 {
		cfg.SettlePoll = 20 * time.Millisecond
	}
	return &Session{cfg: cfg}, nil
}

// ErrUnknownShot: Retake named a shot that was never taken.
var ErrUnknownShot = errors.New("session: no such shot has been taken")

// ErrLightWentOff: the light engine was no longer emitting the shot's
// light when the frame came back (or could not say whether it was). The
// frame is kept, already rejected with the reason — it does not show the
// skin under the shot's light — and the capture stops. The interlock
// cutting a UV or violet band matches light.ErrInterlockOpen as well.
var ErrLightWentOff = errors.New("session: the light went off during the exposure")

// A ShotError is why a capture stopped.
type ShotError struct {
	Shot Shot
	Step string // "light", "settle", "expose", "keep", or "check" before anything was done
	Err  error
	// Halt is the error of putting the devices in their safe state, if that
	// failed too.
	Halt error
}

func (e *ShotError) Error() string {
	s := fmt.Sprintf("session: shot %s (%s): %v", e.Shot.ID, e.Step, e.Err)
	if e.Halt != nil {
		s += fmt.Sprintf("; and making the devices safe failed: %v", e.Halt)
	}
	return s
}

func (e *ShotError) Unwrap() error { return e.Err }

// Advice is one sentence for the photographer: what happened and what to do.
func (e *ShotError) Advice() string {
	var ie *light.InterlockError
	kept := "The pictures already taken are kept."
	switch {
	case errors.As(e.Err, &ie):
		return "The enclosure is open, so the " + e.Shot.Band.String() + " light cannot be switched on. Close the enclosure and try again. " + kept
	case errors.Is(e.Err, light.ErrInterlockOpen) && e.Step == "expose":
		return "The enclosure was opened during the picture, so the " + e.Shot.Band.String() + " light went off; that picture is kept but set aside. Close the enclosure and try again. " + kept
	case errors.Is(e.Err, light.ErrInterlockOpen):
		return "The enclosure was opened, so the " + e.Shot.Band.String() + " light went off before the picture was taken. Close the enclosure and try again. " + kept
	case errors.Is(e.Err, ErrLightWentOff):
		return "The light went off before the picture was finished; that picture is kept but set aside. Check the light, then try again. " + kept
	case e.Step == "keep" && errors.Is(e.Err, syscall.ENOSPC):
		return "The kiosk's storage is full, so the picture could not be saved and capture stopped. Ask the supervisor to free space, then try again. " + kept
	case errors.Is(e.Err, context.Canceled):
		return "Capture stopped. The light is off. " + kept
	case e.Step == "keep":
		return "The picture could not be saved, so capture stopped. Ask for help before continuing: check the kiosk's storage. " + kept
	case e.Step == "expose" && errors.Is(e.Err, camera.ErrTimeout):
		return "The camera did not answer. Check that it is connected and switched on, then try again. " + kept
	case e.Step == "expose":
		return "The camera could not take the picture. Check that it is connected, then try again. " + kept
	case e.Step == "light" || e.Step == "settle":
		return "The light could not be set. Check that the light is connected and switched on, then try again. " + kept
	}
	return "Capture stopped. The light is off. " + kept
}

// Run takes each shot in order. On any error, or when ctx ends, it halts
// both devices and returns a *ShotError; the frames already taken stay.
func (s *Session) Run(ctx context.Context, shots []Shot) error {
	seen := map[string]bool{}
	for _, sh := range shots {
		if err := sh.validate(); err != nil {
			return &ShotError{Shot: sh, Step: "check", Err: err}
		}
		if seen[sh.ID] {
			return &ShotError{Shot: sh, Step: "check", Err: fmt.Errorf("shot id %s appears twice", sh.ID)}
		}
		seen[sh.ID] = true
	}
	s.run.Lock()
	defer s.run.Unlock()
	for i, sh := range shots {
		if _, err := s.take(ctx, sh, i+1, len(shots), nil, ""); err != nil {
			return err
		}
	}
	return s.lightOff(ctx, shots)
}

// Retake marks the current frame of the shot with this id rejected, for
// reason, and takes the shot again. The rejected frame stays in the
// session. It returns the new frame.
func (s *Session) Retake(ctx context.Context, id, reason string) (*Frame, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, errors.New("session: a retake needs a reason")
	}
	s.run.Lock()
	defer s.run.Unlock()
	s.mu.Lock()
	cur := s.current(id)
	s.mu.Unlock()
	if cur == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownShot, id)
	}
	f, err := s.take(ctx, cur.Shot, 1, 1, cur, reason)
	if err != nil {
		return nil, err
	}
	if err := s.lightOff(ctx, []Shot{cur.Shot}); err != nil {
		return f, err
	}
	return f, nil
}

// current returns the shot's frame that is not rejected, if any; s.mu held.
func (s *Session) current(id string) *Frame {
	for i := len(s.frames) - 1; i >= 0; i-- {
		if f := s.frames[i]; f.Shot.ID == id && f.Rejected == "" {
			return f
		}
	}
	return nil
}

// Frames returns every frame taken, in order, rejected ones included.
func (s *Session) Frames() []*Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Frame(nil), s.frames...)
}

// Accepted returns the current frame of each shot, in the order the shots
// were first taken.
func (s *Session) Accepted() []*Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Frame
	done := map[string]bool{}
	for _, f := range s.frames {
		if done[f.Shot.ID] {
			continue
		}
		done[f.Shot.ID] = true
		if c := s.current(f.Shot.ID); c != nil {
			out = append(out, c)
		}
	}
	return out
}

// take takes one shot; s.run is held. For a retake, replaces is the
// shot's current frame, which is marked rejected for reason only once the
// new frame is taken and kept: a retake that fails leaves it current.
func (s *Session) take(ctx context.Context, sh Shot, index, total int, replaces *Frame, reason string) (*Frame, error) {
	fail := func(step string, err error) (*Frame, error) {
		return nil, &ShotError{Shot: sh, Step: step, Err: err, Halt: s.halt()}
	}
	progress := func(step string) {
		if s.cfg.OnProgress != nil {
			s.cfg.OnProgress(Progress{Shot: sh, Index: index, Total: total, Step: step})
		}
	}
	if err := ctx.Err(); err != nil {
		return fail("light", err)
	}
	progress("light")
	l, c := s.cfg.Light, s.cfg.Camera
	for _, step := range []func() error{
		func() error { return l.SetBand(ctx, sh.Band) },
		func() error { return l.SetFilter(ctx, sh.Filter) },
		func() error { return l.SetLevel(ctx, sh.Level) },
		func() error { return l.On(ctx) },
	} {
		if err := step(); err != nil {
			return fail("light", err)
		}
	}
	c.LightChanged()
	progress("settle")
	t0 := s.cfg.Clock.Now()
	st, err := l.WaitSettled(ctx, s.cfg.SettlePoll)
	if err != nil {
		return fail("settle", err)
	}
	if st.Band != sh.Band || st.Filter != sh.Filter || !st.On {
		if !st.On && st.InterlockOpen && sh.Band.NeedsInterlock() {
			return fail("settle", fmt.Errorf("the enclosure was opened while the %v light settled, and the light engine switched it off: %w", sh.Band, light.ErrInterlockOpen))
		}
		return fail("settle", fmt.Errorf("the light engine reports %v, not %v with the %v filter on", st, sh.Band, sh.Filter))
	}
	t1 := s.cfg.Clock.Now()
	progress("expose")
	applied, err := c.Configure(ctx, sh.Settings)
	if err != nil {
		return fail("expose", err)
	}
	img, err := c.Capture(ctx)
	if err != nil {
		return fail("expose", err)
	}
	t2 := s.cfg.Clock.Now()
	// The light must still be on: the interlock (or the thermal cut-off)
	// switches it off by itself, and a frame exposed in the dark is not a
	// picture under the shot's light. It is kept all the same, set aside
	// with the reason, and the capture stops.
	var (
		dark error
		why  string // the frame's rejection
	)
	after, err := l.Status(ctx)
	switch {
	case err != nil:
		dark = fmt.Errorf("%w: the light engine could not be asked whether it stayed on: %w", ErrLightWentOff, err)
		why = "the light engine could not say whether the light stayed on during the exposure"
	case !after.On && after.InterlockOpen && sh.Band.NeedsInterlock():
		dark = fmt.Errorf("the enclosure was opened during the exposure, and the light engine switched the %v light off: %w (%w)", sh.Band, ErrLightWentOff, light.ErrInterlockOpen)
		why = "the enclosure was opened during the exposure and the " + sh.Band.String() + " light went off"
	case !after.On || after.Band != sh.Band || after.Filter != sh.Filter:
		dark = fmt.Errorf("%w: the light engine reports %v after it", ErrLightWentOff, after)
		why = fmt.Sprintf("the light went off during the exposure (the light engine reported %v)", after)
	}
	s.mu.Lock()
	attempt := 1
	for _, f := range s.frames {
		if f.Shot.ID == sh.ID {
			attempt++
		}
	}
	s.mu.Unlock()
	f := &Frame{Shot: sh, Attempt: attempt, Image: img, Light: st, Applied: applied, Settle: t1.Sub(t0), Expose: t2.Sub(t1),
		Replaces: replaces, Why: reason}
	if dark != nil {
		// Set aside from the start; it replaces nothing (a retake's
		// earlier frame stays current).
		f.Replaces, f.Why, f.Rejected = nil, "", why
		if s.cfg.Keep != nil {
			if err := s.cfg.Keep(ctx, f); err != nil {
				return fail("keep", fmt.Errorf("%w (keeping a frame set aside: %w)", err, dark))
			}
		}
		s.mu.Lock()
		s.frames = append(s.frames, f)
		s.mu.Unlock()
		return fail("expose", dark)
	}
	if s.cfg.Keep != nil {
		if err := s.cfg.Keep(ctx, f); err != nil {
			return fail("keep", err)
		}
	}
	s.mu.Lock()
	if replaces != nil {
		replaces.Rejected = reason
	}
	s.frames = append(s.frames, f)
	s.mu.Unlock()
	progress("done")
	return f, nil
}

// Reject marks the shot's current frame rejected for reason without taking
// it again (a retake that is then taken calls Retake instead).
func (s *Session) Reject(id, reason string) error {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return errors.New("session: a rejection needs a reason")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.current(id)
	if cur == nil {
		return fmt.Errorf("%w: %s", ErrUnknownShot, id)
	}
	cur.Rejected = reason
	return nil
}

// lightOff switches the light off after a capture that went well; if that
// fails the devices are halted and the error returned.
func (s *Session) lightOff(ctx context.Context, shots []Shot) error {
	if err := s.cfg.Light.Off(ctx); err != nil {
		sh := Shot{}
		if len(shots) > 0 {
			sh = shots[len(shots)-1]
		}
		return &ShotError{Shot: sh, Step: "light", Err: fmt.Errorf("switching the light off: %w", err), Halt: s.halt()}
	}
	return nil
}

// halt puts both devices in their safe state.
func (s *Session) halt() error {
	return errors.Join(s.cfg.Light.Halt(), s.cfg.Camera.Halt())
}
