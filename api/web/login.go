package web

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/exhibit-forensics/exhibit/api/auth"
)

// Messages of the sign-in page. They never say whether an account exists.
const (
	msgMismatch = "That user name and password do not match."
	msgExpired  = "This sign-in form had expired. Please try again."
	msgOut      = "You have signed out."
	msgInsecure = "Sign-in needs a secure connection. Open this screen at an https:// address, or on this machine at http://127.0.0.1."
)

type loginData struct {
	Notice, Error string
	User, Next    string
}

func (s *Server) notice(m string) string {
	switch m {
	case endedIdle:
		return fmt.Sprintf("You were signed out after %s without activity. Please sign in again.", plainDuration(s.cfg.IdleTimeout))
	case endedLifetime:
		return fmt.Sprintf("You were signed out because you signed in %s ago. Please sign in again.", plainDuration(s.cfg.Lifetime))
	case endedOut:
		return msgOut
	}
	return ""
}

func (s *Server) next(p string) string {
	if p != "" && localPath(p) && !strings.HasPrefix(p, "/login") && !strings.HasPrefix(p, "/logout") {
		return p
	}
	return s.cfg.Home
}

// preToken returns the sign-in form's token, the one in the browser's
// sign-in cookie or a new one (which it sets). It guards the sign-in form
// against login CSRF (a page elsewhere signing this browser in as
// someone else) without server-side state: the form must echo the cookie,
// which another site can neither read nor, with the __Host- prefix, set.
func (s *Server) preToken(c *gin.Context) (string, error) {
	if ck, err := c.Request.Cookie(s.preCookie); err == nil && len(ck.Value) == 43 {
		return ck.Value, nil
	}
	t, err := newToken()
	if err != nil {
		return "", err
	}
	s.setCookie(c, s.preCookie, t, 0)
	return t, nil
}

func (s *Server) getLogin(c *gin.Context) {
	if _, ok := CurrentUser(c); ok {
		c.Redirect(http.StatusSeeOther, s.next(c.Query("next")))
		return
	}
	m := c.Query("m")
	if e := c.GetString(keyEnded); e != "" {
		m = e
	}
	s.renderLogin(c, http.StatusOK, loginData{Notice: s.notice(m), Next: s.next(c.Query("next"))})
}

func (s *Server) renderLogin(c *gin.Context, status int, d loginData) {
	tok, err := s.preToken(c)
	if err != nil {
		s.storeFailed(c, "sign-in token", err)
		return
	}
	if d.Next == s.cfg.Home {
		d.Next = ""
	}
	s.login.render(c, status, "Sign in", d, tok)
}

func (s *Server) postLogin(c *gin.Context) {
	id := strings.ToLower(strings.TrimSpace(c.PostForm("user")))
	if len(id) > 64 {
		id = id[:64]
	}
	password := c.PostForm("password")
	d := loginData{User: id, Next: s.next(c.PostForm("next"))}

	ck, err := c.Request.Cookie(s.preCookie)
	form := c.PostForm(CSRFField)
	if err != nil || form == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(form)) != 1 {
		s.cfg.Logger.Warn("web: sign-in form without a valid token", "addr", c.RemoteIP(), "host", c.Request.Host)
		d.Error = msgExpired
		if err != nil && s.plainRemote(c) {
			// The browser dropped the Secure sign-in cookie: plain http
			// to an address that is not this machine.
			d.Error = msgInsecure
		}
		s.renderLogin(c, http.StatusForbidden, d)
		return
	}

	// Wait for a turn to check a password; the lock is looked at only
	// then, so that a burst of attempts cannot all pass it together.
	s.queued.Add(1)
	select {
	case s.checks <- struct{}{}:
		s.queued.Add(-1)
		defer func() { <-s.checks }()
	case <-c.Request.Context().Done():
		s.queued.Add(-1)
		s.cfg.Logger.Warn("web: sign-in abandoned while waiting for a turn", "user", id, "addr", c.RemoteIP())
		c.AbortWithStatus(http.StatusServiceUnavailable)
		return
	}
	now := s.cfg.Clock.Now()
	accountKey, addressKey := "account:"+id, "address:"+addressKey(c.RemoteIP())
	if wait := max(s.accounts.locked(accountKey, now), s.addresses.locked(addressKey, now)); wait > 0 {
		// Locked: the password is not even checked.
		s.cfg.Logger.Warn("web: sign-in refused while locked", "user", id, "addr", c.RemoteIP(), "wait", wait)
		d.Error = lockedMessage(wait)
		s.renderLogin(c, http.StatusTooManyRequests, d)
		return
	}

	party, err := s.cfg.Users.Authenticate(id, password)
	if errors.Is(err, auth.ErrBadCredentials) {
		wait := max(s.accounts.fail(accountKey, now), s.addresses.fail(addressKey, now))
		s.cfg.Logger.Warn("web: sign-in failed", "user", id, "addr", c.RemoteIP(), "locked", wait)
		d.Error = msgMismatch
		status := http.StatusUnauthorized
		if wait > 0 {
			d.Error, status = lockedMessage(wait), http.StatusTooManyRequests
		}
		s.renderLogin(c, status, d)
		return
	}
	if err != nil {
		s.cfg.Logger.Error("web: checking a password", "user", id, "err", err)
		s.fail(c, http.StatusInternalServerError, "Sign-in is not available", "Passwords cannot be checked on this machine right now.", "Please tell a supervisor.")
		return
	}
	s.accounts.succeed(accountKey)

	// A new session and a new id, whatever the browser had before: no
	// session fixation.
	ctx := c.Request.Context()
	if old, err := c.Request.Cookie(s.cookie); err == nil {
		if err := s.cfg.Store.Delete(ctx, keyOf(old.Value)); err != nil {
			s.storeFailed(c, "delete", err)
			return
		}
	}
	if _, err := s.cfg.Store.Prune(ctx, now.Add(-s.cfg.IdleTimeout), now.Add(-s.cfg.Lifetime)); err != nil {
		s.cfg.Logger.Error("web: pruning sessions", "err", err)
	}
	token, err1 := newToken()
	csrf, err2 := newToken()
	if err := errors.Join(err1, err2); err != nil {
		s.storeFailed(c, "random", err)
		return
	}
	sess := Session{
		Key:      keyOf(token),
		User:     User{ID: party.ID, Name: party.Name, Role: party.Role, AuthAt: party.AuthAt},
		CSRF:     csrf,
		Created:  now,
		LastSeen: now,
	}
	if err := s.cfg.Store.Put(ctx, sess); err != nil {
		s.storeFailed(c, "put", err)
		return
	}
	s.cfg.Logger.Info("web: signed in", "user", party.ID, "role", party.Role, "addr", c.RemoteIP())
	s.clearCookie(c, s.preCookie)
	s.setCookie(c, s.cookie, token, int(s.cfg.Lifetime/time.Second))
	c.Redirect(http.StatusSeeOther, d.Next)
}

// postLogout ends the session. It needs the CSRF token like any other
// form, so that another site cannot sign a photographer out mid-capture.
func (s *Server) postLogout(c *gin.Context) {
	sess := session(c)
	if sess == nil {
		c.Redirect(http.StatusSeeOther, "/login?m="+endedOut)
		return
	}
	if !s.checkCSRF(c) {
		return
	}
	if err := s.cfg.Store.Delete(c.Request.Context(), sess.Key); err != nil {
		s.storeFailed(c, "delete", err)
		return
	}
	s.cfg.Logger.Info("web: signed out", "user", sess.User.ID)
	s.clearCookie(c, s.cookie)
	c.Redirect(http.StatusSeeOther, "/login?m="+endedOut)
}

// plainRemote reports whether the request came over plain http to a host
// name that is not loopback, where browsers drop Secure cookies.
func (s *Server) plainRemote(c *gin.Context) bool {
	if s.cfg.InsecureCookies || c.Request.TLS != nil {
		return false
	}
	host := c.Request.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return false
	}
	a, err := netip.ParseAddr(host)
	return err != nil || !a.IsLoopback()
}

// addressKey is the part of a client's address that the address limit
// counts: the whole of an IPv4 address, the /64 network of an IPv6 one
// (one subscriber is usually given a whole /64 and can pick any address in
// it).
func addressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return p.String()
		}
	}
	return a.String()
}

func lockedMessage(wait time.Duration) string {
	return fmt.Sprintf("Too many attempts. Try again in %s.", plainDuration(wait))
}

// plainDuration says d in whole minutes or hours, rounded up: "1 minute",
// "2 minutes", "12 hours".
func plainDuration(d time.Duration) string {
	if d >= time.Hour && d%time.Hour == 0 {
		return plural(int(d/time.Hour), "hour")
	}
	m := int((d + time.Minute - 1) / time.Minute)
	return plural(max(m, 1), "minute")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
