package kiosk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/gin-gonic/gin"

	"github.com/exhibit-forensics/exhibit/api/web"
	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/imaging/capture"
	"github.com/exhibit-forensics/exhibit/imaging/profile"
	"github.com/exhibit-forensics/exhibit/imaging/quality"
	"github.com/exhibit-forensics/exhibit/imaging/seal"
	"github.com/exhibit-forensics/exhibit/imaging/session"
)

// Job states.
const (
	jobShooting   = "shooting" // Begin and Shoot, or Shoot again after a failure
	jobRetaking   = "retaking"
	jobSealing    = "sealing"
	jobDeveloping = "developing" // every shot taken: making the enhanced view
	jobFailed     = "failed"     // stopped with advice; Try again resumes
	jobReview     = "review"     // every shot taken, waiting for the photographer
	jobSealed     = "sealed"
	jobStopped    = "stopped" // given up by the photographer: pictures kept, set not sealed
)

// A job is one capture, run by goroutines the Kiosk owns so that it goes on
// whatever the browser does. The capture itself is touched only by the
// goroutine running an operation (busy); pages read the snapshot the job
// keeps under mu.
type job struct {
	id     string
	userID string
	cfg    capture.Config

	mu       sync.Mutex
	busy     bool
	state    string
	failedOp string // what Try again repeats: "shoot" or "seal"
	advice   string
	shots    []shotView
	frames   []frameView
	thumbs   map[*session.Frame][]byte
	setRef   string
	idle     chan struct{} // closed when the running operation ends

	// The enhanced view of the current frames (develop), or why there is
	// none.
	enh       []enhView
	enhPics   [][]byte
	enhAdvice string

	cap *capture.Capture // only while busy, by the running goroutine
}

type shotView struct {
	ID, Label string
	Step      string // "", "light", "settle", "expose", "done", "stopped"
}

// Status is the words for the shot's step.
func (s shotView) Status() string {
	switch s.Step {
	case "light":
		return "Setting the light"
	case "settle":
		return "Waiting for the light to settle"
	case "expose":
		return "Taking the picture"
	case "done":
		return "Taken"
	case "stopped":
		return "Stopped"
	}
	return "Waiting"
}

type frameView struct {
	N        int // index in the capture's frames, for the thumbnail URL
	ShotID   string
	Label    string
	Attempt  int
	Rejected string // reason it was set aside; "" if current
	Why      string // reason for this retake
	Ref      string // exhibit reference, once recorded
	// Checks are the quality gates' warnings and failures on the frame,
	// in the photographer's words; Checked is set once the gates ran.
	Checks  []checkView
	Checked bool
	frame   *session.Frame
}

// checkView is one quality gate's verdict, for the review page.
type checkView struct {
	Level   string // "warn" or "fail"
	Message string
}

// jobView is what the capture pages see.
type jobView struct {
	ID       string
	State    string
	Busy     bool
	Advice   string
	Shots    []shotView
	Done     int
	Current  []frameView // the current frame of each shot
	Aside    []frameView // frames set aside by retakes
	SetRef   string
	Error    string // a form problem
	Progress string // one line: "Picture 2 of 4"
	Enhanced []enhView
	// EnhancedAdvice says why there is no enhanced view.
	EnhancedAdvice string
}

func (j *job) view() jobView {
	j.mu.Lock()
	defer j.mu.Unlock()
	v := jobView{ID: j.id, State: j.state, Busy: j.busy, Advice: j.advice, Shots: append([]shotView(nil), j.shots...), SetRef: j.setRef,
		Enhanced: j.enh, EnhancedAdvice: j.enhAdvice}
	for _, s := range j.shots {
		if s.Step == "done" {
			v.Done++
		}
	}
	v.Progress = fmt.Sprintf("%d of %d pictures taken", v.Done, len(j.shots))
	if j.state == jobDeveloping {
		v.Progress = "All pictures taken: lining them up and enhancing them"
	}
	// The current frames in the profile's order (a retake is taken last
	// but shown in its shot's place); set-aside frames in the order taken.
	for _, s := range j.shots {
		for _, f := range j.frames {
			if f.ShotID == s.ID && f.Rejected == "" {
				v.Current = append(v.Current, f)
			}
		}
	}
	for _, f := range j.frames {
		if f.Rejected != "" {
			v.Aside = append(v.Aside, f)
		}
	}
	return v
}

// wait returns when no operation of the job is running, or ctx is done.
func (j *job) wait(ctx context.Context) error {
	j.mu.Lock()
	idle := j.idle
	j.mu.Unlock()
	if idle == nil {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// jobOf returns the signed-in user's capture named in the session.
func (k *Kiosk) jobOf(c *gin.Context) (*job, bool) {
	u, _ := web.CurrentUser(c)
	id := web.State(c)[stateCapture]
	k.mu.Lock()
	defer k.mu.Unlock()
	j, ok := k.jobs[id]
	if !ok || j.userID != u.ID {
		return nil, false
	}
	return j, true
}

func (k *Kiosk) captureStart(c *gin.Context) {
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
	shots, err := capture.Shots(p, nil)
	if err != nil {
		k.fail(c, err)
		return
	}
	u, _ := web.CurrentUser(c)
	j := &job{id: newID(), userID: u.ID, state: jobShooting, thumbs: map[*session.Frame][]byte{}}
	for _, s := range shots {
		j.shots = append(j.shots, shotView{ID: s.ID, Label: s.Label})
	}
	j.cfg = capture.Config{
		Ledger: k.cfg.Ledger, Light: k.cfg.Light, Camera: k.cfg.Camera, Profile: p, Clock: k.cfg.Clock,
		Set: seal.Request{Case: d.Case, Site: d.Site, Consent: d.Consent, Restricted: d.Restricted,
			BiometricMark: d.Biometric, Photographer: chain.Person{ID: u.ID, Name: u.Name, Role: u.Role},
			Device: k.cfg.Device},
		OnProgress: j.progress,
	}
	k.mu.Lock()
	k.jobs[j.id] = j
	k.mu.Unlock()
	d.Capture = j.id
	if err := k.saveDraft(c, d); err != nil {
		k.fail(c, err)
		return
	}
	if err := k.web.SetState(c, stateCapture, j.id); err != nil {
		k.fail(c, err)
		return
	}
	k.run(j, jobShooting, k.shoot(j))
	c.Redirect(http.StatusSeeOther, "/capture")
}

// progress is the capture's OnProgress.
func (j *job) progress(p session.Progress) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i := range j.shots {
		if j.shots[i].ID == p.Shot.ID {
			j.shots[i].Step = p.Step
		}
	}
}

// shoot begins the capture if it has not begun, and takes the shots not
// yet taken.
func (k *Kiosk) shoot(j *job) func(ctx context.Context, cp **capture.Capture) error {
	return func(ctx context.Context, cp **capture.Capture) error {
		if *cp == nil {
			c, err := capture.Begin(ctx, j.cfg)
			if err != nil {
				return err
			}
			*cp = c
		}
		if err := (*cp).Shoot(ctx); err != nil {
			return err
		}
		k.develop(ctx, j, *cp)
		return nil
	}
}

// run starts op in a goroutine the Kiosk owns, unless the job is busy.
func (k *Kiosk) run(j *job, state string, op func(ctx context.Context, cp **capture.Capture) error) bool {
	j.mu.Lock()
	if j.busy {
		j.mu.Unlock()
		return false
	}
	j.busy, j.state, j.advice = true, state, ""
	j.idle = make(chan struct{})
	cp := j.cap
	j.mu.Unlock()
	started := k.goOwned(func() {
		release := k.prev.hold() // the live preview ends, its light out, first
		defer release()
		err := op(k.ctx, &cp)
		k.settle(j, state, cp, err)
	})
	if !started {
		j.mu.Lock()
		j.busy, j.state, j.advice = false, jobFailed, "The kiosk is shutting down. Nothing taken is lost."
		close(j.idle)
		j.mu.Unlock()
	}
	return started
}

// settle records how an operation ended and takes a snapshot for the pages.
func (k *Kiosk) settle(j *job, op string, cp *capture.Capture, err error) {
	var frames []frameView
	thumbs := map[*session.Frame][]byte{}
	if cp != nil {
		j.mu.Lock()
		have := j.thumbs
		j.mu.Unlock()
		for i, f := range cp.Frames() {
			fv := frameView{N: i, ShotID: f.Shot.ID, Label: f.Shot.Label, Attempt: f.Attempt, Rejected: f.Rejected, Why: f.Why, frame: f}
			if ex, ok := cp.Picture(f); ok {
				fv.Ref = ex.Ref
				// The gates ran while later shots were taken; waiting
				// here is at most a fraction of a second.
				if fs, err := cp.Findings(context.Background(), f); err == nil {
					fv.Checked = true
					for _, fd := range fs {
						if fd.Level != quality.OK {
							fv.Checks = append(fv.Checks, checkView{Level: fd.Level.String(), Message: fd.Message})
						}
					}
				}
			}
			frames = append(frames, fv)
			if t, ok := have[f]; ok {
				thumbs[f] = t
			} else if t, terr := thumbnail(f.Image); terr == nil {
				thumbs[f] = t
			} else {
				k.cfg.Logger.Error("kiosk: thumbnail", "shot", f.Shot.ID, "err", terr)
			}
		}
	}
	// The devices changed (light on, off, band): read them again before the
	// page that follows is shown, so that it does not show the light on.
	k.status.readNow()
	j.mu.Lock()
	defer j.mu.Unlock()
	defer close(j.idle)
	j.busy, j.cap, j.frames, j.thumbs = false, cp, frames, thumbs
	if cp != nil {
		j.setRef = cp.Set().Ref
	}
	if err != nil && op == jobRetaking {
		// A retake that failed kept the frame it was to replace: back to
		// the review, saying what happened.
		j.state, j.advice = jobReview, advice(err, op)
		for i := range j.shots {
			j.shots[i].Step = "done"
		}
		k.cfg.Logger.Warn("kiosk: retake failed", "capture", j.id, "err", err)
		return
	}
	if err != nil {
		j.state = jobFailed
		j.failedOp = "shoot"
		if op == jobSealing {
			j.failedOp = "seal"
		}
		j.advice = advice(err, op)
		for i := range j.shots {
			if s := j.shots[i].Step; s != "" && s != "done" {
				j.shots[i].Step = "stopped"
			}
		}
		k.cfg.Logger.Warn("kiosk: capture stopped", "capture", j.id, "op", op, "err", err)
		return
	}
	if op == jobSealing {
		j.state = jobSealed
		return
	}
	j.state = jobReview
}

// advice is what the photographer reads when an operation failed.
func advice(err error, op string) string {
	var se *session.ShotError
	if errors.As(err, &se) {
		return se.Advice()
	}
	if errors.Is(err, context.Canceled) {
		return "The kiosk was stopped. The pictures already taken are safe."
	}
	switch {
	case op == jobSealing || errors.Is(err, syscall.ENOSPC):
		// A full disk is named: only freeing space helps.
		return capture.Advice(err)
	default:
		return "The capture could not go on. The pictures already taken are safe. Check the camera and the light, then try again."
	}
}

func (k *Kiosk) capturePage(c *gin.Context) {
	j, ok := k.jobOf(c)
	if !ok {
		c.Redirect(http.StatusSeeOther, "/ready")
		return
	}
	v := j.view()
	switch v.State {
	case jobSealed:
		c.Redirect(http.StatusSeeOther, "/done")
		return
	case jobStopped:
		k.startOver(c)
		return
	}
	k.showCapture(c, http.StatusOK, v)
}

func (k *Kiosk) showCapture(c *gin.Context, status int, v jobView) {
	d, _ := k.draftOf(c)
	step := 5
	if v.State == jobReview || v.State == jobRetaking || v.State == jobSealing || v.State == jobDeveloping {
		step = 6
	}
	k.render(c, status, "capture", "Capture", step, d, v)
}

func (k *Kiosk) progressFragment(c *gin.Context) {
	j, ok := k.jobOf(c)
	if !ok {
		c.Status(http.StatusNotFound)
		return
	}
	k.frag.render(c, "progress", j.view())
}

func (k *Kiosk) statusFragment(c *gin.Context) {
	k.frag.render(c, "status", k.status.view())
}

func (k *Kiosk) thumbnail(c *gin.Context) {
	j, ok := k.jobOf(c)
	n, err := strconv.Atoi(strings.TrimSuffix(c.Param("n"), ".png"))
	if !ok || err != nil {
		c.Status(http.StatusNotFound)
		return
	}
	j.mu.Lock()
	var b []byte
	if n >= 0 && n < len(j.frames) {
		b = j.thumbs[j.frames[n].frame]
	}
	j.mu.Unlock()
	if b == nil {
		c.Status(http.StatusNotFound)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "image/png", b)
}

func (k *Kiosk) captureRetry(c *gin.Context) {
	j, ok := k.jobOf(c)
	if !ok {
		c.Redirect(http.StatusSeeOther, "/")
		return
	}
	j.mu.Lock()
	state, op := j.state, j.failedOp
	j.mu.Unlock()
	if state == jobFailed {
		if op == "seal" {
			k.run(j, jobSealing, k.finish)
		} else {
			k.run(j, jobShooting, k.shoot(j))
		}
	}
	c.Redirect(http.StatusSeeOther, "/capture")
}

func (k *Kiosk) captureRetake(c *gin.Context) {
	j, ok := k.jobOf(c)
	if !ok {
		c.Redirect(http.StatusSeeOther, "/")
		return
	}
	shot := c.PostForm("shot")
	reason := strings.TrimSpace(c.PostForm("reason"))
	v := j.view()
	known := false
	for _, f := range v.Current {
		known = known || f.ShotID == shot
	}
	if v.State != jobReview || !known {
		c.Redirect(http.StatusSeeOther, "/capture")
		return
	}
	if reason == "" {
		v.Error = "Please say why the picture is being retaken (for example: blurred, scale missing). The first picture is kept."
		k.showCapture(c, http.StatusBadRequest, v)
		return
	}
	if len(reason) > 200 {
		reason = reason[:200]
	}
	j.mu.Lock()
	for i := range j.shots {
		if j.shots[i].ID == shot {
			j.shots[i].Step = ""
		}
	}
	j.mu.Unlock()
	k.run(j, jobRetaking, func(ctx context.Context, cp **capture.Capture) error {
		if _, err := (*cp).Retake(ctx, shot, reason); err != nil {
			return err
		}
		k.develop(ctx, j, *cp)
		return nil
	})
	c.Redirect(http.StatusSeeOther, "/capture")
}

// captureStop gives up a paused capture: the pictures taken stay recorded,
// the set stays unsealed, and the kiosk is free for the next one.
func (k *Kiosk) captureStop(c *gin.Context) {
	j, ok := k.jobOf(c)
	if !ok {
		c.Redirect(http.StatusSeeOther, "/")
		return
	}
	j.mu.Lock()
	stopped := !j.busy && j.state == jobFailed
	if stopped {
		j.state = jobStopped
	}
	j.mu.Unlock()
	if !stopped {
		c.Redirect(http.StatusSeeOther, "/capture")
		return
	}
	k.cfg.Logger.Warn("kiosk: capture stopped unsealed by the photographer", "capture", j.id, "set", j.view().SetRef)
	k.startOver(c)
}

func (k *Kiosk) finish(ctx context.Context, cp **capture.Capture) error {
	_, err := (*cp).Finish(ctx)
	return err
}

func (k *Kiosk) captureSeal(c *gin.Context) {
	j, ok := k.jobOf(c)
	if !ok {
		c.Redirect(http.StatusSeeOther, "/")
		return
	}
	if v := j.view(); v.State == jobReview {
		k.run(j, jobSealing, k.finish)
	}
	c.Redirect(http.StatusSeeOther, "/capture")
}

type donePageData struct {
	SetRef   string
	Pictures []frameView
}

func (k *Kiosk) donePage(c *gin.Context) {
	j, ok := k.jobOf(c)
	if !ok {
		c.Redirect(http.StatusSeeOther, "/")
		return
	}
	v := j.view()
	if v.State != jobSealed {
		c.Redirect(http.StatusSeeOther, "/capture")
		return
	}
	d, _ := k.draftOf(c)
	j.mu.Lock()
	pics := append([]frameView(nil), j.frames...)
	j.mu.Unlock()
	k.render(c, http.StatusOK, "done", "Sealed", 7, d, donePageData{SetRef: v.SetRef, Pictures: pics})
}
