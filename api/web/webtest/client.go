package webtest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// A Client drives a UI's handler in-process as a browser on
// http://127.0.0.1 does: it keeps cookies by name (Chromium sends Secure
// cookies to loopback; net/http/cookiejar would not) and the CSRF token of
// the last page it saw.
type Client struct {
	// Addr is the client's IP address as the server sees it (default
	// 127.0.0.1).
	Addr    string
	t       testing.TB
	h       http.Handler
	cookies map[string]*http.Cookie
	token   string
}

// NewClient returns a Client of h.
func NewClient(t testing.TB, h http.Handler) *Client {
	return &Client{t: t, h: h, cookies: map[string]*http.Cookie{}}
}

// A Response is a page as the Client received it.
type Response struct {
	*http.Response
	Method, Path string
	Body         string
}

var tokenRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// Do sends a request (a form if form is not nil), with the header fields
// given as name, value pairs.
func (c *Client) Do(method, target string, form url.Values, header ...string) Response {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, "http://127.0.0.1:8080"+target, body)
	addr := c.Addr
	if addr == "" {
		addr = "127.0.0.1"
	}
	req.RemoteAddr = addr + ":40000"
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	for _, ck := range c.cookies {
		req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	}
	w := httptest.NewRecorder()
	c.h.ServeHTTP(w, req)
	res := w.Result()
	for _, ck := range res.Cookies() {
		if ck.MaxAge < 0 {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck
		}
	}
	b, _ := io.ReadAll(res.Body)
	r := Response{res, method, target, string(b)}
	if m := tokenRE.FindStringSubmatch(r.Body); m != nil {
		c.token = m[1]
	}
	return r
}

// Get fetches target.
func (c *Client) Get(target string) Response { c.t.Helper(); return c.Do("GET", target, nil) }

// Post sends a form of key, value pairs with the session's CSRF token.
func (c *Client) Post(target string, kv ...string) Response {
	c.t.Helper()
	form := url.Values{"csrf_token": {c.token}}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Add(kv[i], kv[i+1])
	}
	return c.Do("POST", target, form)
}

// Login signs in and then fetches landing, for the signed-in pages' token.
func (c *Client) Login(id, password, landing string) {
	c.t.Helper()
	c.Get("/login")
	r := c.Do("POST", "/login", url.Values{"user": {id}, "password": {password}, "csrf_token": {c.token}})
	if r.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("login %s: %d\n%s", id, r.StatusCode, r.Body)
	}
	c.Get(landing)
}

// Follow expects r to redirect to want, and fetches it.
func (c *Client) Follow(r Response, want string) Response {
	c.t.Helper()
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != want {
		c.t.Fatalf("%s: got %d to %q, want a redirect to %s\n%s", r.Path, r.StatusCode, r.Header.Get("Location"), want, r.Body)
	}
	return c.Get(want)
}

// Cookie returns the cookie the client holds under name, or nil.
func (c *Client) Cookie(name string) *http.Cookie { return c.cookies[name] }

// SetCookie makes the client hold ck (nil value: forget name).
func (c *Client) SetCookie(name string, ck *http.Cookie) {
	if ck == nil {
		delete(c.cookies, name)
		return
	}
	c.cookies[name] = ck
}

// ClearCookies forgets every cookie.
func (c *Client) ClearCookies() { c.cookies = map[string]*http.Cookie{} }

// AddCookies adds the client's cookies to req, for a request sent some
// other way (a stream read over real HTTP).
func (c *Client) AddCookies(req *http.Request) {
	for _, ck := range c.cookies {
		req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	}
}
