package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/exhibit-forensics/exhibit/chain"
)

func TestMemoryStore(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryStore()
	if err := m.Put(ctx, Session{}); err == nil {
		t.Fatal("a session without a key was stored")
	}
	s := Session{Key: "k1", User: User{ID: "jsmith"}, Created: start, LastSeen: start, State: map[string]string{"case": "C1"}}
	if err := m.Put(ctx, s); err != nil {
		t.Fatal(err)
	}
	// Copies out and in: changing what was put or got changes nothing
	// stored.
	s.State["case"] = "changed after Put"
	got, err := m.Get(ctx, "k1")
	if err != nil || got.State["case"] != "C1" {
		t.Fatalf("Get = %+v %v", got, err)
	}
	got.State["case"] = "changed after Get"
	if again, _ := m.Get(ctx, "k1"); again.State["case"] != "C1" {
		t.Fatal("Get returned the stored map")
	}
	// Update keeps a change only when fn succeeds, and cannot move a
	// session to another key.
	boom := errors.New("boom")
	if _, err := m.Update(ctx, "k1", func(x *Session) error { x.State["case"] = "C2"; return boom }); !errors.Is(err, boom) {
		t.Fatalf("Update error = %v", err)
	}
	if again, _ := m.Get(ctx, "k1"); again.State["case"] != "C1" {
		t.Fatal("a failed Update was kept")
	}
	up, err := m.Update(ctx, "k1", func(x *Session) error { x.State["case"] = "C2"; x.Key = "other"; return nil })
	if err != nil || up.Key != "k1" || up.State["case"] != "C2" {
		t.Fatalf("Update = %+v %v", up, err)
	}
	if _, err := m.Update(ctx, "missing", func(*Session) error { return nil }); !errors.Is(err, ErrNoSession) {
		t.Fatalf("Update of a missing session: %v", err)
	}
	if _, err := m.Get(ctx, "missing"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("Get of a missing session: %v", err)
	}
	// Prune by idleness and by age.
	for _, x := range []Session{
		{Key: "idle", Created: start, LastSeen: start.Add(-time.Hour)},
		{Key: "old", Created: start.Add(-13 * time.Hour), LastSeen: start},
	} {
		if err := m.Put(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	n, err := m.Prune(ctx, start.Add(-5*time.Minute), start.Add(-12*time.Hour))
	if err != nil || n != 2 || m.Len() != 1 {
		t.Fatalf("Prune = %d %v, %d left", n, err, m.Len())
	}
	if err := m.Delete(ctx, "k1"); err != nil || m.Len() != 0 {
		t.Fatalf("Delete: %v, %d left", err, m.Len())
	}
	if err := m.Delete(ctx, "k1"); err != nil {
		t.Fatalf("deleting twice: %v", err)
	}
}

func TestPages(t *testing.T) {
	f, c := setup(t)
	if _, err := f.s.NewPage(fstest.MapFS{"x.html": {Data: []byte(`{{define "other"}}{{end}}`)}}, "x.html"); err == nil {
		t.Fatal("a page without \"content\" was accepted")
	}
	if _, err := f.s.NewPage(os.DirFS("testdata"), "missing.html"); err == nil {
		t.Fatal("a missing page file was accepted")
	}
	// The shared layout: app name, who is signed in, the sign-out form
	// with its token, the stylesheet, and a reload shortly after the idle
	// time-out so an abandoned screen goes back to sign-in by itself.
	tok := c.login("jsmith")
	r := c.do("GET", "/", nil)
	for _, want := range []string{
		"<title>Start · Exhibit test</title>",
		`<meta http-equiv="refresh" content="305">`,
		`<link rel="stylesheet" href="/static/exhibit.css">`,
		"Signed in as <strong>Jo Smith</strong>",
		`<form method="post" action="/logout"`,
		`name="csrf_token" value="` + tok + `"`,
	} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("signed-in page lacks %s", want)
		}
	}
	// Signed out, no header user, no reload.
	out := f.client("192.0.2.99").do("GET", "/login", nil)
	if strings.Contains(out.Body, "http-equiv") || strings.Contains(out.Body, "Signed in as") {
		t.Errorf("sign-in page:\n%s", out.Body)
	}
	css := c.do("GET", "/static/exhibit.css", nil)
	if css.StatusCode != http.StatusOK || !strings.HasPrefix(css.Header.Get("Content-Type"), "text/css") {
		t.Fatalf("stylesheet: %d %s", css.StatusCode, css.Header.Get("Content-Type"))
	}
	// Names the user typed are escaped.
	bad := f.client("192.0.2.98").tryLogin(`<script>alert(1)</script>`, "x")
	if strings.Contains(bad.Body, "<script>alert") {
		t.Fatal("user name not escaped")
	}
}

// Two requests of one browser at once (a page and its preview, a double
// tap) never undo each other's state: the touch and SetState both go
// through Update.
func TestConcurrentRequestsKeepState(t *testing.T) {
	const n = 8
	f, c := setup(t)
	tok := c.login("jsmith")
	ck := c.Cookie("__Host-exhibit-session")
	done := make(chan int, 2*n)
	for i := range n {
		// Each goroutine its own client holding the same session.
		post, get := f.client(c.Addr), f.client(c.Addr)
		post.SetCookie(ck.Name, ck)
		get.SetCookie(ck.Name, ck)
		go func() {
			done <- post.do("POST", "/state", url.Values{CSRFField: {tok}, "key": {fmt.Sprintf("k%d", i)}, "value": {"v"}}).StatusCode
		}()
		go func() { done <- get.do("GET", "/", nil).StatusCode }()
	}
	for range 2 * n {
		if code := <-done; code != http.StatusOK {
			t.Errorf("status %d", code)
		}
	}
	sess, err := f.store.Get(context.Background(), keyOf(ck.Value))
	if err != nil || len(sess.State) != n {
		t.Fatalf("state after concurrent requests: %v %v", sess.State, err)
	}
}

// failingStore fails every write.
type failingStore struct{ *MemoryStore }

func (failingStore) Put(context.Context, Session) error { return errors.New("disk full") }

// brokenUsers cannot check passwords at all.
type brokenUsers struct{}

func (brokenUsers) Authenticate(string, string) (chain.Party, error) {
	return chain.Party{}, errors.New("users.json: permission denied")
}

func TestSignInFailuresOfTheMachine(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"store cannot write", func(cfg *Config) { cfg.Store = failingStore{NewMemoryStore()} }, "Sign-in is not working on this machine right now."},
		{"accounts cannot be read", func(cfg *Config) { cfg.Users = brokenUsers{} }, "Passwords cannot be checked on this machine right now."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c := setup(t, tc.edit)
			for range 6 { // more than the account limit: these are not failures of the user's
				r := c.tryLogin("jsmith", password("jsmith"))
				if r.StatusCode != http.StatusInternalServerError || !strings.Contains(r.Body, tc.want) {
					t.Fatalf("= %d\n%s", r.StatusCode, r.Body)
				}
			}
		})
	}
}

func TestMessagePages(t *testing.T) {
	f, c := setup(t)
	f.s.Engine().GET("/panic", f.s.RequireLogin(), func(*gin.Context) { panic("bug") })
	c.login("jsmith")
	r := c.do("GET", "/panic", nil)
	if r.StatusCode != http.StatusInternalServerError || !strings.Contains(r.Body, "This screen could not be shown.") || r.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("= %d %v\n%s", r.StatusCode, r.Header, r.Body)
	}
	f.s.Engine().GET("/case/:ref", f.s.RequireLogin(), func(c *gin.Context) {
		f.s.Message(c, http.StatusNotFound, "No such case", "There is no case "+c.Param("ref")+".")
	})
	r = c.do("GET", "/case/%3Cb%3E", nil)
	if r.StatusCode != http.StatusNotFound || !strings.Contains(r.Body, "There is no case &lt;b&gt;.") || !strings.Contains(r.Body, "Go to the start") {
		t.Fatalf("Message page = %d\n%s", r.StatusCode, r.Body)
	}
	if r := c.do("GET", "/static/", nil); r.StatusCode != http.StatusNotFound {
		t.Fatalf("static directory listing: %d", r.StatusCode)
	}
}
