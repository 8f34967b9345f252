package bench

import (
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/exhibit-forensics/exhibit/api/web/webtest"
)

// TestBrowserBench walks a technician's morning in Debian's chromium: sign
// in, receive a kit, scan it from the list (a wedge scanner's burst of
// keys ending in Enter, with no field focused), open its seal, split it,
// hand bottle A over to a colleague who types their own password, and
// photographs each page into the test's artefacts.
func TestBrowserBench(t *testing.T) {
	webtest.Chromium(t)
	f := newFixture(t)
	srv := httptest.NewServer(f.b)
	t.Cleanup(srv.Close)
	dir := webtest.Artefacts(t, "bench")
	ctx := webtest.Browser(t, 1280, 900, 2*time.Minute)

	webtest.Do(t, ctx, "sign in",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#user")),
		chromedp.SendKeys(chromedp.CSS("#user"), "atech"),
		chromedp.SendKeys(chromedp.CSS("#password"), password("atech")),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#no-samples")),
	)
	webtest.Shoot(t, ctx, dir, "01-empty.png")
	webtest.Do(t, ctx, "receive a kit",
		chromedp.Click(chromedp.CSS("#nav-intake")),
		chromedp.WaitVisible(chromedp.CSS("#kit")),
		chromedp.SendKeys(chromedp.CSS("#kit"), "K000417"),
		chromedp.SendKeys(chromedp.CSS("#case"), "01/900/26"),
		chromedp.SendKeys(chromedp.CSS("#seals"), "S-1 S-2"),
		chromedp.SetValue(chromedp.CSS("#collected"), "2026-12-05T19:00"),
		chromedp.SetValue(chromedp.CSS("#incident"), "2026-12-04T23:00"),
		chromedp.SendKeys(chromedp.CSS("#volume"), "80"),
	)
	webtest.Shoot(t, ctx, dir, "02-intake.png")
	webtest.TouchTargets(t, ctx, "intake page")
	webtest.Do(t, ctx, "submit", chromedp.Click(chromedp.CSS("#receive")), chromedp.WaitVisible(chromedp.CSS("#sample-ref")))
	if got := webtest.Text(t, ctx, "#warnings"); !strings.Contains(got, "ghb") {
		t.Errorf("warnings %q", got)
	}
	webtest.Shoot(t, ctx, dir, "03-received.png")

	// A wedge scanner's burst: the keys are dispatched by one script, so
	// that they come as fast as a scanner's whatever the load on the
	// machine (typed through the browser's input one round trip a key,
	// they can come slower than the 80 ms a burst allows between keys).
	webtest.Do(t, ctx, "back to the list, then scan the kit",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#samples")),
		chromedp.Evaluate[chromedp.Void](`'K000417'.split('').concat(['Enter']).forEach(function (k) {
			document.body.dispatchEvent(new KeyboardEvent('keydown', {key: k, bubbles: true}));
		})`),
		chromedp.WaitVisible(chromedp.CSS("#sample-ref")),
	)
	if got := webtest.Text(t, ctx, "#sample-ref"); got != "Sample LB/1" {
		t.Errorf("scan landed on %q", got)
	}
	// The serial scanner reads the kit while the list is open: the page
	// goes to the sample by itself.
	webtest.Do(t, ctx, "back to the list", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#samples")))
	f.b.Scanned(ctx, "K000417")
	webtest.Do(t, ctx, "a serial scan moves the page", chromedp.WaitVisible(chromedp.CSS("#sample-ref")))
	webtest.Do(t, ctx, "open the seal",
		chromedp.SendKeys(chromedp.CSS("#open-seal"), "S-1"),
		chromedp.SendKeys(chromedp.CSS("#open-reason"), "split into A and B"),
		chromedp.Click(chromedp.CSS("#do-open")),
		chromedp.WaitVisible(chromedp.CSS("#form-split")),
	)
	webtest.Do(t, ctx, "split",
		chromedp.SendKeys(chromedp.CSS("#volume_A"), "50"),
		chromedp.SendKeys(chromedp.CSS("#seal_A"), "S-10"),
		chromedp.SendKeys(chromedp.CSS("#volume_B"), "25"),
		chromedp.SendKeys(chromedp.CSS("#seal_B"), "S-11"),
		chromedp.SendKeys(chromedp.CSS("#storage"), "fridge 2, shelf B"),
		chromedp.Click(chromedp.CSS("#do-split")),
		chromedp.WaitVisible(chromedp.CSS("#aliquots")),
	)
	webtest.Do(t, ctx, "hand bottle A over",
		chromedp.Click(chromedp.CSS("#d-handover summary")),
		chromedp.SetValue(chromedp.CSS("#ho-target"), "LB/2"),
		chromedp.SendKeys(chromedp.CSS("#from_password"), password("atech")),
		chromedp.SendKeys(chromedp.CSS("#to"), "bauth"),
		chromedp.SendKeys(chromedp.CSS("#to_password"), password("bauth")),
		chromedp.SendKeys(chromedp.CSS("#ho-reason"), "to the analyser room"),
		chromedp.Click(chromedp.CSS("#do-handover")),
		chromedp.WaitVisible(chromedp.CSS("#timeline tr.ev-transferred")),
	)
	if got := webtest.Text(t, ctx, "#timeline"); !strings.Contains(got, "handed over from Alex Turing to Bea Okoro") || !strings.Contains(got, "split off") {
		t.Errorf("timeline %q", got)
	}
	webtest.Shoot(t, ctx, dir, "04-custody.png")
	webtest.TouchTargets(t, ctx, "sample page")

	// Bottle A's LC-MS/MS run, with both GHB controls, arrives: the
	// sample's page shows the result, its meaning and its run's QC; the
	// QC and trends pages chart them.
	f.b.cfg.Setup = labSetup
	captureRun(t, f.ledger, "run1.csv", [2]string{"QC-GHB-L1", "5.1"}, [2]string{"QC-GHB-L2", "21.2"}, [2]string{"LB/2", "45.0"})
	webtest.Do(t, ctx, "the results", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#results")))
	if got := webtest.Text(t, ctx, "#results"); !strings.Contains(got, "confirmed positive") || !strings.Contains(got, "accept") {
		t.Errorf("results %q", got)
	}
	webtest.Do(t, ctx, "scroll to the results", chromedp.ScrollIntoView(chromedp.CSS("#results-panel")))
	webtest.Shoot(t, ctx, dir, "05-results.png")
	webtest.Do(t, ctx, "the QC page", chromedp.Click(chromedp.CSS("#nav-qc")), chromedp.WaitVisible(chromedp.CSS(".chart svg")))
	webtest.Shoot(t, ctx, dir, "06-qc.png")
	webtest.Do(t, ctx, "the trends page", chromedp.Click(chromedp.CSS("#nav-trends")), chromedp.WaitVisible(chromedp.CSS("#trends-chart svg")))
	webtest.Shoot(t, ctx, dir, "07-trends.png")
}

// TestBrowserLive: results stored while a sample's page is open appear on
// it without a reload (the page polls GET /live and puts its live parts in
// place), and so does the analysers' state in the strip on every page.
func TestBrowserLive(t *testing.T) {
	webtest.Chromium(t)
	f := newFixture(t)
	f.b.cfg.Setup = labSetup
	link := Link{Name: "screen-1", Over: "serial", State: "waiting for the analyser", Since: time.Now()}
	var mu sync.Mutex
	f.b.cfg.Links = func() []Link { mu.Lock(); defer mu.Unlock(); return []Link{link} }
	c := webtest.NewClient(t, f.b)
	c.Login("atech", password("atech"), "/")
	c.Post("/intake", "kit", "K1", "case", "01/900/26", "seals", "S-1", "collected", "2026-12-05T02:00:00Z")
	c.Post("/sample/LB/1", "step", "open", "seal", "S-1", "reason", "split")
	c.Post("/sample/LB/1", "step", "split", "volume_A", "40", "seal_A", "S-2", "volume_B", "20", "seal_B", "S-3")
	srv := httptest.NewServer(f.b)
	t.Cleanup(srv.Close)
	ctx := webtest.Browser(t, 1280, 900, 2*time.Minute)
	webtest.Do(t, ctx, "sign in",
		chromedp.Navigate(srv.URL+"/sample/LB/1"),
		chromedp.WaitVisible(chromedp.CSS("#user")),
		chromedp.SendKeys(chromedp.CSS("#user"), "atech"),
		chromedp.SendKeys(chromedp.CSS("#password"), password("atech")),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#results-problem")),
	)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.exhibitMark = true`)); err != nil {
		t.Fatal(err)
	}
	captureRun(t, f.ledger, "run1.csv", [2]string{"QC-GHB-L1", "5.1"}, [2]string{"QC-GHB-L2", "19.7"}, [2]string{"LB/2", "45.0"})
	webtest.Do(t, ctx, "the result appears", chromedp.WaitVisible(chromedp.CSS("#results")))
	mu.Lock()
	link.Up, link.State = true, "line open"
	mu.Unlock()
	webtest.Do(t, ctx, "the link comes up", chromedp.WaitVisible(chromedp.CSS("#links li.up")))
	if mark, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.exhibitMark === true`)); err != nil || !mark {
		t.Fatalf("the page was reloaded (mark %v, %v)", mark, err)
	}
	if got := webtest.Text(t, ctx, "#results"); !strings.Contains(got, "confirmed positive") {
		t.Errorf("results %q", got)
	}
}
