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
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/imaging/profile"
	"github.com/exhibit-forensics/exhibit/imaging/register"
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
	Register time.Duration
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
	Sealed       *chain.Record
	Timing       Timing
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

// Run takes the capture and seals it. On an error the pictures already
// recorded stay recorded (and the set unsealed); the error is a
// *session.ShotError when a shot failed.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	clk := cfg.Clock
	if clk == nil {
		clk = clock.System
	}
	start := clk.Now()
	p := cfg.Profile
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	ref, ok := p.Reference()
	if !ok {
		return nil, fmt.Errorf("capture: profile %s has no reference shot", p.ID())
	}
	shots, err := Shots(p, cfg.Optional)
	if err != nil {
		return nil, err
	}
	res := &Result{Registration: map[string]register.Estimate{}}
	req := cfg.Set
	req.Profile, req.Plan, req.PlanName = p.ID(), profile.Format(p), p.Name+".v"+fmt.Sprint(p.Version)+profile.FileExt

	t0 := clk.Now()
	set, err := seal.Begin(ctx, cfg.Ledger, req)
	if err != nil {
		return nil, err
	}
	res.Set = set.Exhibit
	res.Timing.Seal += clk.Now().Sub(t0)

	var keep time.Duration
	s, err := session.New(session.Config{Light: cfg.Light, Camera: cfg.Camera, Clock: clk, OnProgress: cfg.OnProgress,
		Keep: func(ctx context.Context, f *session.Frame) error {
			t := clk.Now()
			err := set.Keep(ctx, f)
			keep += clk.Now().Sub(t)
			return err
		}})
	if err != nil {
		return nil, err
	}
	runErr := s.Run(ctx, shots)
	for _, f := range s.Frames() {
		res.Timing.Settle += f.Settle
		exp := min(f.Applied.Exposure, f.Expose)
		res.Timing.Exposure += exp
		res.Timing.Capture += f.Expose - exp
		if ex, ok := set.Picture(f); ok {
			res.Pictures = append(res.Pictures, ex)
		}
	}
	res.Timing.Keep = keep
	if runErr != nil {
		res.Timing.Total = clk.Now().Sub(start)
		return res, runErr
	}
	res.Accepted = s.Accepted()

	// Register every band but the locator to the reference shot.
	t1 := clk.Now()
	var refFrame *camera.Frame
	var bands []*session.Frame
	for _, f := range res.Accepted {
		switch f.Shot.ID {
		case ref.ID:
			refFrame = f.Image
		case profile.LocatorID:
		default:
			bands = append(bands, f)
		}
	}
	if refFrame == nil {
		return res, errors.New("capture: the reference shot was not taken")
	}
	imgs := make([]*camera.Frame, len(bands))
	for i, f := range bands {
		imgs[i] = f.Image
	}
	regs, err := register.Bands(ctx, refFrame, imgs, register.Config{})
	if err != nil {
		res.Timing.Total = clk.Now().Sub(start)
		return res, fmt.Errorf("capture: %w", err)
	}
	res.Registration[ref.ID] = register.Estimate{Warp: register.Identity, Correlation: 1}
	for i, f := range bands {
		res.Registration[f.Shot.ID] = regs[i].Estimate
	}
	res.Timing.Register = clk.Now().Sub(t1)

	t2 := clk.Now()
	rec, err := set.Seal(ctx, res.Accepted)
	if err != nil {
		res.Timing.Total = clk.Now().Sub(start)
		return res, err
	}
	res.Sealed = rec
	res.Timing.Seal += clk.Now().Sub(t2)
	res.Timing.Total = clk.Now().Sub(start)
	return res, nil
}
