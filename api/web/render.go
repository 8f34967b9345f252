package web

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// staticPrefix is where the embedded stylesheet is served.
const staticPrefix = "/static"

// fsTemplates is the parsed shared layout; pages are clones of it, and it
// is never executed itself (html/template cannot clone a template that
// has run).
type fsTemplates = *template.Template

var funcs = template.FuncMap{"roleName": roleName}

func parseBase() (*template.Template, error) {
	t, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web: layout: %w", err)
	}
	return t, nil
}

// A Page is one screen: the shared layout (header with the app name, the
// signed-in user and a sign-out button) around a template named "content"
// that the page's own files define.
type Page struct {
	s *Server
	t *template.Template
}

// NewPage parses the files of fsys that match patterns into a page over
// the shared layout. They must define "content". Inside it, . is a
// PageData, and every form must include {{template "csrf" $}}, the hidden
// input that carries the CSRF token.
func (s *Server) NewPage(fsys fs.FS, patterns ...string) (*Page, error) {
	t, err := s.base.Clone()
	if err != nil {
		return nil, fmt.Errorf("web: page: %w", err)
	}
	if t, err = t.ParseFS(fsys, patterns...); err != nil {
		return nil, fmt.Errorf("web: page: %w", err)
	}
	if t.Lookup("content") == nil {
		return nil, fmt.Errorf("web: page %v defines no \"content\" template", patterns)
	}
	return &Page{s: s, t: t}, nil
}

// PageData is what the layout and a page's "content" template see.
type PageData struct {
	AppName string
	Title   string
	// User is nil on pages seen signed out.
	User *User
	// CSRFToken is what {{template "csrf" $}} puts in each form.
	CSRFToken string
	// Nonce allows an inline <script nonce="{{$.Nonce}}"> under the
	// Content-Security-Policy (inline scripts without it do not run).
	Nonce        string
	StaticPrefix string
	// RefreshSeconds reloads a signed-in page a little after the idle
	// time-out, so that a screen left alone on a shared kiosk goes back to
	// the sign-in page by itself, without JavaScript.
	RefreshSeconds int
	// Data is the page's own data.
	Data any
}

// Render writes the page with status. Pages are rendered whole into memory
// first, so a template error gives a clean 500 rather than half a page.
func (p *Page) Render(c *gin.Context, status int, title string, data any) {
	p.render(c, status, title, data, CSRFToken(c))
}

func (p *Page) render(c *gin.Context, status int, title string, data any, csrf string) {
	s := p.s
	d := PageData{
		AppName:        s.cfg.AppName,
		Title:          title,
		CSRFToken:      csrf,
		Nonce:          c.GetString(keyNonce),
		StaticPrefix:   staticPrefix,
		RefreshSeconds: int(s.cfg.IdleTimeout/time.Second) + 5,
		Data:           data,
	}
	if u, ok := CurrentUser(c); ok {
		d.User = &u
	}
	var b bytes.Buffer
	if err := p.t.ExecuteTemplate(&b, "layout", d); err != nil {
		s.cfg.Logger.Error("web: rendering a page", "title", title, "err", err)
		c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("This screen could not be shown. Please try again.\n"))
		c.Abort()
		return
	}
	c.Data(status, "text/html; charset=utf-8", b.Bytes())
}

// A link is a button-like link on a message page.
type link struct{ Href, Text string }

type messageData struct {
	Heading string
	Lines   []string
	Link    *link
}

// Message shows a calm page with status, a heading and lines of plain
// text, and a button back to the start (or to sign-in), and stops the
// request: for a UI's own "not found" or "not allowed" moments.
func (s *Server) Message(c *gin.Context, status int, heading string, lines ...string) {
	s.fail(c, status, heading, lines...)
}

// fail shows a calm message page with status and stops the request.
func (s *Server) fail(c *gin.Context, status int, heading string, lines ...string) {
	to := link{Href: "/login", Text: "Sign in"}
	if _, ok := CurrentUser(c); ok {
		to = link{Href: s.cfg.Home, Text: "Go to the start"}
	}
	s.failLink(c, status, heading, to, lines...)
}

func (s *Server) failLink(c *gin.Context, status int, heading string, lnk link, lines ...string) {
	s.message.Render(c, status, heading, messageData{Heading: heading, Lines: lines, Link: &lnk})
	c.Abort()
}

// headers sets the security headers of every response and makes the
// request's script nonce.
func (s *Server) headers(c *gin.Context) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		s.cfg.Logger.Error("web: random nonce", "err", err)
		c.AbortWithStatus(http.StatusInternalServerError)
		return
	}
	nonce := base64.StdEncoding.EncodeToString(b)
	c.Set(keyNonce, nonce)
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'nonce-"+nonce+"'; style-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if strings.HasPrefix(c.Request.URL.Path, staticPrefix+"/") {
		h.Set("Cache-Control", "no-cache")
	} else {
		// Pages hold case data and tokens: never kept in a cache, nor
		// shown again by the back button after sign-out.
		h.Set("Cache-Control", "no-store")
	}
}

var roleNames = map[string]string{
	"photographer":   "photographer",
	"lab-technician": "lab technician",
	"lab-authoriser": "lab authoriser",
	"case-officer":   "case officer",
	"supervisor":     "supervisor",
	"auditor":        "auditor",
	"admin":          "administrator",
}

// roleName is a role in plain words.
func roleName(r string) string {
	if n, ok := roleNames[r]; ok {
		return n
	}
	return r
}

// rolesPhrase is "photographers", "photographers and supervisors" or
// "photographers, supervisors and auditors".
func rolesPhrase(roles []string) string {
	var names []string
	for _, r := range roles {
		if knownRole(r) {
			names = append(names, roleName(r)+"s")
		}
	}
	switch len(names) {
	case 0:
		return "no one at the moment"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
