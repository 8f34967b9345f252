// Package webtest drives Debian's chromium through chromedp for the browser
// tests of every web UI (api/web, api/kiosk, those to come): start a
// headless browser, act, read text, photograph the page into the test's
// artefacts, and check that every control is big enough to touch. A test
// is skipped, with the reason, where chromium is not installed.
package webtest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// MinTarget is the smallest a control may be, each way, in CSS pixels.
const MinTarget = 48

// Chromium returns the browser the tests drive, or skips the test.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Skip("chromium is not installed (scripts/setup installs Debian's): skipping the browser test")
	return ""
}

// Artefacts is where screenshots go: $EXHIBIT_ARTEFACTS/sub when that is
// set (kept after the test), else a temporary directory.
func Artefacts(t testing.TB, sub string) string {
	t.Helper()
	dir := t.TempDir()
	if d := os.Getenv("EXHIBIT_ARTEFACTS"); d != "" {
		dir = filepath.Join(d, sub)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Browser starts a headless chromium with a window of w × h. The deadline
// only stops a hung browser from hanging the test run; no assertion
// depends on time.
func Browser(t testing.TB, w, h int, deadline time.Duration) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Chromium(t)),
		chromedp.WindowSize(w, h),
		// Tests run as root in CI, where chromium's sandbox cannot start.
		chromedp.NoSandbox,
	)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(ctx)
	t.Cleanup(cancelTab)
	return ctx
}

// Shoot photographs the whole page, from the top, into dir/name.
func Shoot(t testing.TB, ctx context.Context, dir, name string) {
	t.Helper()
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

// Text returns the trimmed text of the element sel selects.
func Text(t testing.TB, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// TouchTargets fails the test unless every visible control on the page is
// at least MinTarget CSS pixels each way.
func TouchTargets(t testing.TB, ctx context.Context, where string) {
	t.Helper()
	small, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(
		'input:not([type=hidden]), button, select, textarea, a'))
		.filter(e => { const r = e.getBoundingClientRect(); return r.width < 48 || r.height < 48 })
		.map(e => { const r = e.getBoundingClientRect(); return (e.id || e.textContent.trim()) + ' ' + r.width + 'x' + r.height })`))
	if err != nil {
		t.Fatalf("%s: measuring controls: %v", where, err)
	}
	if len(small) > 0 {
		t.Errorf("%s: controls smaller than %d px: %v", where, MinTarget, small)
	}
}

// Do runs steps, failing the test with what on an error.
func Do(t testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
