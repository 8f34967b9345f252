package web

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
)

func TestLimiter(t *testing.T) {
	lim := Limit{Failures: 3, Window: 10 * time.Minute, Lock: time.Minute, MaxLock: 5 * time.Minute, Forget: time.Hour}
	type step struct {
		after time.Duration // since the previous step
		fail  bool          // a failure (else: ask whether locked)
		ok    bool          // a success
		want  time.Duration // lock returned by fail, or left by locked
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"under the limit", []step{{0, true, false, 0}, {0, true, false, 0}, {0, false, false, 0}}},
		{"at the limit", []step{{0, true, false, 0}, {0, true, false, 0}, {0, true, false, time.Minute}, {30 * time.Second, false, false, 30 * time.Second}, {30 * time.Second, false, false, 0}}},
		{"failures leave the window", []step{{0, true, false, 0}, {0, true, false, 0}, {10 * time.Minute, true, false, 0}, {0, true, false, 0}, {0, true, false, time.Minute}}},
		{"lock-outs double up to the cap", []step{
			{0, true, false, 0}, {0, true, false, 0}, {0, true, false, time.Minute},
			{time.Minute, true, false, 0}, {0, true, false, 0}, {0, true, false, 2 * time.Minute},
			{2 * time.Minute, true, false, 0}, {0, true, false, 0}, {0, true, false, 4 * time.Minute},
			{4 * time.Minute, true, false, 0}, {0, true, false, 0}, {0, true, false, 5 * time.Minute},
		}},
		{"forgotten after a quiet hour", []step{
			{0, true, false, 0}, {0, true, false, 0}, {0, true, false, time.Minute},
			{time.Hour, true, false, 0}, {0, true, false, 0}, {0, true, false, time.Minute},
		}},
		{"success forgets", []step{
			{0, true, false, 0}, {0, true, false, 0}, {0, true, false, time.Minute},
			{time.Minute, false, true, 0}, {0, true, false, 0}, {0, true, false, 0}, {0, true, false, time.Minute},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLimiter(lim)
			now := start
			for i, s := range tc.steps {
				now = now.Add(s.after)
				var got time.Duration
				switch {
				case s.ok:
					l.succeed("k")
				case s.fail:
					got = l.fail("k", now)
				default:
					got = l.locked("k", now)
				}
				if got != s.want {
					t.Fatalf("step %d: %v, want %v", i, got, s.want)
				}
			}
		})
	}
}

func TestLimiterBoundsMemory(t *testing.T) {
	l := newLimiter(DefaultAccountLimit)
	for i := range maxKeys + 100 {
		l.fail(strings.Repeat("x", i%7)+string(rune(i)), start.Add(time.Duration(i)*time.Second))
	}
	if len(l.m) > maxKeys {
		t.Fatalf("%d keys kept", len(l.m))
	}
}

var errorRE = regexp.MustCompile(`<p class="error"[^>]*>([^<]*)</p>`)

func errorText(body string) string {
	m := errorRE.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

func TestLoginLockout(t *testing.T) {
	f, c := setup(t)
	for i := range 4 {
		r := c.tryLogin("jsmith", "not the password")
		if r.StatusCode != http.StatusUnauthorized || errorText(r.Body) != msgMismatch {
			t.Fatalf("failure %d: %d %q", i+1, r.StatusCode, errorText(r.Body))
		}
	}
	r := c.tryLogin("jsmith", "not the password")
	if r.StatusCode != http.StatusTooManyRequests || errorText(r.Body) != "Too many attempts. Try again in 1 minute." {
		t.Fatalf("fifth failure: %d %q", r.StatusCode, errorText(r.Body))
	}
	// Locked: even the right password is refused, and not even checked.
	checked := f.users.n.Load()
	f.clk.Advance(59 * time.Second)
	r = c.tryLogin("jsmith", password("jsmith"))
	if r.StatusCode != http.StatusTooManyRequests || errorText(r.Body) != "Too many attempts. Try again in 1 minute." {
		t.Fatalf("locked: %d %q", r.StatusCode, errorText(r.Body))
	}
	if f.users.n.Load() != checked {
		t.Fatal("a password was checked while the account was locked")
	}
	// Another address is locked out of this account too (it is the
	// account that is being guessed) ...
	if r := f.client("198.51.100.7").tryLogin("jsmith", password("jsmith")); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("other address: %d", r.StatusCode)
	}
	// ... but other accounts from this address are not.
	if r := c.tryLogin("sup", password("sup")); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("other account: %d %q", r.StatusCode, errorText(r.Body))
	}
	c.do("POST", "/logout", nil) // (refused without a token; the cookie is dropped below)
	c.SetCookie("__Host-exhibit-session", nil)

	// The next lock-out lasts twice as long.
	f.clk.Advance(time.Second)
	for range 4 {
		c.tryLogin("jsmith", "still wrong")
	}
	if r := c.tryLogin("jsmith", "still wrong"); errorText(r.Body) != "Too many attempts. Try again in 2 minutes." {
		t.Fatalf("second lock-out: %q", errorText(r.Body))
	}
	f.clk.Advance(2 * time.Minute)
	if r := c.tryLogin("jsmith", password("jsmith")); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("after the lock-out: %d %q", r.StatusCode, errorText(r.Body))
	}
}

func TestAddressLockout(t *testing.T) {
	f, c := setup(t)
	// One address guessing across accounts (no account reaches its own
	// limit) is stopped at the address limit.
	ids := []string{"jsmith", "amehta", "bkhan", "cdavies", "sup"} // (unknown ids cost a full argon2id check each)
	for i := range DefaultAddressLimit.Failures - 1 {
		if r := c.tryLogin(ids[i%len(ids)], "guess"); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %q", i+1, r.StatusCode, errorText(r.Body))
		}
	}
	if r := c.tryLogin("ghost2", "guess"); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("at the address limit: %d", r.StatusCode)
	}
	if r := c.tryLogin("jsmith", password("jsmith")); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("locked address signed in: %d", r.StatusCode)
	}
	if r := f.client("198.51.100.7").tryLogin("jsmith", password("jsmith")); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("another address: %d %q", r.StatusCode, errorText(r.Body))
	}
}

// An unknown account and a wrong password look the same, locks included.
func TestMessagesDoNotTellAccounts(t *testing.T) {
	_, c := setup(t)
	strip := regexp.MustCompile(`value="[^"]*"|nonce-[^']*`)
	var known, unknown []string
	for range 5 {
		r := c.tryLogin("jsmith", "wrong password")
		known = append(known, strip.ReplaceAllString(r.Body, "")+r.Status)
	}
	for range 5 {
		r := c.tryLogin("nosuchuser", "wrong password")
		unknown = append(unknown, strip.ReplaceAllString(r.Body, "")+r.Status)
	}
	for i := range known {
		if known[i] != unknown[i] {
			t.Fatalf("attempt %d differs:\n%s\n----\n%s", i+1, known[i], unknown[i])
		}
	}
}

// gateUsers holds every password check until release is closed.
type gateUsers struct {
	Authenticator
	release      chan struct{}
	inside, most atomic.Int64
}

func (g *gateUsers) Authenticate(id, pw string) (chain.Party, error) {
	n := g.inside.Add(1)
	for m := g.most.Load(); n > m && !g.most.CompareAndSwap(m, n); m = g.most.Load() {
	}
	<-g.release
	g.inside.Add(-1)
	return g.Authenticator.Authenticate(id, pw)
}

func TestPasswordChecksAreBounded(t *testing.T) {
	const n = 4
	var gate *gateUsers
	f, _ := setup(t, func(cfg *Config) {
		gate = &gateUsers{Authenticator: cfg.Users, release: make(chan struct{})}
		cfg.Users = gate
		cfg.MaxChecks = 2
	})
	type attempt struct {
		c    *client
		form url.Values
	}
	var attempts []attempt
	for i := range n {
		c := f.client(fmt.Sprintf("192.0.2.%d", 20+i))
		page := c.do("GET", "/login", nil)
		id := testUsers[i].id
		attempts = append(attempts, attempt{c, url.Values{"user": {id}, "password": {password(id)}, CSRFField: {token(t, page.Body)}}})
	}
	codes := make(chan int, n)
	for _, a := range attempts {
		go func() { codes <- a.c.do("POST", "/login", a.form).StatusCode }()
	}
	// Wait until every attempt is either checking or waiting its turn.
	for f.s.queued.Load()+gate.inside.Load() < n {
		runtime.Gosched()
	}
	if in := gate.inside.Load(); in != 2 {
		t.Fatalf("%d checks at once, want 2", in)
	}
	close(gate.release)
	for range n {
		if code := <-codes; code != http.StatusSeeOther {
			t.Errorf("sign-in = %d", code)
		}
	}
	if m := gate.most.Load(); m > 2 {
		t.Fatalf("%d password checks ran at once; MaxChecks is 2", m)
	}
}
