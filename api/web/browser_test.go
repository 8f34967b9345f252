package web

import (
	"context"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
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

// artefacts is where screenshots go: $EXHIBIT_ARTEFACTS/api-web when that
// is set (kept after the test), else a temporary directory.
func artefacts(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if d := os.Getenv("EXHIBIT_ARTEFACTS"); d != "" {
		dir = filepath.Join(d, "api-web")
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
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(ctx)
	t.Cleanup(cancelTab)
	return ctx
}

func shoot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
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

// touchTargets fails unless every visible control on the page is at least
// 48 CSS pixels each way.
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

// sessionCookie fails unless chromium holds the session cookie with every
// attribute it was given.
func sessionCookie(t *testing.T, ctx context.Context) {
	t.Helper()
	cookies, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) ([]*network.Cookie, error) {
		r, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{})
		return r.Cookies, err
	})
	if err != nil {
		t.Fatal(err)
	}
	var sess *network.Cookie
	for _, c := range cookies {
		t.Logf("chromium holds cookie %s secure=%v httpOnly=%v sameSite=%v path=%s", c.Name, c.Secure, c.HTTPOnly, c.SameSite, c.Path)
		if c.Name == "__Host-exhibit-session" {
			sess = c
		}
	}
	if sess == nil || !sess.Secure || !sess.HTTPOnly || sess.SameSite != network.CookieSameSiteStrict || sess.Path != "/" {
		t.Fatalf("session cookie in chromium: %+v", sess)
	}
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestBrowser signs in through the real form in chromium on
// http://127.0.0.1, checks the cookie chromium kept, uses a form, and
// waits out the idle time-out on the fake clock.
func TestBrowser(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(f.s)
	t.Cleanup(srv.Close)
	dir := artefacts(t)
	ctx := browser(t, 1280, 800)

	do(t, ctx, "open the sign-in page", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#user")))
	shoot(t, ctx, dir, "login.png")
	touchTargets(t, ctx, "sign-in page")

	do(t, ctx, "sign in with a wrong password",
		chromedp.SendKeys(chromedp.CSS("#user"), "jsmith"),
		chromedp.SendKeys(chromedp.CSS("#password"), "not my password"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#login-error")),
	)
	if got := text(t, ctx, "#login-error"); got != msgMismatch {
		t.Fatalf("error shown: %q", got)
	}
	shoot(t, ctx, dir, "login-failed.png")

	// The user name is kept; only the password is typed again.
	do(t, ctx, "sign in",
		chromedp.SendKeys(chromedp.CSS("#password"), password("jsmith")),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("header .who")),
	)
	if got := text(t, ctx, "header .who"); !strings.Contains(got, "Jo Smith") || !strings.Contains(got, "photographer") {
		t.Fatalf("header says %q", got)
	}
	shoot(t, ctx, dir, "signed-in.png")
	touchTargets(t, ctx, "signed-in layout")

	// Chromium kept the Secure, __Host- cookie from plain http on loopback.
	sessionCookie(t, ctx)

	// A form with its hidden token goes through.
	do(t, ctx, "use a form", chromedp.Click(chromedp.CSS("#do")), chromedp.WaitVisible(chromedp.CSS("#done")))
	if got := text(t, ctx, "#done"); got != "done" {
		t.Fatalf("form post gave %q", got)
	}

	// A form whose token is not the session's is refused, and the page
	// says nothing was changed.
	do(t, ctx, "post a form with a wrong token",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.SetValue(chromedp.CSS("main form input[name=csrf_token]"), "not-the-token"),
		chromedp.Click(chromedp.CSS("#do")),
		chromedp.WaitVisible(chromedp.CSS(".message h1")),
	)
	if got := text(t, ctx, ".message h1"); got != "This form could not be accepted" {
		t.Fatalf("CSRF page heading %q", got)
	}
	shoot(t, ctx, dir, "csrf-refused.png")

	// A page for another role says so calmly.
	do(t, ctx, "open the lab bench", chromedp.Navigate(srv.URL+"/lab"), chromedp.WaitVisible(chromedp.CSS(".message h1")))
	if got := text(t, ctx, ".message h1"); got != "This page is not for your role" {
		t.Fatalf("403 page heading %q", got)
	}
	shoot(t, ctx, dir, "forbidden.png")

	// Five idle minutes on the server's clock, then any click lands on the
	// sign-in page with the reason.
	do(t, ctx, "go to the start", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("header .who")))
	f.clk.Advance(5 * time.Minute)
	do(t, ctx, "reload after the idle time-out", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#user")))
	if got := text(t, ctx, ".notice"); got != "You were signed out after 5 minutes without activity. Please sign in again." {
		t.Fatalf("notice %q", got)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.HasPrefix(loc, srv.URL+"/login") {
		t.Fatalf("at %q %v", loc, err)
	}
	if f.store.Len() != 0 {
		t.Fatal("session still stored after the time-out")
	}
	shoot(t, ctx, dir, "timed-out.png")
}

// TestBrowserLocalhost signs in at http://localhost, the other loopback
// name a kiosk may be opened at, on an upright tablet's screen: chromium
// keeps the Secure __Host- cookie there too.
func TestBrowserLocalhost(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(f.s)
	t.Cleanup(srv.Close)
	base := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	ctx := browser(t, 768, 1024) // a tablet held upright
	do(t, ctx, "sign in at "+base,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#user")),
		chromedp.SendKeys(chromedp.CSS("#user"), "amehta"),
		chromedp.SendKeys(chromedp.CSS("#password"), password("amehta")),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("header .who")),
	)
	sessionCookie(t, ctx)
	shoot(t, ctx, artefacts(t), "signed-in-portrait.png")
	touchTargets(t, ctx, "signed-in layout, portrait")
}

// TestBrowserPlainHTTPElsewhere serves plain http on this machine's first
// address that is not loopback: chromium drops the Secure cookies there, so
// nobody can sign in, and the page says what to do instead.
func TestBrowserPlainHTTPElsewhere(t *testing.T) {
	ip := externalIPv4(t)
	f := newFixture(t)
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", ip, err)
	}
	srv := httptest.NewUnstartedServer(f.s)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	ctx := browser(t, 1024, 768)
	do(t, ctx, "sign in at "+srv.URL,
		chromedp.Navigate(srv.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#user")),
		chromedp.SendKeys(chromedp.CSS("#user"), "amehta"),
		chromedp.SendKeys(chromedp.CSS("#password"), password("amehta")),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#login-error")),
	)
	if got := text(t, ctx, "#login-error"); got != msgInsecure {
		t.Fatalf("error shown: %q", got)
	}
	shoot(t, ctx, artefacts(t), "plain-http-elsewhere.png")
	if f.store.Len() != 0 {
		t.Fatal("a session was made")
	}
	if n := f.users.n.Load(); n != 0 {
		t.Fatalf("%d passwords checked", n)
	}
}

// externalIPv4 returns an IPv4 address of this machine that is not
// loopback, or skips.
func externalIPv4(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skipf("no interface addresses: %v", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	t.Skip("this machine has no IPv4 address but loopback")
	return ""
}
