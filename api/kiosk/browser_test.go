package kiosk

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/exhibit-forensics/exhibit/api/hub/agentsync"
	"github.com/exhibit-forensics/exhibit/api/web/webtest"
	"github.com/exhibit-forensics/exhibit/chain"
)

// TestBrowserJourney walks the photographer's whole journey in chromium
// against the simulated rig with the real drivers: sign in, a new case,
// consent, the body map, the injury-quick profile, capture (with a reload
// while it runs), a retake with a reason, seal; then checks that the data
// directory holds the sealed set.
func TestBrowserJourney(t *testing.T) {
	webtest.Chromium(t)
	f := newFixture(t)
	// Enrolled at a hub that has not been reached for a while: the panel
	// says so calmly (nothing is lost).
	f.k.cfg.Outbox = func() *agentsync.Status {
		return &agentsync.Status{Queue: 4, PendingBytes: 96e6, LastError: "dial tcp: connection refused", Failures: 3, LastAttempt: time.Now()}
	}
	gc := f.gate()
	srv := httptest.NewServer(f.k)
	t.Cleanup(srv.Close)
	dir := webtest.Artefacts(t, "kiosk")
	ctx := webtest.Browser(t, 1280, 900, 3*time.Minute)
	const caseRef = "01/424242/26"

	webtest.Do(t, ctx, "sign in",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#user")),
		chromedp.SendKeys(chromedp.CSS("#user"), "jsmith"),
		chromedp.SendKeys(chromedp.CSS("#password"), password("jsmith")),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#new_case")),
	)
	if got := webtest.Text(t, ctx, "#status-camera"); !strings.Contains(got, "Camera") {
		t.Errorf("camera status %q", got)
	}
	if got := webtest.Text(t, ctx, "#status-hub"); !strings.Contains(got, "4 items waiting to be sent") || !strings.Contains(got, "Kept safely here") {
		t.Errorf("hub status %q", got)
	}
	webtest.Shoot(t, ctx, dir, "01-case.png")
	webtest.TouchTargets(t, ctx, "case page")

	webtest.Do(t, ctx, "new case",
		chromedp.SendKeys(chromedp.CSS("#new_case"), caseRef),
		chromedp.Click(chromedp.CSS("#case-continue")),
		chromedp.WaitVisible(chromedp.CSS("#photos-yes")),
	)
	webtest.Do(t, ctx, "consent",
		chromedp.Click(chromedp.CSS("#photos-yes")),
		chromedp.Click(chromedp.CSS("#court-yes")),
		chromedp.Click(chromedp.CSS("#by-person")),
	)
	webtest.Shoot(t, ctx, dir, "02-consent.png")
	webtest.TouchTargets(t, ctx, "consent page")
	webtest.Do(t, ctx, "record consent",
		chromedp.Click(chromedp.CSS("#consent-continue")),
		chromedp.WaitVisible(chromedp.CSS("#region-f-l-forearm")),
	)
	webtest.Do(t, ctx, "body site",
		chromedp.Click(chromedp.CSS("#region-f-l-forearm")),
		chromedp.WaitVisible(chromedp.CSS("#chosen")),
		chromedp.SendKeys(chromedp.CSS("#refine"), "outer side, near the wrist"),
	)
	if got := webtest.Text(t, ctx, "#chosen"); !strings.Contains(got, "left forearm (front)") {
		t.Errorf("chosen %q", got)
	}
	webtest.Shoot(t, ctx, dir, "03-site.png")
	webtest.TouchTargets(t, ctx, "body site page")
	webtest.Do(t, ctx, "to the profiles",
		chromedp.Click(chromedp.CSS("#site-continue")),
		chromedp.WaitVisible(chromedp.CSS("#profile-injury-quick")),
	)
	webtest.Shoot(t, ctx, dir, "04-profile.png")
	webtest.TouchTargets(t, ctx, "profile page")
	webtest.Do(t, ctx, "choose injury-quick",
		chromedp.Click(chromedp.CSS("#profile-injury-quick")),
		chromedp.WaitVisible(chromedp.CSS("#start-capture")),
	)
	// The live view shows the camera's preview, relayed by the kiosk: the
	// 16:9 preview of this 640 × 480 sensor is 640 × 360.
	webtest.Do(t, ctx, "the live view shows",
		chromedp.Poll[chromedp.Void](`document.getElementById('preview-image').naturalWidth > 0`))
	if got, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[document.getElementById('preview-image').naturalWidth,
		document.getElementById('preview-image').naturalHeight]`)); err != nil || len(got) != 2 || got[0] != 640 || got[1] != 360 {
		t.Errorf("live view %v (%v), want 640x360", got, err)
	}
	if e := f.rig.Light.Emission(); !e.On {
		t.Error("the light is off during the live view")
	}
	webtest.Shoot(t, ctx, dir, "05-ready.png")
	webtest.TouchTargets(t, ctx, "ready page")

	// The first picture is taken; the camera's gate holds the second, so
	// the capture is certainly running when the page is reloaded.
	webtest.Do(t, ctx, "start the capture",
		chromedp.Click(chromedp.CSS("#start-capture")),
		chromedp.WaitVisible(chromedp.CSS("#capture-running")),
		chromedp.WaitVisible(chromedp.CSS("#progress li.step-done")),
	)
	webtest.Shoot(t, ctx, dir, "06-capturing.png")
	webtest.Do(t, ctx, "reload mid-capture",
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS("#progress li.step-done")),
	)
	if got := webtest.Text(t, ctx, "#progress-count"); got != "1 of 3 pictures taken" {
		t.Errorf("after the reload: %q", got)
	}
	webtest.Do(t, ctx, "open the kiosk again from its address",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#capture-running")),
	)
	webtest.Shoot(t, ctx, dir, "07-capturing-after-reload.png")
	close(gc.gate)
	webtest.Do(t, ctx, "the page moves on to the review by itself", chromedp.WaitVisible(chromedp.CSS("#review")))
	webtest.Do(t, ctx, "thumbnails load", chromedp.WaitVisible(chromedp.CSS("#band-450-orange img")))
	webtest.Shoot(t, ctx, dir, "08-review.png")
	// Every band shows what the quality gates found.
	checks, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[document.querySelectorAll('.review:not(.aside) figure.band').length,
		document.querySelectorAll('.review:not(.aside) [id^=checks-]').length]`))
	if err != nil || checks[0] == 0 || checks[0] != checks[1] {
		t.Errorf("review: %v bands and gate results (%v)", checks, err)
	}
	webtest.TouchTargets(t, ctx, "review page")
	// The enhanced view, with the bruise measured on the outline, before
	// anything is sealed.
	webtest.Do(t, ctx, "the enhanced view shows the measurement",
		chromedp.WaitVisible(chromedp.CSS("#measurement")),
		chromedp.ScrollIntoView(chromedp.CSS("#enhanced")),
	)
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`Array.from(document.querySelectorAll('.enhanced img')).map(i => i.complete ? i.naturalWidth : -1)`))
	if err != nil || len(loaded) != 4 {
		t.Errorf("enhanced view: pictures %v (%v), want 4", loaded, err)
	}
	for _, w := range loaded {
		if w <= 0 {
			t.Errorf("an enhanced picture did not load: %v", loaded)
			break
		}
	}
	if got := webtest.Text(t, ctx, "#measurement"); !strings.Contains(got, "mm²") {
		t.Errorf("measurement says %q", got)
	}
	webtest.Shoot(t, ctx, dir, "08b-enhanced.png")

	webtest.Do(t, ctx, "retake the violet picture",
		chromedp.SendKeys(chromedp.CSS("#reason-415-yellow"), "blurred: she moved"),
		chromedp.Click(chromedp.CSS("#retake-415-yellow")),
		chromedp.WaitVisible(chromedp.CSS("#aside-415-yellow-1")),
	)
	if got := webtest.Text(t, ctx, "#aside-415-yellow-1"); !strings.Contains(got, "Set aside: blurred: she moved") {
		t.Errorf("set-aside frame says %q", got)
	}
	if got := webtest.Text(t, ctx, "#band-415-yellow"); !strings.Contains(got, "Retake 2") {
		t.Errorf("retaken band says %q", got)
	}
	webtest.Do(t, ctx, "the enhanced view is made again", chromedp.WaitVisible(chromedp.CSS("#measurement")))
	webtest.Shoot(t, ctx, dir, "09-after-retake.png")

	webtest.Do(t, ctx, "seal", chromedp.Click(chromedp.CSS("#seal")), chromedp.WaitVisible(chromedp.CSS("#sealed")))
	setRef := webtest.Text(t, ctx, "#set-ref")
	webtest.Shoot(t, ctx, dir, "10-sealed.png")
	webtest.TouchTargets(t, ctx, "done page")

	// The data directory holds the sealed set: one image set and four
	// pictures (three shots and the retake), the set's last record sealed.
	exs, err := f.ledger.Exhibits(context.Background(), caseRef)
	if err != nil {
		t.Fatal(err)
	}
	var set, pictures, derived int
	for _, ex := range exs {
		switch ex.Kind {
		case "image-set":
			set++
			if ex.Ref != setRef {
				t.Errorf("set %s, page says %s", ex.Ref, setRef)
			}
			recs, err := f.ledger.ChainRecords(context.Background(), ex.ID)
			if err != nil {
				t.Fatal(err)
			}
			last, err := recs[len(recs)-1].Decode()
			if err != nil {
				t.Fatal(err)
			}
			if last.Kind != chain.KindSealed {
				t.Errorf("the set's last record is %s", last.Kind)
			}
			if got := last.Statement.Predicate.Members; len(got) != 3 {
				t.Errorf("sealed with %d members", len(got))
			}
		case "image":
			if ex.DerivedFrom != "" {
				derived++
			} else {
				pictures++
			}
		}
	}
	// Four pictures (three shots, one retaken) and the derivatives the
	// capture makes of injury-quick's bands (CLAHE of 415 and 450, the
	// composite, the bruise outline).
	if set != 1 || pictures != 4 || derived != 4 {
		t.Errorf("case holds %d sets, %d pictures and %d derivatives, want 1, 4 and 4", set, pictures, derived)
	}
}

// TestBrowserPausedAndRefused shows the two calm stops: a capture paused by
// the open safety cover, with its advice, resumed by Try again once the
// cover is closed; and a refusal of photographs.
func TestBrowserPausedAndRefused(t *testing.T) {
	webtest.Chromium(t)
	f := newFixture(t)
	f.rig.Light.SetInterlock(true)
	srv := httptest.NewServer(f.k)
	t.Cleanup(srv.Close)
	dir := webtest.Artefacts(t, "kiosk")
	ctx := webtest.Browser(t, 1280, 900, 3*time.Minute)
	signIn := func(user string) {
		t.Helper()
		webtest.Do(t, ctx, "sign in as "+user,
			chromedp.Navigate(srv.URL+"/"),
			chromedp.WaitVisible(chromedp.CSS("#user")),
			chromedp.SendKeys(chromedp.CSS("#user"), user),
			chromedp.SendKeys(chromedp.CSS("#password"), password(user)),
			chromedp.Click(chromedp.CSS("button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS("#new_case")),
		)
	}
	signIn("jsmith")
	webtest.Do(t, ctx, "to the capture",
		chromedp.SendKeys(chromedp.CSS("#new_case"), "01/135790/26"),
		chromedp.Click(chromedp.CSS("#case-continue")),
		chromedp.WaitVisible(chromedp.CSS("#photos-yes")),
		chromedp.Click(chromedp.CSS("#photos-yes")),
		chromedp.Click(chromedp.CSS("#court-no")),
		chromedp.Click(chromedp.CSS("#by-adult")),
		chromedp.SendKeys(chromedp.CSS("#by_name"), "Chris Park"),
		chromedp.Click(chromedp.CSS("#consent-continue")),
		chromedp.WaitVisible(chromedp.CSS("#region-b-buttocks")),
		chromedp.Click(chromedp.CSS("#region-b-buttocks")),
		chromedp.WaitVisible(chromedp.CSS("#chosen")),
	)
	checked, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('restricted').checked`))
	if err != nil || !checked {
		t.Errorf("an intimate area does not tick restricted: %v %v", checked, err)
	}
	webtest.Do(t, ctx, "start",
		chromedp.Click(chromedp.CSS("#site-continue")),
		chromedp.WaitVisible(chromedp.CSS("#profile-injury-quick")),
		chromedp.Click(chromedp.CSS("#profile-injury-quick")),
		chromedp.WaitVisible(chromedp.CSS("#start-capture")),
		chromedp.Click(chromedp.CSS("#start-capture")),
		chromedp.WaitVisible(chromedp.CSS("#capture-paused")),
	)
	if got := webtest.Text(t, ctx, "#advice"); !strings.Contains(got, "Close the enclosure and try again") {
		t.Errorf("advice %q", got)
	}
	webtest.Do(t, ctx, "status shows the open cover",
		chromedp.WaitVisible(chromedp.CSS("#status-light.problem")))
	webtest.Shoot(t, ctx, dir, "11-paused.png")
	webtest.TouchTargets(t, ctx, "paused page")

	f.rig.Light.SetInterlock(false)
	webtest.Do(t, ctx, "try again", chromedp.Click(chromedp.CSS("#try-again")), chromedp.WaitVisible(chromedp.CSS("#review")))
	webtest.Shoot(t, ctx, dir, "12-resumed-review.png")

	// Another photographer's consent is refused.
	webtest.Do(t, ctx, "sign out", chromedp.Click(chromedp.CSS("form.signout button")), chromedp.WaitVisible(chromedp.CSS("#user")))
	signIn("sup")
	webtest.Do(t, ctx, "refuse",
		chromedp.SendKeys(chromedp.CSS("#new_case"), "01/97531/26"),
		chromedp.Click(chromedp.CSS("#case-continue")),
		chromedp.WaitVisible(chromedp.CSS("#photos-no")),
		chromedp.Click(chromedp.CSS("#photos-no")),
		chromedp.Click(chromedp.CSS("#by-parent")),
		chromedp.SendKeys(chromedp.CSS("#by_name"), "Ann Lee"),
		chromedp.Click(chromedp.CSS("#consent-continue")),
		chromedp.WaitVisible(chromedp.CSS("#refused")),
	)
	webtest.Shoot(t, ctx, dir, "13-refused.png")
	webtest.TouchTargets(t, ctx, "refused page")
}
