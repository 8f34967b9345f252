package capture_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/devices/camera/netcam"
	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/light/lightsim"
	"github.com/exhibit-forensics/exhibit/devices/rigsim"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/rigtest"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
	"github.com/exhibit-forensics/exhibit/imaging/capture"
	"github.com/exhibit-forensics/exhibit/imaging/profile"
	"github.com/exhibit-forensics/exhibit/imaging/seal"
)

// TestShots: optional shots are taken only when named, in profile order,
// and naming one the profile does not have is an error.
func TestShots(t *testing.T) {
	p, err := profile.Lookup("injury-standard@1")
	if err != nil {
		t.Fatal(err)
	}
	ids := func(optional ...string) string {
		shots, err := capture.Shots(p, optional)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range shots {
			out = append(out, s.ID)
		}
		return strings.Join(out, " ")
	}
	if got := ids(); got != "locator white-xpol 415-yellow 450-orange 850-irpass" {
		t.Errorf("default shots %q", got)
	}
	if got := ids("365-yellow"); got != "locator white-xpol 415-yellow 450-orange 850-irpass 365-yellow" {
		t.Errorf("with 365 %q", got)
	}
	if _, err := capture.Shots(p, []string{"999-nope"}); err == nil || !strings.Contains(err.Error(), "999-nope") {
		t.Errorf("unknown optional shot: %v", err)
	}
	if _, err := capture.Shots(p, []string{"415-yellow"}); err == nil {
		t.Error("a shot that is not optional named as optional was accepted")
	}
}

// TestCaptureAgainstRig: a step-by-step capture through the real drivers
// on the simulated rig — a shot refused (the interlock open) is resumed by
// Shoot once the enclosure is closed; every accepted frame has the quality
// gates' verdict; Finish registers and seals.
func TestCaptureAgainstRig(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rig := rigtest.Start(t, rigsim.Config{Seed: 5, Scene: scene.Config{Width: 800, Height: 600, Skin: 3},
		LightFaults: lightsim.Faults{InterlockOpen: true}}, netcam.Config{})
	r, ld, cam := rig.Sim, rig.Light, rig.Camera
	l, err := datadir.Init(ctx, t.TempDir(), "Jo Smith", "JS", datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p, err := profile.Lookup("injury-quick")
	if err != nil {
		t.Fatal(err)
	}
	c, err := capture.Begin(ctx, capture.Config{Ledger: l, Light: ld, Camera: cam, Profile: p,
		Set: seal.Request{Case: "C-1", Site: "left shin", Photographer: chain.Person{Name: "Jo Smith"}}})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Shoot(ctx)
	var ie *light.InterlockError
	if !errors.As(err, &ie) {
		t.Fatalf("with the enclosure open: %v", err)
	}
	if _, err := c.Finish(ctx); err == nil {
		t.Fatal("finished with shots missing")
	}
	r.Light.SetInterlock(false)
	if err := c.Shoot(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(c.Frames()); n != 3 {
		t.Fatalf("%d frames, want 3 (the refused shot taken once)", n)
	}
	res, err := c.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Accepted {
		fs := res.Findings[f.Shot.ID]
		if len(fs) < 4 {
			t.Errorf("%s: findings %v", f.Shot.ID, fs)
		}
		for _, fd := range fs {
			if fd.Message == "" {
				t.Errorf("%s: a finding without a message: %+v", f.Shot.ID, fd)
			}
		}
	}
	if res.Sealed == nil || len(res.Registration) != 3 {
		t.Fatalf("sealed %v, registration %v", res.Sealed, res.Registration)
	}
	if e := r.Light.Emission(); e.On {
		t.Error("the light is still on")
	}
}

// TestDevelopThenFinish: Develop makes the enhanced view — derivatives and
// the bruise measured — and records nothing; a retake makes it stale, so
// Finish makes the derivatives again from the new frame; Finish after a
// fresh Develop records exactly the bytes Develop made.
func TestDevelopThenFinish(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	rig := rigtest.Start(t, rigsim.Config{Seed: 11, Scene: scene.Config{Width: 800, Height: 600, Skin: 2}}, netcam.Config{})
	l, err := datadir.Init(ctx, t.TempDir(), "Jo Smith", "JS", datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p, err := profile.Lookup("injury-standard")
	if err != nil {
		t.Fatal(err)
	}
	c, err := capture.Begin(ctx, capture.Config{Ledger: l, Light: rig.Light, Camera: rig.Camera, Profile: p,
		Set: seal.Request{Case: "C-1", Site: "left forearm", Photographer: chain.Person{Name: "Jo Smith"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Develop(ctx); err == nil {
		t.Fatal("developed before the shots were taken")
	}
	if err := c.Shoot(ctx); err != nil {
		t.Fatal(err)
	}
	size := func() uint64 {
		n, err := l.TreeSize(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := size()
	d, err := c.Develop(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := size(); n != before {
		t.Fatalf("Develop recorded %d records", n-before)
	}
	kinds := map[string]int{}
	for _, m := range d.Derivatives {
		kinds[m.Kind]++
		if len(m.Body) == 0 || m.Recipe == nil || m.File == "" {
			t.Errorf("%s: incomplete: file %q, %d bytes, recipe %v", m.Kind, m.File, len(m.Body), m.Recipe != nil)
		}
		if m.Kind == "outline" && (m.Measurement == nil || len(m.Measurement.Bruises) == 0) {
			t.Errorf("the outline has no bruise measured: %+v", m.Measurement)
		}
	}
	if kinds["clahe"] != 2 || kinds["ratio"] != 1 || kinds["composite"] != 1 || kinds["outline"] != 1 {
		t.Fatalf("derivatives made: %v", kinds)
	}
	if len(d.Findings) != len(d.Accepted) || len(d.Registration) == 0 {
		t.Fatalf("findings %d for %d frames, registration %v", len(d.Findings), len(d.Accepted), d.Registration)
	}

	// A retake of the violet band: what was developed is stale.
	if _, err := c.Retake(ctx, "415-yellow", "blurred"); err != nil {
		t.Fatal(err)
	}
	d2, err := c.Develop(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stale := map[string]bool{}
	for _, m := range d.Derivatives {
		stale[chain.Sum(m.Body).Hex()] = true
	}
	want := map[string]string{}
	for _, m := range d2.Derivatives {
		h := chain.Sum(m.Body).Hex()
		want[m.File] = h
		if (m.Kind == "composite" || m.File == "clahe-415-yellow.png") && stale[h] {
			t.Errorf("%s: made from the frame set aside", m.File)
		}
	}
	res, err := c.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sealed == nil || len(res.Derivatives) != len(d2.Derivatives) {
		t.Fatalf("sealed %v with %d derivatives, developed %d", res.Sealed != nil, len(res.Derivatives), len(d2.Derivatives))
	}
	for _, dv := range res.Derivatives {
		b := dv.Exhibit.Blobs[0]
		if want[b.Name] != b.Hash.Hex() {
			t.Errorf("%s recorded %s, developed %s", b.Name, b.Hash.Hex(), want[b.Name])
		}
	}
}
