package kiosk

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/exhibit-forensics/exhibit/chain"
)

// chromium returns the browser the browser tests drive, or skips.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Skip("chromium is not installed (scripts/setup installs Debian's): skipping the browser test")
	return ""
}

// artefacts is where screenshots go: $EXHIBIT_ARTEFACTS/kiosk when that is
// set (kept after the test), else a temporary directory.
func artefacts(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if d := os.Getenv("EXHIBIT_ARTEFACTS"); d != "" {
		dir = filepath.Join(d, "kiosk")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// browser starts a headless chromium at the given window size.
func browser(t *testing.T, w, h int) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.WindowSize(w, h),
		// Tests run as root in CI, where chromium's sandbox cannot start.
		chromedp.NoSandbox,
	)
	// The deadline only stops a hung browser from hanging the test run; no
	// assertion depends on time.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(ctx)
	t.Cleanup(cancelTab)
	return ctx
}

func shoot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	// From the top, so that the side panel (sticky on a real screen) is
	// where the photographer sees it.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.scrollTo(0, 0); true`)); err != nil {
		t.Fatalf("scroll: %v", err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// touchTargets fails unless every visible control on the page (the body
// map's regions included) is at least 48 CSS pixels each way.
func touchTargets(t *testing.T, ctx context.Context, where string) {
	t.Helper()
	small, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(
		'input:not([type=hidden]), button, select, textarea, a'))
		.filter(e => { const r = e.getBoundingClientRect(); return r.width < 48 || r.height < 48 })
		.map(e => { const r = e.getBoundingClientRect(); return (e.id || e.textContent.trim()) + ' ' + r.width + 'x' + r.height })`))
	if err != nil {
		t.Fatalf("%s: measuring controls: %v", where, err)
	}
	if len(small) > 0 {
		t.Errorf("%s: controls smaller than 48 px: %v", where, small)
	}
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestBrowserJourney walks the photographer's whole journey in chromium
// against the simulated rig with the real drivers: sign in, a new case,
// consent, the body map, the injury-quick profile, capture (with a reload
// while it runs), a retake with a reason, seal; then checks that the data
// directory holds the sealed set.
func TestBrowserJourney(t *testing.T) {
	chromium(t)
	f := newFixture(t)
	gc := f.gate()
	srv := httptest.NewServer(f.k)
	t.Cleanup(srv.Close)
	dir := artefacts(t)
	ctx := browser(t, 1280, 900)
	const caseRef = "01/424242/26"

	do(t, ctx, "sign in",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#user")),
		chromedp.SendKeys(chromedp.CSS("#user"), "jsmith"),
		chromedp.SendKeys(chromedp.CSS("#password"), password("jsmith")),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#new_case")),
	)
	if got := text(t, ctx, "#status-camera"); !strings.Contains(got, "Camera") {
		t.Errorf("camera status %q", got)
	}
	shoot(t, ctx, dir, "01-case.png")
	touchTargets(t, ctx, "case page")

	do(t, ctx, "new case",
		chromedp.SendKeys(chromedp.CSS("#new_case"), caseRef),
		chromedp.Click(chromedp.CSS("#case-continue")),
		chromedp.WaitVisible(chromedp.CSS("#photos-yes")),
	)
	do(t, ctx, "consent",
		chromedp.Click(chromedp.CSS("#photos-yes")),
		chromedp.Click(chromedp.CSS("#court-yes")),
		chromedp.Click(chromedp.CSS("#by-person")),
	)
	shoot(t, ctx, dir, "02-consent.png")
	touchTargets(t, ctx, "consent page")
	do(t, ctx, "record consent",
		chromedp.Click(chromedp.CSS("#consent-continue")),
		chromedp.WaitVisible(chromedp.CSS("#region-f-l-forearm")),
	)
	do(t, ctx, "body site",
		chromedp.Click(chromedp.CSS("#region-f-l-forearm")),
		chromedp.WaitVisible(chromedp.CSS("#chosen")),
		chromedp.SendKeys(chromedp.CSS("#refine"), "outer side, near the wrist"),
	)
	if got := text(t, ctx, "#chosen"); !strings.Contains(got, "left forearm (front)") {
		t.Errorf("chosen %q", got)
	}
	shoot(t, ctx, dir, "03-site.png")
	touchTargets(t, ctx, "body site page")
	do(t, ctx, "to the profiles",
		chromedp.Click(chromedp.CSS("#site-continue")),
		chromedp.WaitVisible(chromedp.CSS("#profile-injury-quick")),
	)
	shoot(t, ctx, dir, "04-profile.png")
	touchTargets(t, ctx, "profile page")
	do(t, ctx, "choose injury-quick",
		chromedp.Click(chromedp.CSS("#profile-injury-quick")),
		chromedp.WaitVisible(chromedp.CSS("#start-capture")),
	)
	shoot(t, ctx, dir, "05-ready.png")
	touchTargets(t, ctx, "ready page")

	// The first picture is taken; the camera's gate holds the second, so
	// the capture is certainly running when the page is reloaded.
	do(t, ctx, "start the capture",
		chromedp.Click(chromedp.CSS("#start-capture")),
		chromedp.WaitVisible(chromedp.CSS("#capture-running")),
		chromedp.WaitVisible(chromedp.CSS("#progress li.step-done")),
	)
	shoot(t, ctx, dir, "06-capturing.png")
	do(t, ctx, "reload mid-capture",
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS("#progress li.step-done")),
	)
	if got := text(t, ctx, "#progress-count"); got != "1 of 3 pictures taken" {
		t.Errorf("after the reload: %q", got)
	}
	do(t, ctx, "open the kiosk again from its address",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#capture-running")),
	)
	shoot(t, ctx, dir, "07-capturing-after-reload.png")
	close(gc.gate)
	do(t, ctx, "the page moves on to the review by itself", chromedp.WaitVisible(chromedp.CSS("#review")))
	do(t, ctx, "thumbnails load", chromedp.WaitVisible(chromedp.CSS("#band-450-orange img")))
	shoot(t, ctx, dir, "08-review.png")
	touchTargets(t, ctx, "review page")

	do(t, ctx, "retake the violet picture",
		chromedp.SendKeys(chromedp.CSS("#reason-415-yellow"), "blurred: she moved"),
		chromedp.Click(chromedp.CSS("#retake-415-yellow")),
		chromedp.WaitVisible(chromedp.CSS("#aside-415-yellow-1")),
	)
	if got := text(t, ctx, "#aside-415-yellow-1"); !strings.Contains(got, "Set aside: blurred: she moved") {
		t.Errorf("set-aside frame says %q", got)
	}
	if got := text(t, ctx, "#band-415-yellow"); !strings.Contains(got, "Retake 2") {
		t.Errorf("retaken band says %q", got)
	}
	shoot(t, ctx, dir, "09-after-retake.png")

	do(t, ctx, "seal", chromedp.Click(chromedp.CSS("#seal")), chromedp.WaitVisible(chromedp.CSS("#sealed")))
	setRef := text(t, ctx, "#set-ref")
	shoot(t, ctx, dir, "10-sealed.png")
	touchTargets(t, ctx, "done page")

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
	chromium(t)
	f := newFixture(t)
	f.rig.Light.SetInterlock(true)
	srv := httptest.NewServer(f.k)
	t.Cleanup(srv.Close)
	dir := artefacts(t)
	ctx := browser(t, 1280, 900)
	signIn := func(user string) {
		t.Helper()
		do(t, ctx, "sign in as "+user,
			chromedp.Navigate(srv.URL+"/"),
			chromedp.WaitVisible(chromedp.CSS("#user")),
			chromedp.SendKeys(chromedp.CSS("#user"), user),
			chromedp.SendKeys(chromedp.CSS("#password"), password(user)),
			chromedp.Click(chromedp.CSS("button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS("#new_case")),
		)
	}
	signIn("jsmith")
	do(t, ctx, "to the capture",
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
	do(t, ctx, "start",
		chromedp.Click(chromedp.CSS("#site-continue")),
		chromedp.WaitVisible(chromedp.CSS("#profile-injury-quick")),
		chromedp.Click(chromedp.CSS("#profile-injury-quick")),
		chromedp.WaitVisible(chromedp.CSS("#start-capture")),
		chromedp.Click(chromedp.CSS("#start-capture")),
		chromedp.WaitVisible(chromedp.CSS("#capture-paused")),
	)
	if got := text(t, ctx, "#advice"); !strings.Contains(got, "Close the enclosure and try again") {
		t.Errorf("advice %q", got)
	}
	do(t, ctx, "status shows the open cover",
		chromedp.WaitVisible(chromedp.CSS("#status-light.problem")))
	shoot(t, ctx, dir, "11-paused.png")
	touchTargets(t, ctx, "paused page")

	f.rig.Light.SetInterlock(false)
	do(t, ctx, "try again", chromedp.Click(chromedp.CSS("#try-again")), chromedp.WaitVisible(chromedp.CSS("#review")))
	shoot(t, ctx, dir, "12-resumed-review.png")

	// Another photographer's consent is refused.
	do(t, ctx, "sign out", chromedp.Click(chromedp.CSS("form.signout button")), chromedp.WaitVisible(chromedp.CSS("#user")))
	signIn("sup")
	do(t, ctx, "refuse",
		chromedp.SendKeys(chromedp.CSS("#new_case"), "01/97531/26"),
		chromedp.Click(chromedp.CSS("#case-continue")),
		chromedp.WaitVisible(chromedp.CSS("#photos-no")),
		chromedp.Click(chromedp.CSS("#photos-no")),
		chromedp.Click(chromedp.CSS("#by-parent")),
		chromedp.SendKeys(chromedp.CSS("#by_name"), "Ann Lee"),
		chromedp.Click(chromedp.CSS("#consent-continue")),
		chromedp.WaitVisible(chromedp.CSS("#refused")),
	)
	shoot(t, ctx, dir, "13-refused.png")
	touchTargets(t, ctx, "refused page")
}
