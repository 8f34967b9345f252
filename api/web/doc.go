// Package web is what every Exhibit web UI (the photographer's kiosk, the
// lab bench, the case officers' pages) is built on: sign-in and sign-out,
// server-side sessions, CSRF tokens, sign-in rate limits, roles, security
// headers, and one calm page layout and stylesheet. It is built once here so
// that no UI gets any of it subtly wrong on its own.
//
// # Mounting a UI
//
//	s, err := web.New(web.Config{Users: auth.Open(dir, nil), AppName: "Exhibit kiosk"})
//	page, err := s.NewPage(kioskTemplates, "templates/case.html") // defines "content"
//	r := s.Engine()
//	kiosk := r.Group("/", s.RequireRole("photographer"), s.CSRF())
//	kiosk.GET("/", func(c *gin.Context) { page.Render(c, 200, "Case", data) })
//	kiosk.POST("/case", ...) // refused with 403 unless the form carries the token
//
// A page's "content" template sees a PageData: .User, .Data (the handler's
// data), .Nonce for an inline script, and .CSRFToken, which every form puts
// in a hidden field with {{template "csrf" $}}. Handlers read the user with
// CurrentUser and the token with CSRFToken; a request that is not a form
// sends the token in the X-CSRF-Token header. gin starts in its debug mode,
// which prints every route: the command that serves a UI calls
// gin.SetMode(gin.ReleaseMode) first (a process-wide setting, so it is not
// made here). The sign-in form lets a personal machine's password manager
// fill it; a kiosk's browser should run with its password manager off
// (Chromium's PasswordManagerEnabled policy), since the kiosk is shared.
//
// # Sessions
//
// A session lives on the server, in a Store (MemoryStore for one agent; a
// hub with several replicas will need a shared one). The browser holds only
// a random 256-bit token (crypto/rand); the store is keyed by its SHA-256,
// so a copy of the store opens no session. The cookie carries nothing of the
// user's. Sign-in always makes a new session with a new token and ends any
// session the browser came with, so a token planted before sign-in (session
// fixation) is worthless. A session ends after IdleTimeout without a request
// (default 5 minutes: a kiosk is shared and a victim's pictures must not stay
// on an unattended screen) and Lifetime after sign-in (default 12 hours, a
// long shift), both measured on the injected clock; sign-out and a time-out
// delete it from the store. Requests a page's script makes by itself (a
// live preview's frames, a status poll) send the X-Exhibit-Passive header:
// they are served but are not activity, or an abandoned kiosk that keeps
// polling would never time out. A signed-in page reloads itself (a meta refresh,
// no JavaScript) a few seconds after the idle time-out, so an abandoned
// screen falls back to the sign-in page by itself. Sessions also carry a
// little UI state (SetState, State: the case and capture the photographer
// was on) so that a reload, or a browser closed and reopened within the idle
// time, resumes where it was; the cookie therefore lasts Lifetime rather
// than ending with the browser. The account is checked at sign-in only: an
// account disabled meanwhile keeps its open sessions until they time out.
//
// The cookie is __Host-exhibit-session: HttpOnly (scripts cannot read it),
// Secure, Path=/, no Domain (the __Host- prefix makes the browser insist on
// those three, so that no other host or path can set or overwrite it), and
// SameSite=Strict: no request started by another site carries it, not even
// a link followed from elsewhere. Lax would let such links land signed in;
// nothing here is meant to be reached from another site (a kiosk and a
// bench are opened from their own address), and Strict is a second wall
// behind the CSRF tokens. The cost is that a link from another site opens
// the sign-in page.
//
// Secure on plain http: the kiosk serves http://127.0.0.1:PORT, without
// TLS. Loopback origins count as potentially trustworthy (W3C Secure
// Contexts), and Chromium (Debian's 156 here) keeps Secure and __Host-
// cookies set over http://127.0.0.1 and http://localhost (TestBrowser,
// TestBrowserLocalhost), so the safe default works for the kiosk as it is. Over plain http to any
// other address chromium drops both cookies and nobody can sign in
// (TestBrowserPlainHTTPElsewhere): that is intended, since such a server
// must use HTTPS, and the sign-in page then says so. Only Chromium is
// tested; Config.InsecureCookies (the cookie without Secure and
// without the prefix) exists for a browser that refuses, and must never be
// used off loopback.
//
// # CSRF
//
// Every POST, PUT, PATCH and DELETE behind the CSRF middleware, and
// sign-out, must carry the session's token (random, 256 bits, made at
// sign-in, compared in constant time); a missing or wrong one gets a 403
// page that says nothing was changed. The sign-in form, which has no session
// yet, is guarded the double-submit way: it must echo the
// __Host-exhibit-signin cookie, which another site can neither read nor set,
// so no page elsewhere can sign this browser in as someone else.
//
// # Sign-in rate limits
//
// Failures are counted per account (DefaultAccountLimit: 5 in 15 minutes)
// and per client address (DefaultAddressLimit: 20 in 15 minutes). Reaching
// a limit locks that key for 1 minute, then 2, 4 … up to an hour for each
// further lock-out, forgotten after a day without failures; a successful
// sign-in clears its account's count. Five allows a stressed person a few
// typing mistakes; doubling locks make guessing slow (from the seventh
// lock-out on, five guesses an hour) while someone who locks a colleague out on
// purpose only costs them a minute or two at first. The address limit is
// looser because everyone at a kiosk signs in from 127.0.0.1; it stops one
// client guessing across many accounts. The address is the TCP peer's
// (X-Forwarded-For is not trusted), and for IPv6 its /64 network, which one
// client can usually roam. At most Config.MaxChecks passwords (default 2)
// are checked at once, each argon2id check taking 64 MiB; a sign-in looks at
// the locks only when its turn comes, so a burst of attempts can neither
// exhaust the machine nor slip past a lock together. A locked attempt is refused without
// checking the password ("Too many attempts. Try again in 2 minutes."), and
// no message, status or lock differs between an unknown account and a wrong
// password ("That user name and password do not match.").
//
// # Roles
//
// The roles are api/auth's (DESIGN.md: photographer, lab-technician,
// lab-authoriser, case-officer, supervisor, auditor, admin); a user has one.
// RequireRole lets through the roles it names and shows anyone else a calm
// 403 page that says whose page it is and who they are signed in as. A role
// name auth does not know closes the route to everyone and is logged.
//
// # Headers
//
// Every response carries a Content-Security-Policy (default-src 'self';
// scripts only from this site or inline with the request's nonce; no
// plugins, no <base>, forms only to this site; frame-ancestors 'none'),
// X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer and
// X-Frame-Options: DENY. Pages are Cache-Control: no-store (they hold case
// data and tokens, and the back button must not show them after sign-out);
// the stylesheet is no-cache.
//
// # Tests
//
// The httptest tests drive every rule on a fake clock. TestBrowser drives
// Debian's chromium through chromedp (skipped, saying so, when chromium is
// not installed) and saves screenshots under $EXHIBIT_ARTEFACTS/api-web, or
// a temporary directory when EXHIBIT_ARTEFACTS is unset.
package web
