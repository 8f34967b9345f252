package kiosk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/exhibit-forensics/exhibit/api/web"
	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/imaging/profile"
	"github.com/exhibit-forensics/exhibit/imaging/seal"
)

// Session state keys.
const (
	stateDraft   = "draft"
	stateCapture = "capture"
)

// What consent is asked for, as the record says it.
const (
	consentPhotos = "photographs of the injuries"
	consentCourt  = "use of the photographs in court"
)

// Who may give consent, as the record says it.
var consentBy = []struct{ Value, Label string }{
	{"person", "The person photographed"},
	{"parent", "A parent or guardian"},
	{"adult", "An appropriate adult"},
}

func consentByText(v, name string) string {
	var s string
	switch v {
	case "person":
		return "the person photographed"
	case "parent":
		s = "a parent or guardian"
	case "adult":
		s = "an appropriate adult"
	default:
		return ""
	}
	if name != "" {
		s += " (" + name + ")"
	}
	return s
}

// A draft is one journey before its capture: what the photographer has
// chosen so far. It lives in the Kiosk, named by the session's UI state.
type draft struct {
	ID      string
	UserID  string
	Case    string
	Consent []chain.Consent
	// Refused: photographs were refused; the journey ends. RefusalRef is
	// the exhibit the refusal was recorded as.
	Refused    bool
	RefusalRef string
	Region     string
	Site       string
	Restricted bool
	Biometric  bool
	Profile    string // "name@version"
	Capture    string // the capture job's id, once started
	// Seq orders a user's drafts: the latest is the one a new session
	// resumes.
	Seq uint64
}

func (d *draft) consented() bool { return len(d.Consent) > 0 && !d.Refused }

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// draftOf returns a copy of the signed-in user's current draft, if any.
func (k *Kiosk) draftOf(c *gin.Context) (draft, bool) {
	u, _ := web.CurrentUser(c)
	id := web.State(c)[stateDraft]
	k.mu.Lock()
	defer k.mu.Unlock()
	d, ok := k.drafts[id]
	if !ok || d.UserID != u.ID {
		return draft{}, false
	}
	return *d, true
}

// saveDraft keeps d and names it in the session.
func (k *Kiosk) saveDraft(c *gin.Context, d draft) error {
	k.mu.Lock()
	k.seq++
	d.Seq = k.seq
	k.drafts[d.ID] = &d
	k.mu.Unlock()
	return k.web.SetState(c, stateDraft, d.ID)
}

// steps of the journey, as the progress strip shows them.
var stepNames = []string{"Case", "Consent", "Body site", "Profile", "Capture", "Review", "Sealed"}

type stepView struct {
	N       int
	Name    string
	Current bool
	Done    bool
}

type summaryView struct {
	Case    string
	Consent []string
	Site    string
	Flags   []string
	Profile string
}

// pageData is what every kiosk page's template sees as .Data.
type pageData struct {
	Status  statusView
	Steps   []stepView
	Summary *summaryView
	Page    any
}

func summaryOf(d draft) *summaryView {
	if d.Case == "" {
		return nil
	}
	s := &summaryView{Case: d.Case, Site: d.Site, Profile: d.Profile}
	for _, c := range d.Consent {
		word := "yes"
		if !c.Given {
			word = "no"
		}
		s.Consent = append(s.Consent, c.To+": "+word+" — "+c.By+", "+c.At.Local().Format("15:04"))
	}
	if d.Restricted {
		s.Flags = append(s.Flags, "Restricted: intimate area")
	}
	if d.Biometric {
		s.Flags = append(s.Flags, "Biometric mark")
	}
	return s
}

func (k *Kiosk) render(c *gin.Context, status int, page, title string, step int, d draft, data any) {
	pd := pageData{Status: k.status.view(), Summary: summaryOf(d), Page: data}
	for i, n := range stepNames {
		pd.Steps = append(pd.Steps, stepView{N: i + 1, Name: n, Current: i+1 == step, Done: i+1 < step})
	}
	k.pages[page].Render(c, status, title, pd)
}

func (k *Kiosk) fail(c *gin.Context, err error) {
	k.cfg.Logger.Error("kiosk", "path", c.Request.URL.Path, "err", err)
	k.web.Message(c, http.StatusInternalServerError, "Something went wrong",
		"Nothing that was already taken has been lost.", "Please try again. If it happens again, call the supervisor.")
}

// unfinished returns the user's latest capture that was started and not
// sealed, if any.
func (k *Kiosk) unfinished(userID string) (draft, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var best *draft
	for _, d := range k.drafts {
		if d.UserID != userID || d.Capture == "" {
			continue
		}
		j, ok := k.jobs[d.Capture]
		if !ok {
			continue
		}
		if st := j.view().State; st == jobSealed || st == jobStopped {
			continue
		}
		if best == nil || d.Seq > best.Seq {
			best = d
		}
	}
	if best == nil {
		return draft{}, false
	}
	return *best, true
}

// home sends the photographer to where they were. A session that names no
// journey (a new sign-in after the idle time-out, or on another day's
// browser) resumes the user's capture that was started and not sealed, so
// that pictures taken are never left unsealed by a time-out.
func (k *Kiosk) home(c *gin.Context) {
	d, ok := k.draftOf(c)
	if !ok {
		u, _ := web.CurrentUser(c)
		if un, found := k.unfinished(u.ID); found {
			if err := errors.Join(k.web.SetState(c, stateDraft, un.ID), k.web.SetState(c, stateCapture, un.Capture)); err != nil {
				k.fail(c, err)
				return
			}
			d, ok = un, true
		}
	}
	switch {
	case !ok || d.Case == "":
		c.Redirect(http.StatusSeeOther, "/case")
	case d.Capture != "" && !k.jobStopped(d.Capture):
		c.Redirect(http.StatusSeeOther, "/capture")
	case d.Refused:
		c.Redirect(http.StatusSeeOther, "/consent")
	case !d.consented():
		c.Redirect(http.StatusSeeOther, "/consent")
	case d.Site == "":
		c.Redirect(http.StatusSeeOther, "/site")
	case d.Profile == "":
		c.Redirect(http.StatusSeeOther, "/profile")
	default:
		c.Redirect(http.StatusSeeOther, "/ready")
	}
}

// startOver forgets the journey (never what was recorded).
func (k *Kiosk) startOver(c *gin.Context) {
	_ = k.web.SetState(c, stateDraft, "")
	_ = k.web.SetState(c, stateCapture, "")
	c.Redirect(http.StatusSeeOther, "/case")
}

// recentCases lists up to max case references of the latest records,
// newest first.
func (k *Kiosk) recentCases(ctx context.Context, max int) ([]string, error) {
	const look = 400 // records read back from the end of the log
	n, err := k.cfg.Ledger.TreeSize(ctx)
	if err != nil {
		return nil, err
	}
	from := uint64(0)
	if n > look {
		from = n - look
	}
	last := map[string]uint64{}
	err = k.cfg.Ledger.Records(ctx, from, n, func(sr store.StoredRecord) error {
		r, err := sr.Decode()
		if err != nil {
			return nil // not this page's business: fsck reports it
		}
		if ex := r.Statement.Predicate.Exhibit; ex != nil && ex.Case != "" {
			last[ex.Case] = sr.Index
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	cases := make([]string, 0, len(last))
	for c := range last {
		cases = append(cases, c)
	}
	sort.Slice(cases, func(i, j int) bool { return last[cases[i]] > last[cases[j]] })
	if len(cases) > max {
		cases = cases[:max]
	}
	return cases, nil
}

func (k *Kiosk) jobStopped(id string) bool {
	k.mu.Lock()
	j, ok := k.jobs[id]
	k.mu.Unlock()
	return ok && j.view().State == jobStopped
}

type casePageData struct {
	Recent []string
	Typed  string
	Error  string
}

func (k *Kiosk) casePage(c *gin.Context) {
	d, _ := k.draftOf(c)
	if d.Capture != "" {
		c.Redirect(http.StatusSeeOther, "/capture")
		return
	}
	k.showCase(c, http.StatusOK, d, "", "")
}

func (k *Kiosk) showCase(c *gin.Context, status int, d draft, typed, msg string) {
	recent, err := k.recentCases(c.Request.Context(), 8)
	if err != nil {
		k.cfg.Logger.Error("kiosk: listing recent cases", "err", err)
	}
	k.render(c, status, "case", "Case", 1, d, casePageData{Recent: recent, Typed: typed, Error: msg})
}

func (k *Kiosk) casePost(c *gin.Context) {
	ref := strings.TrimSpace(c.PostForm("case"))
	if ref == "" {
		ref = strings.TrimSpace(c.PostForm("new_case"))
	}
	if ref == "" {
		k.showCase(c, http.StatusBadRequest, draft{}, "", "Please type the case reference, or tap a recent case.")
		return
	}
	if err := chain.ValidCaseRef(ref); err != nil {
		k.showCase(c, http.StatusBadRequest, draft{}, ref,
			"That case reference cannot be used: it must be 1 to 64 characters, without backslashes or spaces at either end.")
		return
	}
	u, _ := web.CurrentUser(c)
	d := draft{ID: newID(), UserID: u.ID, Case: ref}
	if err := k.saveDraft(c, d); err != nil {
		k.fail(c, err)
		return
	}
	_ = k.web.SetState(c, stateCapture, "")
	c.Redirect(http.StatusSeeOther, "/consent")
}

type consentPageData struct {
	By    []struct{ Value, Label string }
	Error string
}

type refusedPageData struct {
	By  string
	At  string
	Ref string
}

func (k *Kiosk) consentPage(c *gin.Context) {
	d, ok := k.draftOf(c)
	if !ok || d.Case == "" {
		c.Redirect(http.StatusSeeOther, "/case")
		return
	}
	if d.Refused {
		k.render(c, http.StatusOK, "refused", "No photographs", 2, d, refusedPageData{By: d.Consent[0].By, At: d.Consent[0].At.Local().Format("15:04"), Ref: d.RefusalRef})
		return
	}
	k.render(c, http.StatusOK, "consent", "Consent", 2, d, consentPageData{By: consentBy})
}

func (k *Kiosk) consentPost(c *gin.Context) {
	d, ok := k.draftOf(c)
	if !ok || d.Case == "" || d.Capture != "" {
		c.Redirect(http.StatusSeeOther, "/")
		return
	}
	photos, court := c.PostForm("photos"), c.PostForm("court")
	by := consentByText(c.PostForm("by"), strings.TrimSpace(c.PostForm("by_name")))
	if by == "" || (photos != "yes" && photos != "no") || (photos == "yes" && court != "yes" && court != "no") {
		k.render(c, http.StatusBadRequest, "consent", "Consent", 2, d, consentPageData{By: consentBy,
			Error: "Please answer each question, and say who gave the answers."})
		return
	}
	now := k.cfg.Clock.Now().UTC().Truncate(time.Second)
	d.Consent = []chain.Consent{{By: by, To: consentPhotos, Given: photos == "yes", At: now}}
	if photos == "no" {
		// The refusal is evidence too: why the case has no pictures of
		// an injury that was seen. Recorded once per draft, however many
		// times the form is sent.
		u, _ := web.CurrentUser(c)
		ex, err := seal.Refused(c.Request.Context(), k.cfg.Ledger, seal.Refusal{Case: d.Case, Consent: d.Consent,
			Photographer: chain.Person{ID: u.ID, Name: u.Name, Role: u.Role}, Device: k.cfg.Device, Key: d.ID})
		if err != nil {
			k.fail(c, err)
			return
		}
		d.Refused, d.RefusalRef = true, ex.Ref
		k.cfg.Logger.Info("kiosk: photographs refused", "case", d.Case, "by", by, "exhibit", ex.Ref)
	} else {
		d.Refused = false
		d.Consent = append(d.Consent, chain.Consent{By: by, To: consentCourt, Given: court == "yes", At: now})
	}
	if err := k.saveDraft(c, d); err != nil {
		k.fail(c, err)
		return
	}
	if d.Refused {
		c.Redirect(http.StatusSeeOther, "/consent")
		return
	}
	c.Redirect(http.StatusSeeOther, "/site")
}

type sitePageData struct {
	Front, Back []regionView
	Chosen      *region
	Refine      string
	Restricted  bool
	Biometric   bool
	Error       string
}

func (k *Kiosk) sitePage(c *gin.Context) {
	d, ok := k.draftOf(c)
	if !ok || !d.consented() || d.Capture != "" {
		c.Redirect(http.StatusSeeOther, "/")
		return
	}
	sel := c.Query("region")
	if sel == "" {
		sel = d.Region
	}
	pd := sitePageData{Front: regionViews("front", sel), Back: regionViews("back", sel),
		Restricted: d.Restricted, Biometric: d.Biometric}
	if r, ok := regionByID(sel); ok {
		pd.Chosen = &r
		if c.Query("region") != "" && r.Intimate {
			pd.Restricted = true
		}
	}
	if d.Region == sel && d.Site != "" {
		if r, ok := regionByID(sel); ok {
			pd.Refine = strings.TrimPrefix(strings.TrimPrefix(d.Site, r.Name), ", ")
		} else {
			pd.Refine = d.Site
		}
	}
	k.render(c, http.StatusOK, "site", "Body site", 3, d, pd)
}

func (k *Kiosk) sitePost(c *gin.Context) {
	d, ok := k.draftOf(c)
	if !ok || !d.consented() || d.Capture != "" {
		c.Redirect(http.StatusSeeOther, "/")
		return
	}
	refine := strings.TrimSpace(c.PostForm("refine"))
	r, picked := regionByID(c.PostForm("region"))
	if !picked && refine == "" {
		k.render(c, http.StatusBadRequest, "site", "Body site", 3, d, sitePageData{
			Front: regionViews("front", ""), Back: regionViews("back", ""),
			Error: "Please tap the place on the body, or describe it in words."})
		return
	}
	if len(refine) > 200 {
		refine = refine[:200]
	}
	site := refine
	if picked {
		site = r.Name
		if refine != "" {
			site += ", " + refine
		}
	}
	d.Region, d.Site = r.ID, site
	d.Restricted = c.PostForm("restricted") == "on"
	d.Biometric = c.PostForm("biometric") == "on"
	if err := k.saveDraft(c, d); err != nil {
		k.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/profile")
}

// profileShot is one shot as the ready page lists it, with its guidance.
type profileShot struct{ Label, Note string }

type profileView struct {
	ID, Name    string
	Version     int
	Description string
	Shots       []string
	Selected    bool
}

// latestProfiles is the latest version of each built-in profile.
func latestProfiles() []profile.Profile {
	var out []profile.Profile
	for _, p := range profile.All() { // sorted by name, then version
		if n := len(out); n > 0 && out[n-1].Name == p.Name {
			out[n-1] = p
			continue
		}
		out = append(out, p)
	}
	return out
}

func (k *Kiosk) profilePage(c *gin.Context) {
	d, ok := k.draftOf(c)
	if !ok || d.Site == "" || d.Capture != "" {
		c.Redirect(http.StatusSeeOther, "/")
		return
	}
	var views []profileView
	for _, p := range latestProfiles() {
		v := profileView{ID: p.ID(), Name: p.Name, Version: p.Version, Description: p.Description, Selected: p.ID() == d.Profile}
		for _, s := range p.Shots {
			label := s.Label
			if s.Optional {
				label += " (optional, not taken)"
			}
			v.Shots = append(v.Shots, label)
		}
		views = append(views, v)
	}
	k.render(c, http.StatusOK, "profile", "Profile", 4, d, views)
}

func (k *Kiosk) profilePost(c *gin.Context) {
	d, ok := k.draftOf(c)
	if !ok || d.Site == "" || d.Capture != "" {
		c.Redirect(http.StatusSeeOther, "/")
		return
	}
	p, err := profile.Lookup(c.PostForm("profile"))
	if err != nil {
		c.Redirect(http.StatusSeeOther, "/profile")
		return
	}
	d.Profile = p.ID()
	if err := k.saveDraft(c, d); err != nil {
		k.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/ready")
}

func (k *Kiosk) readyPage(c *gin.Context) {
	d, ok := k.draftOf(c)
	if !ok || d.Profile == "" || !d.consented() {
		c.Redirect(http.StatusSeeOther, "/")
		return
	}
	if d.Capture != "" {
		c.Redirect(http.StatusSeeOther, "/capture")
		return
	}
	p, err := profile.Lookup(d.Profile)
	if err != nil {
		k.fail(c, err)
		return
	}
	var shots []profileShot
	for _, s := range p.Shots {
		if !s.Optional {
			shots = append(shots, profileShot{Label: s.Label, Note: s.Note})
		}
	}
	k.render(c, http.StatusOK, "ready", "Ready", 5, d, shots)
}
