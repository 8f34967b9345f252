package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/exhibit-forensics/exhibit/api/auth"
	"github.com/exhibit-forensics/exhibit/api/web/webtest"
	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/internal/clock"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// cheap argon2id parameters keep account set-up fast (api/auth checks the
// real ones).
var cheap = auth.Params{Time: 1, Memory: 64, Threads: 1}

var start = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)

// Accounts every test has; each password is the id + "-password-1".
var testUsers = []struct{ id, name, role string }{
	{"jsmith", "Jo Smith", "photographer"},
	{"amehta", "Asha Mehta", "lab-technician"},
	{"bkhan", "Bilal Khan", "lab-authoriser"},
	{"cdavies", "Cerys Davies", "case-officer"},
	{"sup", "Sam Okafor", "supervisor"},
}

func password(id string) string { return id + "-password-1" }

// countingUsers counts password checks.
type countingUsers struct {
	Authenticator
	n atomic.Int64
}

func (c *countingUsers) Authenticate(id, pw string) (chain.Party, error) {
	c.n.Add(1)
	return c.Authenticator.Authenticate(id, pw)
}

type fixture struct {
	t     *testing.T
	s     *Server
	clk   *clock.Fake
	store *MemoryStore
	users *countingUsers
}

func newFixture(t *testing.T, edit ...func(*Config)) *fixture {
	t.Helper()
	clk := clock.NewFake(start)
	u := auth.Open(t.TempDir(), clk.Now).WithParams(cheap)
	for _, x := range testUsers {
		if err := u.Add(x.id, x.name, x.role, password(x.id)); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{t: t, clk: clk, store: NewMemoryStore(), users: &countingUsers{Authenticator: u}}
	cfg := Config{
		Users:   f.users,
		Clock:   clk,
		Store:   f.store,
		Logger:  slog.New(slog.DiscardHandler),
		AppName: "Exhibit test",
	}
	for _, e := range edit {
		e(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.s = s
	home, err := s.NewPage(os.DirFS("testdata"), "home.html")
	if err != nil {
		t.Fatal(err)
	}
	e := s.Engine()
	e.GET("/", s.RequireLogin(), func(c *gin.Context) { home.Render(c, http.StatusOK, "Start", State(c)) })
	do := e.Group("/do", s.RequireLogin(), s.CSRF())
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		do.Handle(m, "", func(c *gin.Context) {
			c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(`<p id="done">done</p>`))
		})
	}
	e.GET("/lab", s.RequireRole("lab-technician", "lab-authoriser"), func(c *gin.Context) { c.String(http.StatusOK, "lab bench") })
	e.GET("/kiosk", s.RequireRole("photographer"), func(c *gin.Context) { c.String(http.StatusOK, "kiosk") })
	e.POST("/state", s.RequireLogin(), s.CSRF(), func(c *gin.Context) {
		if err := s.SetState(c, c.PostForm("key"), c.PostForm("value")); err != nil {
			c.String(http.StatusBadRequest, "%v", err)
			return
		}
		c.String(http.StatusOK, "kept")
	})
	return f
}

// client is a browser in miniature (webtest.Client) at a given address.
type client struct {
	*webtest.Client
	t *testing.T
}

func (f *fixture) client(addr string) *client {
	wc := webtest.NewClient(f.t, f.s)
	wc.Addr = addr
	return &client{Client: wc, t: f.t}
}

type response = webtest.Response

func (c *client) do(method, target string, form url.Values, header ...string) response {
	c.t.Helper()
	return c.Do(method, target, form, header...)
}

var tokenRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// token is the CSRF token in a page's first form.
func token(t *testing.T, body string) string {
	t.Helper()
	m := tokenRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf_token in page:\n%s", body)
	}
	return m[1]
}

// tryLogin fetches the sign-in form and posts id and pw.
func (c *client) tryLogin(id, pw string) response {
	c.t.Helper()
	page := c.do("GET", "/login", nil)
	return c.do("POST", "/login", url.Values{"user": {id}, "password": {pw}, CSRFField: {token(c.t, page.Body)}})
}

// login signs in and returns the CSRF token of the signed-in pages.
func (c *client) login(id string) string {
	c.t.Helper()
	r := c.tryLogin(id, password(id))
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		c.t.Fatalf("login %s: %d %s\n%s", id, r.StatusCode, r.Header.Get("Location"), r.Body)
	}
	home := c.do("GET", "/", nil)
	if home.StatusCode != http.StatusOK {
		c.t.Fatalf("home after login: %d %s", home.StatusCode, home.Header.Get("Location"))
	}
	return token(c.t, home.Body)
}

func setup(t *testing.T, edit ...func(*Config)) (*fixture, *client) {
	f := newFixture(t, edit...)
	return f, f.client("192.0.2.10")
}

func TestCookieAttributes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		insecure bool
		cookie   string
	}{
		{"secure default", false, "__Host-exhibit-session"},
		{"insecure opt-out", true, "exhibit-session"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, c := setup(t, func(cfg *Config) { cfg.InsecureCookies = tc.insecure })
			r := c.tryLogin("jsmith", password("jsmith"))
			var got *http.Cookie
			for _, ck := range r.Cookies() {
				if ck.Name == tc.cookie {
					got = ck
				}
			}
			if got == nil {
				t.Fatalf("no %s cookie in %v", tc.cookie, r.Header["Set-Cookie"])
			}
			if !got.HttpOnly || got.Secure == tc.insecure || got.SameSite != http.SameSiteStrictMode || got.Path != "/" || got.Domain != "" || got.MaxAge != 12*3600 {
				t.Errorf("cookie %+v", got)
			}
			if len(got.Value) != 43 { // 256 bits, base64url
				t.Errorf("token %q is not 256 bits", got.Value)
			}
			// Only the token's hash is stored, and the cookie holds nothing
			// of the user's.
			if _, err := f.store.Get(context.Background(), got.Value); !errors.Is(err, ErrNoSession) {
				t.Errorf("store is keyed by the raw token: %v", err)
			}
			sess, err := f.store.Get(context.Background(), keyOf(got.Value))
			if err != nil || sess.User.ID != "jsmith" || sess.User.Role != "photographer" {
				t.Errorf("stored session %+v %v", sess, err)
			}
			for _, h := range r.Header["Set-Cookie"] {
				if strings.Contains(h, "jsmith") || strings.Contains(h, "photographer") {
					t.Errorf("user data in a cookie: %s", h)
				}
			}
		})
	}
}

func TestSessionFixation(t *testing.T) {
	f, c := setup(t)
	// A token planted before sign-in is not adopted.
	c.SetCookie("__Host-exhibit-session", &http.Cookie{Name: "__Host-exhibit-session", Value: "planted-by-someone-else"})
	c.login("jsmith")
	first := c.Cookie("__Host-exhibit-session").Value
	if first == "planted-by-someone-else" {
		t.Fatal("planted session id kept")
	}
	// A sign-in form posted by a browser that still holds a live session
	// (a planted or left-over one) gives a new id and ends the old session.
	c2 := f.client("192.0.2.11")
	page := c2.do("GET", "/login", nil)
	c2.SetCookie("__Host-exhibit-session", c.Cookie("__Host-exhibit-session"))
	r := c2.do("POST", "/login", url.Values{"user": {"sup"}, "password": {password("sup")}, CSRFField: {token(t, page.Body)}})
	second := c2.Cookie("__Host-exhibit-session").Value
	if r.StatusCode != http.StatusSeeOther || second == first {
		t.Fatalf("session id not renewed at sign-in: %d", r.StatusCode)
	}
	if _, err := f.store.Get(context.Background(), keyOf(first)); !errors.Is(err, ErrNoSession) {
		t.Fatalf("old session still stored: %v", err)
	}
	if f.store.Len() != 1 {
		t.Fatalf("%d sessions stored, want 1", f.store.Len())
	}
}

func TestCSRF(t *testing.T) {
	_, c := setup(t)
	tok := c.login("jsmith")
	other := setupOther(t)
	for _, tc := range []struct {
		name   string
		method string
		form   url.Values
		header []string
		want   int
	}{
		{"post missing", "POST", url.Values{"x": {"1"}}, nil, 403},
		{"post wrong", "POST", url.Values{CSRFField: {"wrong"}}, nil, 403},
		{"post another session's", "POST", url.Values{CSRFField: {other}}, nil, 403},
		{"post right in form", "POST", url.Values{CSRFField: {tok}}, nil, 200},
		{"post right in header", "POST", url.Values{}, []string{CSRFHeader, tok}, 200},
		{"put missing", "PUT", nil, nil, 403},
		{"put right", "PUT", nil, []string{CSRFHeader, tok}, 200},
		{"patch wrong", "PATCH", nil, []string{CSRFHeader, tok + "x"}, 403},
		{"patch right", "PATCH", nil, []string{CSRFHeader, tok}, 200},
		{"delete missing", "DELETE", nil, nil, 403},
		{"delete right", "DELETE", nil, []string{CSRFHeader, tok}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do(tc.method, "/do", tc.form, tc.header...)
			if r.StatusCode != tc.want {
				t.Fatalf("%s /do = %d, want %d\n%s", tc.method, r.StatusCode, tc.want, r.Body)
			}
			if tc.want == 403 && !strings.Contains(r.Body, "This form could not be accepted") {
				t.Errorf("403 page does not explain:\n%s", r.Body)
			}
		})
	}
}

// setupOther signs in on a second server and returns its token.
func setupOther(t *testing.T) string {
	_, c := setup(t)
	return c.login("sup")
}

func TestLoginFormNeedsItsToken(t *testing.T) {
	f, c := setup(t)
	for _, tc := range []struct {
		name   string
		cookie string
		form   string
	}{
		{"no cookie, no field", "", ""},
		{"no cookie", "", strings.Repeat("a", 43)},
		{"mismatch", strings.Repeat("a", 43), strings.Repeat("b", 43)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.ClearCookies()
			if tc.cookie != "" {
				c.SetCookie("__Host-exhibit-signin", &http.Cookie{Name: "__Host-exhibit-signin", Value: tc.cookie})
			}
			r := c.do("POST", "/login", url.Values{"user": {"jsmith"}, "password": {password("jsmith")}, CSRFField: {tc.form}})
			if r.StatusCode != 403 || !strings.Contains(r.Body, msgExpired) {
				t.Fatalf("= %d\n%s", r.StatusCode, r.Body)
			}
		})
	}
	if n := f.users.n.Load(); n != 0 {
		t.Fatalf("%d passwords checked for forged sign-in forms", n)
	}
}

func TestIdleTimeout(t *testing.T) {
	f, c := setup(t)
	c.login("jsmith")
	// Activity keeps the session: each request restarts the 5 minutes.
	for range 5 {
		f.clk.Advance(5*time.Minute - time.Second)
		if r := c.do("GET", "/", nil); r.StatusCode != 200 {
			t.Fatalf("active session ended: %d %s", r.StatusCode, r.Header.Get("Location"))
		}
	}
	f.clk.Advance(5 * time.Minute)
	r := c.do("GET", "/?case=C1", nil)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login?m=idle&next=%2F%3Fcase%3DC1" {
		t.Fatalf("after 5 idle minutes: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if f.store.Len() != 0 {
		t.Fatal("timed-out session not destroyed")
	}
	if c.Cookie("__Host-exhibit-session") != nil {
		t.Fatal("timed-out session's cookie not cleared")
	}
	page := c.do("GET", r.Header.Get("Location"), nil)
	if !strings.Contains(page.Body, "You were signed out after 5 minutes without activity.") || !strings.Contains(page.Body, `name="next" value="/?case=C1"`) {
		t.Fatalf("sign-in page after time-out:\n%s", page.Body)
	}
	// Signing in again goes back to where the user was.
	in := c.do("POST", "/login", url.Values{"user": {"jsmith"}, "password": {password("jsmith")}, CSRFField: {token(t, page.Body)}, "next": {"/?case=C1"}})
	if in.Header.Get("Location") != "/?case=C1" {
		t.Fatalf("back to %q", in.Header.Get("Location"))
	}
}

func TestLifetime(t *testing.T) {
	f, c := setup(t, func(cfg *Config) { cfg.Lifetime = time.Hour })
	c.login("jsmith")
	for i := 0; i < 14; i++ { // 56 minutes of steady work
		f.clk.Advance(4 * time.Minute)
		if r := c.do("GET", "/", nil); r.StatusCode != 200 {
			t.Fatalf("after %d min: %d", (i+1)*4, r.StatusCode)
		}
	}
	f.clk.Advance(4 * time.Minute)
	r := c.do("GET", "/", nil)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login?m=ended" {
		t.Fatalf("after the lifetime: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if page := c.do("GET", "/login?m=ended", nil); !strings.Contains(page.Body, "because you signed in 1 hour ago") {
		t.Fatalf("notice:\n%s", page.Body)
	}
}

func TestLogout(t *testing.T) {
	f, c := setup(t)
	tok := c.login("jsmith")
	kept := *c.Cookie("__Host-exhibit-session")
	// Without its token, sign-out is refused and the session lives on.
	if r := c.do("POST", "/logout", url.Values{}); r.StatusCode != 403 || f.store.Len() != 1 {
		t.Fatalf("logout without token: %d, %d sessions", r.StatusCode, f.store.Len())
	}
	r := c.do("POST", "/logout", url.Values{CSRFField: {tok}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login?m=out" {
		t.Fatalf("logout: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if f.store.Len() != 0 || c.Cookie("__Host-exhibit-session") != nil {
		t.Fatal("session not destroyed")
	}
	if page := c.do("GET", "/login?m=out", nil); !strings.Contains(page.Body, msgOut) {
		t.Fatal("no signed-out notice")
	}
	// The old cookie, replayed, opens nothing.
	c.SetCookie(kept.Name, &kept)
	if r := c.do("GET", "/", nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("replayed cookie after logout: %d", r.StatusCode)
	}
}

func TestRoles(t *testing.T) {
	for _, tc := range []struct {
		user, path string
		want       int
	}{
		{"amehta", "/lab", 200},
		{"bkhan", "/lab", 200},
		{"jsmith", "/lab", 403},
		{"sup", "/lab", 403},
		{"jsmith", "/kiosk", 200},
		{"cdavies", "/kiosk", 403},
		{"", "/lab", 303},
	} {
		t.Run(tc.user+tc.path, func(t *testing.T) {
			_, c := setup(t)
			if tc.user != "" {
				c.login(tc.user)
			}
			r := c.do("GET", tc.path, nil)
			if r.StatusCode != tc.want {
				t.Fatalf("= %d, want %d", r.StatusCode, tc.want)
			}
			if tc.want == 403 {
				for _, s := range []string{"This page is not for your role", "You are signed in as", "ask a supervisor"} {
					if !strings.Contains(r.Body, s) {
						t.Errorf("403 page lacks %q:\n%s", s, r.Body)
					}
				}
			}
		})
	}
	_, c := setup(t)
	c.login("jsmith")
	if r := c.do("GET", "/lab", nil); !strings.Contains(r.Body, "This page is for lab technicians and lab authorisers.") || !strings.Contains(r.Body, "Jo Smith, photographer") {
		t.Fatalf("403 page:\n%s", r.Body)
	}
}

func TestUnknownRoleClosesRoute(t *testing.T) {
	f, c := setup(t)
	f.s.Engine().GET("/typo", f.s.RequireRole("photografer"), func(c *gin.Context) { c.String(200, "open") })
	c.login("jsmith")
	if r := c.do("GET", "/typo", nil); r.StatusCode != 403 {
		t.Fatalf("= %d", r.StatusCode)
	}
}

func TestSecurityHeaders(t *testing.T) {
	_, c := setup(t)
	c.login("jsmith")
	nonces := map[string]bool{}
	for _, tc := range []struct {
		path, cache string
	}{
		{"/", "no-store"},
		{"/login", "no-store"},
		{"/lab", "no-store"},
		{"/nowhere", "no-store"},
		{"/static/exhibit.css", "no-cache"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			r := c.do("GET", tc.path, nil)
			h := r.Header
			csp := h.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'", "form-action 'self'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") {
				t.Errorf("CSP allows inline code: %q", csp)
			}
			n := regexp.MustCompile(`'nonce-([^']+)'`).FindStringSubmatch(csp)
			if n == nil || nonces[n[1]] {
				t.Errorf("nonce missing or reused: %q", csp)
			} else {
				nonces[n[1]] = true
			}
			for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY", "Cache-Control": tc.cache} {
				if h.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, h.Get(k), v)
				}
			}
		})
	}
}

func TestRedirectStaysOnSite(t *testing.T) {
	for _, next := range []string{"//evil.example/", "/\\evil.example", "https://evil.example/", "javascript:alert(1)", "/login", "/logout"} {
		t.Run(next, func(t *testing.T) {
			_, c := setup(t)
			page := c.do("GET", "/login?next="+url.QueryEscape(next), nil)
			r := c.do("POST", "/login", url.Values{"user": {"jsmith"}, "password": {password("jsmith")}, CSRFField: {token(t, page.Body)}, "next": {next}})
			if r.Header.Get("Location") != "/" {
				t.Fatalf("sign-in led to %q", r.Header.Get("Location"))
			}
		})
	}
}

func TestState(t *testing.T) {
	_, c := setup(t)
	tok := c.login("jsmith")
	for _, kv := range [][2]string{{"case", "MET-2026-0042"}, {"capture", "JS/7"}} {
		if r := c.do("POST", "/state", url.Values{CSRFField: {tok}, "key": {kv[0]}, "value": {kv[1]}}); r.StatusCode != 200 {
			t.Fatalf("SetState: %d %s", r.StatusCode, r.Body)
		}
	}
	// A reload sees where the user was.
	if r := c.do("GET", "/", nil); !strings.Contains(r.Body, "case=MET-2026-0042") || !strings.Contains(r.Body, "capture=JS/7") {
		t.Fatalf("state not resumed:\n%s", r.Body)
	}
	if r := c.do("POST", "/state", url.Values{CSRFField: {tok}, "key": {"case"}, "value": {strings.Repeat("x", MaxStateLen+1)}}); r.StatusCode != 400 {
		t.Fatalf("oversized state kept: %d", r.StatusCode)
	}
	for i := range MaxStateKeys {
		c.do("POST", "/state", url.Values{CSRFField: {tok}, "key": {"k" + string(rune('a'+i))}, "value": {"v"}})
	}
	if r := c.do("POST", "/state", url.Values{CSRFField: {tok}, "key": {"one-too-many"}, "value": {"v"}}); r.StatusCode != 400 {
		t.Fatalf("state beyond %d keys kept: %d", MaxStateKeys, r.StatusCode)
	}
}

func TestNewNeedsUsers(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without Users succeeded")
	}
	if _, err := New(Config{Users: &countingUsers{}, Home: "//elsewhere"}); err == nil {
		t.Fatal("New with an off-site Home succeeded")
	}
}

// Requests a page's script makes by itself do not keep a session alive.
func TestPassiveRequests(t *testing.T) {
	f, c := setup(t)
	c.login("jsmith")
	f.clk.Advance(4 * time.Minute)
	if r := c.do("GET", "/", nil, PassiveHeader, "1"); r.StatusCode != 200 {
		t.Fatalf("passive request within the idle time: %d", r.StatusCode)
	}
	f.clk.Advance(time.Minute)
	r := c.do("GET", "/", nil, PassiveHeader, "1")
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login?m=idle") {
		t.Fatalf("passive requests kept the session alive: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
}

func TestAddressKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.10", "192.0.2.10"},
		{"::ffff:192.0.2.10", "192.0.2.10"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
		{"::1", "::/64"},
		{"not an address", "not an address"},
	} {
		if got := addressKey(tc.in); got != tc.want {
			t.Errorf("addressKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPlainRemote(t *testing.T) {
	f, _ := setup(t)
	for _, tc := range []struct {
		host string
		want bool
	}{
		{"127.0.0.1:8080", false},
		{"localhost:8080", false},
		{"kiosk.localhost", false},
		{"[::1]:8080", false},
		{"127.0.0.2", false},
		{"192.0.2.2:8080", true},
		{"kiosk.example:443", true},
		{"[2001:db8::1]:80", true},
	} {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest("GET", "http://"+tc.host+"/login", nil)
		if got := f.s.plainRemote(c); got != tc.want {
			t.Errorf("plainRemote(%s) = %v, want %v", tc.host, got, tc.want)
		}
	}
}
