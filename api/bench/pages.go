package bench

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/exhibit-forensics/exhibit/api/web"
	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/lab/sample"
)

// pageData is what every bench page sees.
type pageData struct {
	// ScanSeq is the latest serial scan when the page was made: the page
	// goes to the next one.
	ScanSeq uint64
	// Live is the token of what the page shows (GET /live): when it
	// changes the page refreshes its live parts.
	Live  string
	Links []linkView
	Hub   *hubView
	Page  any
}

// hubView is the sync to the hub as the pages show it.
type hubView struct {
	OK    bool
	Lines []string
}

func (b *Bench) hub() *hubView {
	if b.cfg.Outbox == nil {
		return nil
	}
	v := &hubView{OK: true, Lines: []string{"Checking…"}}
	if st := b.cfg.Outbox(); st != nil {
		v.OK, v.Lines = st.Words(time.Local)
	}
	return v
}

// ctxLiveToken is the gin context key of the live token read as a page
// request began (tokenFirst).
const ctxLiveToken = "bench.liveToken"

// tokenFirst reads the live token of a GET before the handler reads what
// the page shows. A page then carries a token no newer than its contents:
// something stored while the page is made changes the token /live gives,
// and the page fetches itself again. A token read after the contents could
// be newer than them, and the page would wait for a change that had
// already happened.
func (b *Bench) tokenFirst(c *gin.Context) {
	if c.Request.Method == http.MethodGet && c.FullPath() != "/live" && c.FullPath() != "/scan/latest" {
		if tok, err := b.liveToken(c.Request.Context()); err == nil {
			c.Set(ctxLiveToken, tok)
		} else {
			b.cfg.Logger.Warn("bench: live token", "err", err)
		}
	}
	c.Next()
}

func (b *Bench) render(c *gin.Context, status int, page, title string, data any) {
	tok := c.GetString(ctxLiveToken)
	if tok == "" {
		// A page rendered after a POST: the token now (the page that
		// follows the redirect reads its own first).
		var err error
		if tok, err = b.liveToken(c.Request.Context()); err != nil {
			b.cfg.Logger.Warn("bench: live token", "err", err)
		}
	}
	b.pages[page].Render(c, status, title, pageData{ScanSeq: b.scanSeqNow(), Live: tok, Links: b.links(), Hub: b.hub(), Page: data})
}

func person(c *gin.Context) chain.Person {
	u, _ := web.CurrentUser(c)
	return chain.Person{ID: u.ID, Name: u.Name, Role: u.Role}
}

type homeData struct {
	Samples  []sampleRow
	Scanned  string
	NotFound bool
}

func (b *Bench) home(c *gin.Context) {
	rows, err := b.recent(c.Request.Context(), 50)
	if err != nil {
		b.fail(c, err)
		return
	}
	b.render(c, http.StatusOK, "home", "Samples", homeData{Samples: rows})
}

// scan jumps to the sample a scanned or typed code names.
func (b *Bench) scan(c *gin.Context) {
	code := c.Query("code")
	e, err := b.lookup(c.Request.Context(), code)
	if err != nil {
		b.fail(c, err)
		return
	}
	if e == nil {
		rows, err := b.recent(c.Request.Context(), 50)
		if err != nil {
			b.fail(c, err)
			return
		}
		b.render(c, http.StatusNotFound, "home", "Not found", homeData{Samples: rows, Scanned: strings.TrimSpace(code), NotFound: true})
		return
	}
	ref := e.Ref
	if e.Parent != "" {
		ref = e.Parent
	}
	c.Redirect(http.StatusSeeOther, samplePath(ref))
}

func samplePath(ref string) string { return "/sample/" + ref }

type intakeData struct {
	Notice                                                             string
	Case, Kit, Seals, Expect, Collected, Incident, Volume, Temperature string
	Venue, Grid                                                        string // where the incident happened, if the request form says
	Error                                                              string
}

func (b *Bench) intakePage(c *gin.Context) {
	d := intakeData{Kit: c.Query("kit")}
	if d.Kit != "" {
		d.Notice = "This kit is not received yet: fill in the rest from its paperwork."
	}
	b.render(c, http.StatusOK, "intake", "Receive a kit", d)
}

// localTime reads a datetime-local field (the bench's own time zone) or
// RFC 3339.
func localTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date and time", s)
}

func fields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

func (b *Bench) intakePost(c *gin.Context) {
	d := intakeData{Case: strings.TrimSpace(c.PostForm("case")), Kit: c.PostForm("kit"), Seals: c.PostForm("seals"),
		Expect: c.PostForm("expect"), Collected: c.PostForm("collected"), Incident: c.PostForm("incident"),
		Volume: c.PostForm("volume"), Temperature: c.PostForm("temperature"),
		Venue: strings.TrimSpace(c.PostForm("venue")), Grid: strings.TrimSpace(c.PostForm("grid"))}
	again := func(msg string) { d.Error = msg; b.render(c, http.StatusBadRequest, "intake", "Receive a kit", d) }
	scan, err := sample.ParseScan(d.Kit)
	if err != nil {
		again("The kit's barcode could not be read. Scan it again, or type the kit number.")
		return
	}
	req := sample.Request{Case: d.Case, Kit: scan, Seals: fields(d.Seals), Expected: fields(d.Expect), By: person(c), Device: b.cfg.Device,
		Place: sample.Place{Venue: d.Venue, Grid: d.Grid}}
	if req.Collected, err = localTime(d.Collected); err != nil {
		again("When was the urine collected? Give the date and time from the kit's paperwork.")
		return
	}
	if strings.TrimSpace(d.Incident) != "" {
		if req.Incident, err = localTime(d.Incident); err != nil {
			again("The incident time is not a date and time.")
			return
		}
	}
	if v := strings.TrimSpace(d.Volume); v != "" {
		if req.VolumeML, err = strconv.ParseFloat(v, 64); err != nil {
			again("The volume is a number of millilitres.")
			return
		}
	}
	if v := strings.TrimSpace(d.Temperature); v != "" {
		t, err := strconv.ParseFloat(v, 64)
		if err != nil {
			again("The temperature is a number of degrees Celsius.")
			return
		}
		req.TemperatureC = &t
	}
	ex, _, err := sample.Intake(c.Request.Context(), b.cfg.Ledger, req, sample.Windows(b.cfg.Panel))
	switch {
	case errors.Is(err, sample.ErrDuplicate):
		c.Redirect(http.StatusSeeOther, samplePath(ex.Ref)+"?notice=already")
		return
	case err != nil:
		// The checks' own words: they name what is missing or wrong.
		again(strings.TrimPrefix(err.Error(), "sample: "))
		return
	}
	c.Redirect(http.StatusSeeOther, samplePath(ex.Ref)+"?notice=received")
}

type sampleData struct {
	Ref      string
	Form     *sample.Form
	Aliquots []aliquotView
	Events   []eventView
	Notice   string
	Error    string
	Sealed   bool
	Disposed bool
	Results  resultsView
	Orders   []orderRow
	// CanOrder: there is an order book and bottles to order on.
	CanOrder bool
	Tests    []Test
	Reports  []reportRow // the sealed versions of its report
}

type aliquotView struct {
	Ref  string
	Form *sample.AliquotForm
}

type eventView struct {
	When, Ref, What, Actor, Record string
	Kind                           string
}

func (b *Bench) sampleRef(c *gin.Context) string {
	return strings.TrimPrefix(c.Param("ref"), "/")
}

func (b *Bench) samplePage(c *gin.Context) {
	notice := map[string]string{
		"received":   "Kit received.",
		"already":    "This kit was already received: here is its sample.",
		"opened":     "Seal opening recorded.",
		"split":      "Aliquots recorded and sealed.",
		"handed":     "Handover recorded.",
		"disposed":   "Disposal recorded.",
		"reviewed":   "Your review of the results is recorded.",
		"authorised": "Report authorised and sealed.",
		"ordered":    "Order placed: it goes to the analyser with the worklist.",
	}[c.Query("notice")]
	b.showSample(c, http.StatusOK, b.sampleRef(c), notice, "")
}

func (b *Bench) showSample(c *gin.Context, status int, ref, notice, problem string) {
	ctx := c.Request.Context()
	e, err := b.lookup(ctx, ref)
	if err != nil {
		b.fail(c, err)
		return
	}
	if e == nil || e.Parent != "" {
		if e != nil {
			c.Redirect(http.StatusSeeOther, samplePath(e.Parent))
			return
		}
		b.web.Message(c, http.StatusNotFound, "No such sample", "Nothing is recorded under "+ref+". Scan the kit again.")
		return
	}
	l := b.cfg.Ledger
	ex, err := l.ExhibitByRef(ctx, e.Ref)
	if err != nil {
		b.fail(c, err)
		return
	}
	body, err := readBlob(ctx, l, ex.Blobs[0].Hash)
	if err != nil {
		b.fail(c, err)
		return
	}
	form, err := sample.ParseForm(body)
	if err != nil {
		b.fail(c, err)
		return
	}
	d := sampleData{Ref: e.Ref, Form: form, Notice: notice, Error: problem, Sealed: true}
	evs, err := sample.Timeline(ctx, l, e.Ref)
	if err != nil {
		b.fail(c, err)
		return
	}
	for _, ev := range evs {
		d.Events = append(d.Events, eventView{When: ev.Time.Local().Format("2 Jan 2006 15:04:05"), Ref: ev.Ref, What: ev.What,
			Actor: ev.Actor, Record: ev.Record.Hex()[:12], Kind: string(ev.Kind)})
		if ev.Ref == e.Ref {
			switch ev.Kind {
			case chain.KindOpened:
				d.Sealed = false
			case chain.KindSealed:
				d.Sealed = true
			case chain.KindDisposed:
				d.Disposed = true
			}
		}
	}
	b.mu.Lock()
	var als []string
	for _, a := range b.byRef {
		if a.Parent == e.Ref {
			als = append(als, a.Ref)
		}
	}
	b.mu.Unlock()
	sort.Strings(als)
	for _, ref := range als {
		a, err := l.ExhibitByRef(ctx, ref)
		if err != nil {
			b.fail(c, err)
			return
		}
		body, err := readBlob(ctx, l, a.Blobs[0].Hash)
		if err != nil {
			b.fail(c, err)
			return
		}
		af, err := sample.ParseAliquotForm(body)
		if err != nil {
			b.fail(c, err)
			return
		}
		d.Aliquots = append(d.Aliquots, aliquotView{Ref: ref, Form: af})
	}
	d.Results = b.results(c, e.Ref)
	if d.Reports, err = b.sampleReports(ctx, ex.Case, e.Ref); err != nil {
		b.fail(c, err)
		return
	}
	if b.cfg.Orders != nil {
		if d.Orders, err = b.sampleOrders(ctx, e.Ref); err != nil {
			b.fail(c, err)
			return
		}
		ordered := map[string]bool{}
		for _, o := range d.Orders {
			ordered[o.Specimen] = true
		}
		for _, a := range d.Aliquots {
			if !ordered[a.Ref] {
				d.CanOrder = true
			}
		}
		d.Tests = b.cfg.Tests
	}
	b.render(c, status, "sample", "Sample "+e.Ref, d)
}

// samplePost carries out one custody step on the sample (or one of its
// aliquots, named in the form).
func (b *Bench) samplePost(c *gin.Context) {
	ctx := c.Request.Context()
	ref := b.sampleRef(c)
	target := strings.TrimSpace(c.PostForm("target"))
	if target == "" {
		target = ref
	}
	by := person(c)
	l := b.cfg.Ledger
	var err error
	notice := ""
	switch c.PostForm("step") {
	case "open":
		_, err = sample.OpenSeal(ctx, l, target, strings.TrimSpace(c.PostForm("seal")), c.PostForm("reason"), by)
		notice = "opened"
	case "split":
		var parts []sample.Aliquot
		for _, label := range []string{"A", "B"} {
			v := strings.TrimSpace(c.PostForm("volume_" + label))
			if v == "" && c.PostForm("seal_"+label) == "" {
				continue
			}
			vol, perr := strconv.ParseFloat(v, 64)
			if perr != nil {
				err = fmt.Errorf("the volume of %s is a number of millilitres", label)
				break
			}
			parts = append(parts, sample.Aliquot{Label: label, VolumeML: vol, Seal: strings.TrimSpace(c.PostForm("seal_" + label)),
				Storage: strings.TrimSpace(c.PostForm("storage"))})
		}
		if err == nil {
			_, _, err = sample.Split(ctx, l, ref, parts, by, b.cfg.Device)
		}
		notice = "split"
	case "handover":
		err = b.handover(c, target)
		notice = "handed"
	case "review":
		if b.cfg.Setup == nil {
			err = errors.New("this bench has no laboratory setup: results cannot be reviewed here")
			break
		}
		_, err = b.desk().Review(ctx, ref, by)
		notice = "reviewed"
	case "authorise":
		if by.Role != "lab-authoriser" {
			err = errors.New("only a lab authoriser can authorise a report")
			break
		}
		if b.cfg.Setup == nil {
			err = errors.New("this bench has no laboratory setup: nothing can be authorised here")
			break
		}
		_, _, err = b.desk().Authorise(ctx, ref, by, c.PostForm("reason"))
		notice = "authorised"
	case "order":
		err = b.placeOrder(c, ref)
		notice = "ordered"
	case "dispose":
		_, err = sample.Dispose(ctx, l, target, c.PostForm("reason"), by)
		notice = "disposed"
	default:
		err = errors.New("unknown step")
	}
	if err != nil {
		b.showSample(c, http.StatusBadRequest, ref, "", strings.TrimPrefix(err.Error(), "sample: "))
		return
	}
	c.Redirect(http.StatusSeeOther, samplePath(ref)+"?notice="+url.QueryEscape(notice))
}

// handover records a two-party handover: the signed-in user gives, and
// both enter their passwords now.
func (b *Bench) handover(c *gin.Context, ref string) error {
	u, _ := web.CurrentUser(c)
	to := strings.TrimSpace(c.PostForm("to"))
	if to == "" || to == u.ID {
		return errors.New("the receiver must be another person: enter their user name")
	}
	from, err := b.cfg.Users.Authenticate(u.ID, c.PostForm("from_password"))
	if err != nil {
		return errors.New("your password was not right: the handover is not recorded")
	}
	recv, err := b.cfg.Users.Authenticate(to, c.PostForm("to_password"))
	if err != nil {
		return errors.New("the receiver's user name or password was not right: the handover is not recorded")
	}
	_, err = b.cfg.Ledger.Transfer(c.Request.Context(), ref, from, recv, strings.TrimSpace(c.PostForm("reason")), strings.TrimSpace(c.PostForm("seal")))
	return err
}
