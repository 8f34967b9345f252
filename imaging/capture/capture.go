// Package capture runs a whole capture from a profile to a sealed image
// set: it takes the profile's shots with imaging/session on the real light
// engine and camera, records every frame as it is taken with imaging/seal,
// registers the bands to the profile's reference shot with
// imaging/register, and seals the set. The headless `exhibit capture`
// command and the kiosk both run captures through it, so both make the same
// records.
//
// Timing: a capture reports where its time went (Timing), so that the
// capture-to-sealed benchmark and the command's breakdown can separate the
// time the camera spends exposing — physics, not software — from what the
// software costs: writing and hashing the originals, registration and
// sealing.
package capture

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/imaging/measure"
	"github.com/exhibit-forensics/exhibit/imaging/profile"
	"github.com/exhibit-forensics/exhibit/imaging/quality"
	"github.com/exhibit-forensics/exhibit/imaging/recipe"
	"github.com/exhibit-forensics/exhibit/imaging/register"
	"github.com/exhibit-forensics/exhibit/imaging/scale"
	"github.com/exhibit-forensics/exhibit/imaging/seal"
	"github.com/exhibit-forensics/exhibit/imaging/session"
	"github.com/exhibit-forensics/exhibit/internal/clock"
)

// Config is one capture.
type Config struct {
	Ledger  seal.Ledger
	Light   session.Light
	Camera  session.Camera
	Profile profile.Profile
	// Optional names the optional shots to take; the others are skipped.
	Optional []string
	// Set describes the image set (case, site, consent, flags,
	// photographer, device). Its Profile and Plan are filled in from
	// Profile.
	Set seal.Request
	// Clock times the capture; nil: clock.System.
	Clock clock.Clock
	// OnProgress, if set, is told each step of each shot.
	OnProgress func(session.Progress)
}

// Timing is where a capture's time went.
type Timing struct {
	Settle   time.Duration // waiting for the light to settle, all shots
	Exposure time.Duration // the exposures themselves, as the camera applied them
	Capture  time.Duration // the rest of each capture: readout, transfer, decoding
	Keep     time.Duration // writing and hashing the originals, recording them
	Quality  time.Duration // waiting for the quality gates after the last shot (they run while later shots expose)
	Register time.Duration
	Enhance  time.Duration // making and recording the derivatives, beyond Quality and Register (it starts while they run)
	Seal     time.Duration // recording the set and sealing it
	Total    time.Duration
}

// Software is the time the capture took apart from the light settling and
// the sensor exposing: what a faster program could shorten.
func (t Timing) Software() time.Duration { return t.Total - t.Settle - t.Exposure }

// Result is a sealed capture.
type Result struct {
	Set      store.Exhibit
	Pictures []store.Exhibit // every picture recorded, in the order taken
	Accepted []*session.Frame
	// Registration is each accepted band's registration to the reference
	// shot, in the order of Accepted (the reference's own is the identity;
	// the locator, framed wider, is not registered and has none).
	Registration map[string]register.Estimate
	// Findings are the quality gates' verdicts on each accepted frame, by
	// shot id (imaging/quality).
	Findings map[string][]quality.Finding
	// Derivatives are the enhanced pictures and the bruise outline, each
	// an exhibit with its recipe.
	Derivatives []Derivative
	Sealed      *chain.Record
	Timing      Timing
}

// Shots returns the shots of p a capture takes: every shot that is not
// optional, and the optional ones named.
func Shots(p profile.Profile, optional []string) ([]session.Shot, error) {
	want := map[string]bool{}
	for _, id := range optional {
		want[id] = true
	}
	var out []session.Shot
	for _, s := range p.Shots {
		if s.Optional && !want[s.ID] {
			continue
		}
		if s.Optional {
			delete(want, s.ID)
		}
		out = append(out, session.Shot{ID: s.ID, Label: s.Label, Band: s.Band, Filter: s.Filter, Level: s.Level, Settings: s.Camera})
	}
	for id := range want {
		return nil, fmt.Errorf("capture: profile %s has no optional shot %q", p.ID(), id)
	}
	return out, nil
}

// A Capture is a capture in progress: the set is recorded, shots are taken
// (Shoot), retaken (Retake), and the capture is finished (Finish: bands
// registered, set sealed). The kiosk drives one step by step; Run does all
// in one go. Its methods are not safe for concurrent use.
type Capture struct {
	cfg   Config
	clk   clock.Clock
	start time.Time
	ref   profile.Shot
	shots []session.Shot
	set   *seal.Set
	s     *session.Session
	keep  time.Duration
	res   *Result

	mu       sync.Mutex
	refFrame *camera.Frame
	gates    map[*session.Frame]*gated
	late     map[*session.Frame]*late

	dev *Developed // the last Develop, until Finish or a retake
}

// gated is what runs on one frame in the background, once done is
// closed: the quality gates' verdict and, for a band taken after the
// reference shot, its registration to that reference.
type gated struct {
	done     chan struct{}
	findings []quality.Finding
	scale    *scale.Result // the scale the gates found; nil: none
	err      error
	ref      *camera.Frame // the reference the band was registered to; nil if not
	est      register.Estimate
	regErr   error
}

// Begin checks the profile and records the image set.
func Begin(ctx context.Context, cfg Config) (*Capture, error) {
	c := &Capture{cfg: cfg, clk: cfg.Clock}
	if c.clk == nil {
		c.clk = clock.System
	}
	c.start = c.clk.Now()
	p := cfg.Profile
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	ref, ok := p.Reference()
	if !ok {
		return nil, fmt.Errorf("capture: profile %s has no reference shot", p.ID())
	}
	c.ref = ref
	shots, err := Shots(p, cfg.Optional)
	if err != nil {
		return nil, err
	}
	c.shots = shots
	c.res = &Result{Registration: map[string]register.Estimate{}, Findings: map[string][]quality.Finding{}}
	c.gates = map[*session.Frame]*gated{}
	c.late = map[*session.Frame]*late{}
	req := cfg.Set
	req.Profile, req.Plan, req.PlanName = p.ID(), profile.File(p), p.Name+".v"+strconv.Itoa(p.Version)+profile.FileExt
	t0 := c.clk.Now()
	set, err := seal.Begin(ctx, cfg.Ledger, req)
	if err != nil {
		return nil, err
	}
	c.set = set
	c.res.Set = set.Exhibit
	c.res.Timing.Seal += c.clk.Now().Sub(t0)
	c.s, err = session.New(session.Config{Light: cfg.Light, Camera: cfg.Camera, Clock: c.clk, OnProgress: cfg.OnProgress,
		Keep: func(ctx context.Context, f *session.Frame) error {
			t := c.clk.Now()
			err := set.Keep(ctx, f)
			c.keep += c.clk.Now().Sub(t)
			if err == nil {
				c.check(f)
			}
			return err
		}})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// check runs the quality gates on f in the background, while the next shot
// is taken: on the two cores of a kiosk the camera's exposure and transfer
// leave one idle. Motion is judged against the reference shot once it is
// taken (the locator, framed wider, is not compared).
func (c *Capture) check(f *session.Frame) {
	g := &gated{done: make(chan struct{})}
	c.mu.Lock()
	if f.Shot.ID == c.ref.ID {
		c.refFrame = f.Image
	}
	ref := c.refFrame
	c.gates[f] = g
	c.mu.Unlock()
	if f.Shot.ID == c.ref.ID || f.Shot.ID == profile.LocatorID {
		ref = nil
	}
	go func() {
		defer close(g.done)
		g.findings, g.scale, g.err = quality.Thresholds{}.Frame(f.Image, ref)
		if ref == nil {
			return
		}
		// Register the band while the next shot exposes: Finish then
		// only collects the estimate.
		r, err := register.New(ref, register.Config{})
		if err != nil {
			g.ref, g.regErr = ref, err
			return
		}
		defer r.Close()
		g.ref = ref
		g.est, g.regErr = r.Estimate(context.Background(), f.Image)
	}()
}

// Findings waits for the quality gates' verdict on f (taken in this
// capture) and returns it.
func (c *Capture) Findings(ctx context.Context, f *session.Frame) ([]quality.Finding, error) {
	g, err := c.gated(ctx, f)
	if err != nil {
		return nil, err
	}
	if g == nil {
		return nil, errors.New("capture: no such frame in this capture")
	}
	return g.findings, g.err
}

// gated waits for what runs on f in the background and returns it; nil if
// nothing was started for f.
func (c *Capture) gated(ctx context.Context, f *session.Frame) (*gated, error) {
	c.mu.Lock()
	g := c.gates[f]
	c.mu.Unlock()
	if g == nil {
		return nil, nil
	}
	select {
	case <-g.done:
		return g, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// scaleOf returns the scale on f: the one its quality gates found (the
// same scale.Find), or found now if the gates failed.
func (c *Capture) scaleOf(ctx context.Context, f *session.Frame) (*scale.Result, error) {
	g, err := c.gated(ctx, f)
	if err != nil {
		return nil, err
	}
	if g != nil {
		if g.err == nil {
			if g.scale == nil {
				return nil, scale.ErrNoScale
			}
			return g.scale, nil
		}
	}
	return scale.Find(f.Image, scale.Geometry{})
}

// Set is the image set's exhibit.
func (c *Capture) Set() store.Exhibit { return c.set.Exhibit }

// Shots are the shots the capture takes, in order.
func (c *Capture) Shots() []session.Shot { return append([]session.Shot(nil), c.shots...) }

// Shoot takes every shot not yet taken, in order. After an error (a
// *session.ShotError) the devices are safe and Shoot may be called again
// to carry on from the shot that failed.
func (c *Capture) Shoot(ctx context.Context) error {
	taken := map[string]bool{}
	for _, f := range c.s.Accepted() { // a frame set aside as taken is not
		taken[f.Shot.ID] = true
	}
	var todo []session.Shot
	for _, sh := range c.shots {
		if !taken[sh.ID] {
			todo = append(todo, sh)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	return c.s.Run(ctx, todo)
}

// Retake takes the shot again; the frame it replaces is set aside with
// reason, and kept.
func (c *Capture) Retake(ctx context.Context, shotID, reason string) (*session.Frame, error) {
	c.dev = nil // made from the frame set aside: Develop again
	return c.s.Retake(ctx, shotID, reason)
}

// Frames returns every frame taken, rejected ones included; Accepted the
// current frame of each shot.
func (c *Capture) Frames() []*session.Frame   { return c.s.Frames() }
func (c *Capture) Accepted() []*session.Frame { return c.s.Accepted() }

// Picture returns the exhibit a frame was recorded as.
func (c *Capture) Picture(f *session.Frame) (store.Exhibit, bool) { return c.set.Picture(f) }

// Developed is a capture's enhanced view before it is sealed: the quality
// gates' verdicts, the registration of every band and the derivatives made
// in memory, not yet recorded. The kiosk shows it so that the photographer
// sees the enhanced pictures and the bruise measured before accepting them;
// Finish then records exactly these derivatives, unless a shot was retaken
// since, which makes them again.
type Developed struct {
	Accepted     []*session.Frame
	Findings     map[string][]quality.Finding
	Registration map[string]register.Estimate
	Derivatives  []Made
}

// A Made derivative is one made and not yet recorded: its file name, the
// PNG bytes, and the recipe that makes them again from the originals.
type Made struct {
	Kind        string // "clahe", "ratio", "composite", "outline"
	File        string
	Body        []byte
	Recipe      *recipe.Recipe
	Measurement *measure.Result // for an outline
}

// analyse collects the quality gates' verdicts on the accepted frames and
// registers every band but the locator to the reference shot, into res.
// It may run while derive makes the derivatives (both wait for the same
// registrations).
func (c *Capture) analyse(ctx context.Context, res *Result) error {
	tq := c.clk.Now()
	for _, f := range res.Accepted {
		fs, err := c.Findings(ctx, f)
		if err != nil {
			return fmt.Errorf("capture: quality gates of %s: %w", f.Shot.ID, err)
		}
		res.Findings[f.Shot.ID] = fs
	}
	res.Timing.Quality = c.clk.Now().Sub(tq)

	t1 := c.clk.Now()
	reg, err := c.registrations(ctx, res.Accepted)
	if err != nil {
		return err
	}
	for _, f := range res.Accepted {
		if f.Shot.ID == profile.LocatorID && f.Shot.ID != c.ref.ID {
			continue // framed wider: not registered
		}
		est, err := reg(f.Shot.ID)
		if err != nil {
			return err
		}
		res.Registration[f.Shot.ID] = est
	}
	res.Timing.Register = c.clk.Now().Sub(t1)
	return nil
}

// registrations returns a function giving each accepted band's
// registration to the accepted reference shot, waiting for it: the
// estimate made in the background when the band was taken, or, for a band
// registered to an earlier reference (the reference was retaken since),
// one made now, once.
func (c *Capture) registrations(ctx context.Context, accepted []*session.Frame) (func(shot string) (register.Estimate, error), error) {
	byShot := map[string]*session.Frame{}
	for _, f := range accepted {
		byShot[f.Shot.ID] = f
	}
	refShot := byShot[c.ref.ID]
	if refShot == nil {
		return nil, errors.New("capture: the reference shot was not taken")
	}
	refFrame := refShot.Image
	return func(shot string) (register.Estimate, error) {
		if shot == c.ref.ID {
			return register.Estimate{Warp: register.Identity, Correlation: 1}, nil
		}
		f := byShot[shot]
		if f == nil {
			return register.Estimate{}, fmt.Errorf("capture: %s was not taken", shot)
		}
		g, err := c.gated(ctx, f)
		if err != nil {
			return register.Estimate{}, err
		}
		if g != nil {
			if g.ref == refFrame {
				if g.regErr != nil {
					return register.Estimate{}, fmt.Errorf("capture: registering %s: %w", shot, g.regErr)
				}
				return g.est, nil
			}
		}
		c.mu.Lock()
		l := c.late[f]
		if l == nil || l.ref != refFrame {
			l = &late{ref: refFrame}
			c.late[f] = l
		}
		c.mu.Unlock()
		l.once.Do(func() {
			rg, err := register.New(refFrame, register.Config{})
			if err != nil {
				l.err = err
				return
			}
			defer rg.Close()
			l.est, l.err = rg.Estimate(ctx, f.Image)
		})
		if l.err != nil {
			return register.Estimate{}, fmt.Errorf("capture: registering %s: %w", shot, l.err)
		}
		return l.est, nil
	}, nil
}

// late is a band registered after the fact, to a reference retaken since
// the band was.
type late struct {
	once sync.Once
	ref  *camera.Frame
	est  register.Estimate
	err  error
}

// develop makes the derivatives from the accepted frames, emitting each,
// while the gates and registrations are collected into res: the
// derivatives whose bands are ready start before the last band's checks
// end. Timing.Enhance is the time derive took beyond them.
func (c *Capture) develop(ctx context.Context, res *Result, emit func(Made) error) error {
	reg, err := c.registrations(ctx, res.Accepted)
	if err != nil {
		return err
	}
	var aerr error
	analysed := make(chan time.Time, 1)
	go func() {
		aerr = c.analyse(ctx, res)
		analysed <- c.clk.Now()
	}()
	derr := c.derive(ctx, res.Accepted, reg, emit)
	t1 := <-analysed
	res.Timing.Enhance = max(0, c.clk.Now().Sub(t1))
	if aerr != nil {
		return aerr
	}
	return derr
}

// begin starts a Result for Develop or Finish: the pictures recorded and
// the timings of the shots so far. It fails unless every shot was taken.
func (c *Capture) begin() (*Result, error) {
	res := c.res
	res.Pictures, res.Timing.Settle, res.Timing.Exposure, res.Timing.Capture = nil, 0, 0, 0
	for _, f := range c.s.Frames() {
		res.Timing.Settle += f.Settle
		exp := min(f.Applied.Exposure, f.Expose)
		res.Timing.Exposure += exp
		res.Timing.Capture += f.Expose - exp
		if ex, ok := c.set.Picture(f); ok {
			res.Pictures = append(res.Pictures, ex)
		}
	}
	res.Timing.Keep = c.keep
	res.Accepted = c.s.Accepted()
	if len(res.Accepted) != len(c.shots) {
		return res, fmt.Errorf("capture: %d of %d shots taken; take the rest before finishing", len(res.Accepted), len(c.shots))
	}
	return res, nil
}

// Develop registers the bands and makes the derivatives in memory, without
// recording anything, for the photographer to look at before sealing.
// Every shot must have been taken. A later Finish records what Develop
// made, unless a shot was retaken in between.
func (c *Capture) Develop(ctx context.Context) (*Developed, error) {
	c.dev = nil
	res, err := c.begin()
	if err != nil {
		return nil, err
	}
	var (
		mu   sync.Mutex
		made []Made
	)
	err = c.develop(ctx, res, func(m Made) error {
		mu.Lock()
		made = append(made, m)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	sortMade(made)
	d := &Developed{Accepted: res.Accepted, Findings: map[string][]quality.Finding{}, Registration: map[string]register.Estimate{}, Derivatives: made}
	for k, v := range res.Findings {
		d.Findings[k] = v
	}
	for k, v := range res.Registration {
		d.Registration[k] = v
	}
	c.dev = d
	return d, nil
}

// current reports whether d was developed from the frames accepted now.
func (c *Capture) current(d *Developed) bool {
	if d == nil {
		return false
	}
	acc := c.s.Accepted()
	if len(acc) != len(d.Accepted) {
		return false
	}
	for i := range acc {
		if acc[i] != d.Accepted[i] {
			return false
		}
	}
	return true
}

// Finish registers the bands to the reference shot, records the
// derivatives and seals the set. Every shot must have been taken. What
// Develop made from the same frames is recorded as it is, not made again.
func (c *Capture) Finish(ctx context.Context) (*Result, error) {
	res, err := c.begin()
	if err != nil {
		return res, err
	}
	var (
		mu   sync.Mutex
		ders []Derivative
	)
	record := func(m Made) error {
		d, err := c.record(ctx, m)
		if err != nil {
			return err
		}
		mu.Lock()
		ders = append(ders, d)
		mu.Unlock()
		return nil
	}
	if d := c.dev; c.current(d) {
		te := c.clk.Now()
		for k, v := range d.Findings {
			res.Findings[k] = v
		}
		for k, v := range d.Registration {
			res.Registration[k] = v
		}
		for _, m := range d.Derivatives {
			if err = record(m); err != nil {
				break
			}
		}
		res.Timing.Enhance = c.clk.Now().Sub(te)
	} else {
		err = c.develop(ctx, res, record)
	}
	sortDerivatives(ders)
	res.Derivatives = ders
	if err != nil {
		return res, err
	}

	t2 := c.clk.Now()
	rec, err := c.set.Seal(ctx, res.Accepted)
	if err != nil {
		return res, err
	}
	c.dev = nil
	res.Sealed = rec
	res.Timing.Seal += c.clk.Now().Sub(t2)
	res.Timing.Total = c.clk.Now().Sub(c.start)
	return res, nil
}

// Advice is one sentence for the photographer about an error from Shoot,
// Retake, Finish or Run: what happened and what to do. A shot's error is
// its session.ShotError.Advice; a full disk (errors.Is(err,
// syscall.ENOSPC), whether the blob store or the record store filled) is
// named as such, since only freeing space helps.
func Advice(err error) string {
	const kept = "The pictures already taken are kept."
	var se *session.ShotError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &se):
		return se.Advice()
	case errors.Is(err, context.Canceled):
		return "Capture stopped. " + kept
	case errors.Is(err, syscall.ENOSPC):
		return "The kiosk's storage is full, so the set could not be sealed. " + kept + " Ask the supervisor to free space, then seal again."
	}
	return "The set could not be sealed just now. " + kept + " Try again; if it happens again, call the supervisor."
}

// Run takes the capture and seals it: Begin, Shoot, Finish. On an error the
// pictures already recorded stay recorded (and the set unsealed); the error
// is a *session.ShotError when a shot failed.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	c, err := Begin(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := c.Shoot(ctx); err != nil {
		res := c.res
		for _, f := range c.s.Frames() {
			if ex, ok := c.set.Picture(f); ok {
				res.Pictures = append(res.Pictures, ex)
			}
		}
		res.Timing.Total = c.clk.Now().Sub(c.start)
		return res, err
	}
	return c.Finish(ctx)
}
