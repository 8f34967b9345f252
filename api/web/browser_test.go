package web

import (
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/exhibit-forensics/exhibit/api/web/webtest"
)

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

// TestBrowser signs in through the real form in chromium on
// http://127.0.0.1, checks the cookie chromium kept, uses a form, and
// waits out the idle time-out on the fake clock.
func TestBrowser(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(f.s)
	t.Cleanup(srv.Close)
	dir := webtest.Artefacts(t, "api-web")
	ctx := webtest.Browser(t, 1280, 800, 2*time.Minute)

	webtest.Do(t, ctx, "open the sign-in page", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#user")))
	webtest.Shoot(t, ctx, dir, "login.png")
	webtest.TouchTargets(t, ctx, "sign-in page")

	webtest.Do(t, ctx, "sign in with a wrong password",
		chromedp.SendKeys(chromedp.CSS("#user"), "jsmith"),
		chromedp.SendKeys(chromedp.CSS("#password"), "not my password"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#login-error")),
	)
	if got := webtest.Text(t, ctx, "#login-error"); got != msgMismatch {
		t.Fatalf("error shown: %q", got)
	}
	webtest.Shoot(t, ctx, dir, "login-failed.png")

	// The user name is kept; only the password is typed again.
	webtest.Do(t, ctx, "sign in",
		chromedp.SendKeys(chromedp.CSS("#password"), password("jsmith")),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("header .who")),
	)
	if got := webtest.Text(t, ctx, "header .who"); !strings.Contains(got, "Jo Smith") || !strings.Contains(got, "photographer") {
		t.Fatalf("header says %q", got)
	}
	webtest.Shoot(t, ctx, dir, "signed-in.png")
	webtest.TouchTargets(t, ctx, "signed-in layout")

	// Chromium kept the Secure, __Host- cookie from plain http on loopback.
	sessionCookie(t, ctx)

	// A form with its hidden token goes through.
	webtest.Do(t, ctx, "use a form", chromedp.Click(chromedp.CSS("#do")), chromedp.WaitVisible(chromedp.CSS("#done")))
	if got := webtest.Text(t, ctx, "#done"); got != "done" {
		t.Fatalf("form post gave %q", got)
	}

	// A form whose token is not the session's is refused, and the page
	// says nothing was changed.
	webtest.Do(t, ctx, "post a form with a wrong token",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.SetValue(chromedp.CSS("main form input[name=csrf_token]"), "not-the-token"),
		chromedp.Click(chromedp.CSS("#do")),
		chromedp.WaitVisible(chromedp.CSS(".message h1")),
	)
	if got := webtest.Text(t, ctx, ".message h1"); got != "This form could not be accepted" {
		t.Fatalf("CSRF page heading %q", got)
	}
	webtest.Shoot(t, ctx, dir, "csrf-refused.png")

	// A page for another role says so calmly.
	webtest.Do(t, ctx, "open the lab bench", chromedp.Navigate(srv.URL+"/lab"), chromedp.WaitVisible(chromedp.CSS(".message h1")))
	if got := webtest.Text(t, ctx, ".message h1"); got != "This page is not for your role" {
		t.Fatalf("403 page heading %q", got)
	}
	webtest.Shoot(t, ctx, dir, "forbidden.png")

	// Five idle minutes on the server's clock, then any click lands on the
	// sign-in page with the reason.
	webtest.Do(t, ctx, "go to the start", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("header .who")))
	f.clk.Advance(5 * time.Minute)
	webtest.Do(t, ctx, "reload after the idle time-out", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#user")))
	if got := webtest.Text(t, ctx, ".notice"); got != "You were signed out after 5 minutes without activity. Please sign in again." {
		t.Fatalf("notice %q", got)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.HasPrefix(loc, srv.URL+"/login") {
		t.Fatalf("at %q %v", loc, err)
	}
	if f.store.Len() != 0 {
		t.Fatal("session still stored after the time-out")
	}
	webtest.Shoot(t, ctx, dir, "timed-out.png")
}

// TestBrowserLocalhost signs in at http://localhost, the other loopback
// name a kiosk may be opened at, on an upright tablet's screen: chromium
// keeps the Secure __Host- cookie there too.
func TestBrowserLocalhost(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(f.s)
	t.Cleanup(srv.Close)
	base := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	ctx := webtest.Browser(t, 768, 1024, 2*time.Minute) // a tablet held upright
	webtest.Do(t, ctx, "sign in at "+base,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#user")),
		chromedp.SendKeys(chromedp.CSS("#user"), "amehta"),
		chromedp.SendKeys(chromedp.CSS("#password"), password("amehta")),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("header .who")),
	)
	sessionCookie(t, ctx)
	webtest.Shoot(t, ctx, webtest.Artefacts(t, "api-web"), "signed-in-portrait.png")
	webtest.TouchTargets(t, ctx, "signed-in layout, portrait")
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
	ctx := webtest.Browser(t, 1024, 768, 2*time.Minute)
	webtest.Do(t, ctx, "sign in at "+srv.URL,
		chromedp.Navigate(srv.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#user")),
		chromedp.SendKeys(chromedp.CSS("#user"), "amehta"),
		chromedp.SendKeys(chromedp.CSS("#password"), password("amehta")),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#login-error")),
	)
	if got := webtest.Text(t, ctx, "#login-error"); got != msgInsecure {
		t.Fatalf("error shown: %q", got)
	}
	webtest.Shoot(t, ctx, webtest.Artefacts(t, "api-web"), "plain-http-elsewhere.png")
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
