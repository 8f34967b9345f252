package web

import (
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/exhibit-forensics/exhibit/api/auth"
	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/internal/clock"
)

// An Authenticator checks a password and says who the person is.
// *auth.Users is one. A wrong password, an unknown account and a disabled
// account MUST all give an error wrapping auth.ErrBadCredentials; any other
// error means the check could not be made.
type Authenticator interface {
	Authenticate(id, password string) (chain.Party, error)
}

var _ Authenticator = (*auth.Users)(nil)

// Config configures a Server. Only Users is required.
type Config struct {
	Users Authenticator
	// Clock measures idle time-outs, lifetimes and lock-outs (default
	// clock.System).
	Clock clock.Clock
	// Store keeps sessions (default a new MemoryStore).
	Store Store
	// IdleTimeout ends a session this long after its last request
	// (default 5 minutes: a kiosk is shared).
	IdleTimeout time.Duration
	// Lifetime ends a session this long after sign-in, however busy
	// (default 12 hours: a long shift).
	Lifetime time.Duration
	// AccountLimit and AddressLimit rate-limit sign-in per account and per
	// client address (defaults DefaultAccountLimit, DefaultAddressLimit;
	// zero fields take the default's).
	AccountLimit, AddressLimit Limit
	// MaxChecks is how many passwords are checked at once (default 2).
	// Each argon2id check takes 64 MiB and a core for a moment; a burst of
	// sign-ins waits its turn rather than exhausting the machine, and since
	// the lock is looked at only once a request's turn has come, at most
	// MaxChecks-1 passwords beyond a limit are checked before it locks.
	MaxChecks int
	// InsecureCookies drops the Secure attribute and the __Host- prefix.
	// Leave it false: Chromium keeps Secure cookies from http://127.0.0.1
	// and http://localhost (see the package doc). Set it only for a browser
	// that does not, and never on a non-loopback address without HTTPS.
	InsecureCookies bool
	Logger          *slog.Logger
	// AppName is shown in every page's header and title (default
	// "Exhibit").
	AppName string
	// Home is where sign-in leads when no page was asked for (default "/").
	Home string
}

// Defaults.
const (
	DefaultIdleTimeout = 5 * time.Minute
	DefaultLifetime    = 12 * time.Hour
)

// Form fields and header names.
const (
	// CSRFField is the hidden form field that carries the CSRF token.
	CSRFField = "csrf_token"
	// CSRFHeader carries it for requests that are not forms.
	CSRFHeader = "X-CSRF-Token"
	// PassiveHeader marks a request a page's script makes by itself (a
	// live preview's next frame, a status poll): with any value, the
	// request is served as usual but does not count as activity, so that
	// an abandoned screen that keeps polling still times out.
	PassiveHeader = "X-Exhibit-Passive"
)

// Server serves sign-in and sign-out and holds the middleware and page
// rendering that every UI mounts on its engine.
type Server struct {
	cfg       Config
	engine    *gin.Engine
	accounts  *limiter
	addresses *limiter
	base      fsTemplates
	login     *Page
	message   *Page
	checks    chan struct{} // one token per password check in progress
	queued    atomic.Int64  // sign-ins waiting for a turn (tests watch it)
	cookie    string        // session cookie name
	preCookie string        // sign-in form cookie name
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// New returns a Server whose engine already serves /login, /logout and
// /static/, and applies the security headers and session loading to every
// route added to it afterwards.
func New(cfg Config) (*Server, error) {
	if cfg.Users == nil {
		return nil, errors.New("web: Config.Users is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System
	}
	if cfg.Store == nil {
		cfg.Store = NewMemoryStore()
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = DefaultLifetime
	}
	if cfg.MaxChecks <= 0 {
		cfg.MaxChecks = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.AppName == "" {
		cfg.AppName = "Exhibit"
	}
	if cfg.Home == "" {
		cfg.Home = "/"
	}
	if !localPath(cfg.Home) {
		return nil, fmt.Errorf("web: Config.Home %q is not a path on this site", cfg.Home)
	}
	s := &Server{
		cfg:       cfg,
		accounts:  newLimiter(cfg.AccountLimit.withDefaults(DefaultAccountLimit)),
		addresses: newLimiter(cfg.AddressLimit.withDefaults(DefaultAddressLimit)),
		cookie:    "__Host-exhibit-session",
		preCookie: "__Host-exhibit-signin",
		checks:    make(chan struct{}, cfg.MaxChecks),
	}
	if cfg.InsecureCookies {
		s.cookie, s.preCookie = "exhibit-session", "exhibit-signin"
	}
	var err error
	if s.base, err = parseBase(); err != nil {
		return nil, err
	}
	if s.login, err = s.NewPage(templateFS, "templates/login.html"); err != nil {
		return nil, err
	}
	if s.message, err = s.NewPage(templateFS, "templates/message.html"); err != nil {
		return nil, err
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}

	e := gin.New()
	// Client addresses are the TCP peer's: no proxy's X-Forwarded-For is
	// believed, so a client cannot pick the address it is rate-limited by.
	if err := e.SetTrustedProxies(nil); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	e.Use(gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, v any) {
		s.cfg.Logger.Error("web: handler panicked", "path", c.Request.URL.Path, "panic", v)
		s.fail(c, http.StatusInternalServerError, "Something went wrong", "This screen could not be shown.", "Please try again. If it happens again, tell a supervisor.")
	}))
	e.Use(s.headers, s.loadSession)
	// One file, served as such: no directory listing.
	e.StaticFileFS(staticPrefix+"/exhibit.css", "exhibit.css", http.FS(static))
	e.GET("/login", s.getLogin)
	e.POST("/login", s.postLogin)
	e.POST("/logout", s.postLogout)
	e.NoRoute(func(c *gin.Context) {
		s.fail(c, http.StatusNotFound, "Nothing here", "There is no page at this address.")
	})
	s.engine = e
	return s, nil
}

// Engine returns the gin engine to which UIs add their routes.
func (s *Server) Engine() *gin.Engine { return s.engine }

// ServeHTTP serves the engine.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

// Context keys.
const (
	keySession = "exhibit.web.session"
	keyEnded   = "exhibit.web.ended"
	keyNonce   = "exhibit.web.nonce"
)

// Why a session ended, as carried in /login?m=.
const (
	endedIdle     = "idle"
	endedLifetime = "ended"
	endedOut      = "out"
)

// loadSession finds the request's session, ends it if it has timed out,
// and otherwise records the request as activity.
func (s *Server) loadSession(c *gin.Context) {
	if strings.HasPrefix(c.Request.URL.Path, staticPrefix+"/") {
		return
	}
	ck, err := c.Request.Cookie(s.cookie)
	if err != nil || ck.Value == "" {
		return
	}
	ctx := c.Request.Context()
	key := keyOf(ck.Value)
	now := s.cfg.Clock.Now()
	passive := c.GetHeader(PassiveHeader) != ""
	ended := ""
	sess, err := s.cfg.Store.Update(ctx, key, func(x *Session) error {
		switch {
		case now.Sub(x.Created) >= s.cfg.Lifetime:
			ended = endedLifetime
		case now.Sub(x.LastSeen) >= s.cfg.IdleTimeout:
			ended = endedIdle
		default:
			if !passive {
				x.LastSeen = now
			}
			return nil
		}
		return errSessionEnded
	})
	switch {
	case err == nil:
		c.Set(keySession, &sess)
		return
	case errors.Is(err, errSessionEnded):
		if err := s.cfg.Store.Delete(ctx, key); err != nil {
			s.cfg.Logger.Error("web: deleting an ended session", "err", err)
		}
		s.cfg.Logger.Info("web: session ended", "user", sess.User.ID, "why", ended)
		c.Set(keyEnded, ended)
	case errors.Is(err, ErrNoSession):
		// An old cookie (the server restarted, or the session was pruned).
	default:
		s.cfg.Logger.Error("web: loading a session", "err", err)
	}
	s.clearCookie(c, s.cookie)
}

var errSessionEnded = errors.New("web: session ended")

// RequireLogin lets signed-in requests through and sends others to the
// sign-in page, saying why when their session has just timed out.
func (s *Server) RequireLogin() gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, ok := CurrentUser(c); ok {
			return
		}
		s.toLogin(c)
	}
}

func (s *Server) toLogin(c *gin.Context) {
	q := url.Values{}
	if m := c.GetString(keyEnded); m != "" {
		q.Set("m", m)
	}
	if c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead {
		if next := c.Request.URL.RequestURI(); next != s.cfg.Home && localPath(next) {
			q.Set("next", next)
		}
	}
	to := "/login"
	if len(q) > 0 {
		to += "?" + q.Encode()
	}
	c.Redirect(http.StatusSeeOther, to)
	c.Abort()
}

// RequireRole lets through only users who hold one of roles (names from
// auth.Roles); others get a calm 403 page that says whose page it is.
// Requests that are not signed in go to the sign-in page first. A role
// name that auth.Roles does not know lets nobody through, and is logged.
func (s *Server) RequireRole(roles ...string) gin.HandlerFunc {
	for _, r := range roles {
		if !knownRole(r) {
			s.cfg.Logger.Error("web: RequireRole with an unknown role: the route is closed to everyone", "role", r)
		}
	}
	return func(c *gin.Context) {
		u, ok := CurrentUser(c)
		if !ok {
			s.toLogin(c)
			return
		}
		for _, r := range roles {
			if r == u.Role && knownRole(r) {
				return
			}
		}
		s.cfg.Logger.Info("web: role refused", "user", u.ID, "role", u.Role, "path", c.Request.URL.Path)
		s.fail(c, http.StatusForbidden, "This page is not for your role",
			fmt.Sprintf("This page is for %s.", rolesPhrase(roles)),
			fmt.Sprintf("You are signed in as %s, %s.", u.Name, roleName(u.Role)),
			"If you need it for your work, ask a supervisor.")
	}
}

// CSRF refuses every POST, PUT, PATCH and DELETE that does not carry its
// session's token in the csrf_token form field or the X-CSRF-Token
// header, with a 403 page. Put it after RequireLogin.
func (s *Server) CSRF() gin.HandlerFunc {
	return func(c *gin.Context) {
		if !s.checkCSRF(c) {
			c.Abort()
		}
	}
}

func (s *Server) checkCSRF(c *gin.Context) bool {
	switch c.Request.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return true
	}
	sess := session(c)
	got := c.GetHeader(CSRFHeader)
	if got == "" {
		got = c.PostForm(CSRFField)
	}
	if sess != nil && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRF)) == 1 {
		return true
	}
	user := ""
	if sess != nil {
		user = sess.User.ID
	}
	s.cfg.Logger.Warn("web: request without a valid CSRF token refused", "user", user, "path", c.Request.URL.Path, "missing", got == "")
	to := link{Href: "/login", Text: "Sign in"}
	if sess != nil {
		to = link{Href: s.cfg.Home, Text: "Start again"}
	}
	s.failLink(c, http.StatusForbidden, "This form could not be accepted", to,
		"It may have been open since before you last signed in, or it did not come from this screen.",
		"Nothing was changed. Go back, reload the page and try again.")
	return false
}

// CurrentUser returns the signed-in user of a request that went through
// the Server's engine.
func CurrentUser(c *gin.Context) (User, bool) {
	if s := session(c); s != nil {
		return s.User, true
	}
	return User{}, false
}

// CSRFToken returns the token that the request's forms must carry (""
// when not signed in). Pages rendered with Page.Render have it already.
func CSRFToken(c *gin.Context) string {
	if s := session(c); s != nil {
		return s.CSRF
	}
	return ""
}

// State returns a copy of the session's UI state (nil when not signed in).
func State(c *gin.Context) map[string]string {
	if s := session(c); s != nil {
		return clone(*s).State
	}
	return nil
}

// SetState keeps key=value in the session's UI state ("" removes the key),
// so that a reload or a reopened browser resumes where the user was.
func (s *Server) SetState(c *gin.Context, key, value string) error {
	sess := session(c)
	if sess == nil {
		return errors.New("web: SetState: not signed in")
	}
	if len(key) == 0 || len(key) > MaxStateLen || len(value) > MaxStateLen {
		return fmt.Errorf("web: SetState: key or value longer than %d bytes", MaxStateLen)
	}
	updated, err := s.cfg.Store.Update(c.Request.Context(), sess.Key, func(x *Session) error {
		if value == "" {
			delete(x.State, key)
			return nil
		}
		if _, ok := x.State[key]; !ok && len(x.State) >= MaxStateKeys {
			return fmt.Errorf("web: SetState: more than %d keys", MaxStateKeys)
		}
		if x.State == nil {
			x.State = map[string]string{}
		}
		x.State[key] = value
		return nil
	})
	if err != nil {
		return fmt.Errorf("web: SetState: %w", err)
	}
	*sess = updated
	return nil
}

func session(c *gin.Context) *Session {
	v, ok := c.Get(keySession)
	if !ok {
		return nil
	}
	s, _ := v.(*Session)
	return s
}

func (s *Server) setCookie(c *gin.Context, name, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		Secure:   !s.cfg.InsecureCookies,
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
	})
}

func (s *Server) clearCookie(c *gin.Context, name string) { s.setCookie(c, name, "", -1) }

// localPath reports whether p is a path on this site (and not, as
// "//host" or "/\host" would be, another site).
func localPath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return false
	}
	u, err := url.Parse(p)
	return err == nil && u.Scheme == "" && u.Host == "" && !strings.ContainsAny(p, "\r\n\t")
}

func knownRole(r string) bool {
	for _, k := range auth.Roles {
		if k == r {
			return true
		}
	}
	return false
}

// store errors are logged and shown as a calm failure page.
func (s *Server) storeFailed(c *gin.Context, what string, err error) {
	s.cfg.Logger.Error("web: session store", "what", what, "err", err)
	s.fail(c, http.StatusInternalServerError, "Sign-in is not available", "Sign-in is not working on this machine right now.", "Please tell a supervisor.")
}
