package kiosk

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/exhibit-forensics/exhibit/api/auth"
	"github.com/exhibit-forensics/exhibit/api/hub/agentsync"
	"github.com/exhibit-forensics/exhibit/api/web/webtest"
	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/devices/camera/netcam"
	"github.com/exhibit-forensics/exhibit/devices/rigsim"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/rigtest"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
	"github.com/exhibit-forensics/exhibit/imaging/seal"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// cheap argon2id parameters keep account set-up fast (api/auth checks the
// real ones).
var cheap = auth.Params{Time: 1, Memory: 64, Threads: 1}

var testUsers = []struct{ id, name, role string }{
	{"jsmith", "Jo Smith", "photographer"},
	{"sup", "Sam Okafor", "supervisor"},
	{"amehta", "Asha Mehta", "lab-technician"},
	{"cdavies", "Cerys Davies", "case-officer"},
}

func password(id string) string { return id + "-password-1" }

type fixture struct {
	t      *testing.T
	k      *Kiosk
	rig    *rigsim.Rig
	ledger *ledger.Ledger
	data   string
}

// newFixture starts the simulated rig, opens the real drivers on it, makes a
// data directory with the test accounts, and a Kiosk over them.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	r := rigtest.Start(t, rigsim.Config{Seed: 11, Scene: scene.Config{Width: 640, Height: 480, Skin: 5}}, netcam.Config{})
	rig, ld, cam := r.Sim, r.Light, r.Camera
	data := t.TempDir()
	l, err := datadir.Init(ctx, data, "Jo Smith", "JS", datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	users := auth.Open(data, nil).WithParams(cheap)
	for _, u := range testUsers {
		if err := users.Add(u.id, u.name, u.role, password(u.id)); err != nil {
			t.Fatal(err)
		}
	}
	k, err := New(Config{Ledger: l, Users: users, Light: ld, Camera: cam, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return &fixture{t: t, k: k, rig: rig, ledger: l, data: data}
}

// client is a webtest.Client signed in to the kiosk's pages.
type client struct {
	*webtest.Client
	t *testing.T
}

type response = webtest.Response

func (f *fixture) client() *client {
	return &client{Client: webtest.NewClient(f.t, f.k), t: f.t}
}

func (c *client) get(target string) response { c.t.Helper(); return c.Get(target) }

func (c *client) post(target string, kv ...string) response {
	c.t.Helper()
	return c.Post(target, kv...)
}

func (c *client) do(method, target string, form url.Values) response {
	c.t.Helper()
	return c.Do(method, target, form)
}

func (c *client) follow(r response, want string) response { c.t.Helper(); return c.Follow(r, want) }

// login signs in as id.
func (c *client) login(id string) { c.t.Helper(); c.Login(id, password(id), "/case") }

// journey walks from a new case to the ready page.
func (c *client) journey(caseRef, profile string) {
	c.t.Helper()
	c.follow(c.get("/"), "/case")
	c.follow(c.post("/case", "new_case", caseRef), "/consent")
	c.follow(c.post("/consent", "photos", "yes", "court", "yes", "by", "person"), "/site")
	c.get("/site?region=f-l-forearm")
	c.follow(c.post("/site", "region", "f-l-forearm", "refine", "outer side"), "/profile")
	c.follow(c.post("/profile", "profile", profile), "/ready")
}

// currentJob is the job the client's session names.
func (f *fixture) onlyJob() *job {
	f.t.Helper()
	f.k.mu.Lock()
	defer f.k.mu.Unlock()
	if len(f.k.jobs) != 1 {
		f.t.Fatalf("%d capture jobs, want 1", len(f.k.jobs))
	}
	for _, j := range f.k.jobs {
		return j
	}
	return nil
}

func (f *fixture) waitJob(j *job) {
	f.t.Helper()
	if err := j.wait(context.Background()); err != nil {
		f.t.Fatal(err)
	}
}

func mustContain(t *testing.T, r response, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(r.Body, w) {
			t.Errorf("%s %s: page lacks %q:\n%s", r.Method, r.Path, w, r.Body)
		}
	}
}

// TestRoles: only photographers and supervisors use the kiosk; others see
// a calm refusal, and nobody signed out gets past the sign-in page.
func TestRoles(t *testing.T) {
	f := newFixture(t)
	anon := f.client()
	if r := anon.get("/case"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Errorf("signed out: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	for _, u := range testUsers {
		c := f.client()
		c.login(u.id)
		r := c.get("/case")
		allowed := u.role == "photographer" || u.role == "supervisor"
		switch {
		case allowed && r.StatusCode != http.StatusOK:
			t.Errorf("%s (%s): %d", u.id, u.role, r.StatusCode)
		case !allowed && r.StatusCode != http.StatusForbidden:
			t.Errorf("%s (%s) got %d, want 403", u.id, u.role, r.StatusCode)
		case allowed:
			mustContain(t, r, "Which case?", `id="status-light"`, `id="status-camera"`)
		}
		if !allowed && c.post("/case", "new_case", "01/1/26").StatusCode != http.StatusForbidden {
			t.Errorf("%s (%s) could post a case", u.id, u.role)
		}
	}
}

// TestCSRF: every form of the kiosk is refused without the session's token,
// and nothing changes.
func TestCSRF(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.login("jsmith")
	c.journey("01/777/26", "injury-quick")
	before, err := f.ledger.TreeSize(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/new", "/case", "/consent", "/site", "/profile", "/capture", "/capture/retry", "/capture/retake", "/capture/seal", "/capture/stop"} {
		for _, tok := range []string{"", "not-the-token"} {
			form := url.Values{"new_case": {"01/888/26"}, "photos": {"no"}, "by": {"person"}, "profile": {"injury-standard"}}
			if tok != "" {
				form.Set("csrf_token", tok)
			}
			if r := c.do("POST", path, form); r.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s with token %q: %d, want 403", path, tok, r.StatusCode)
			}
		}
	}
	// Still on the ready page with the same case; no capture started.
	r := c.follow(c.get("/"), "/ready")
	mustContain(t, r, "01/777/26", "injury-quick@1", "Start capture")
	f.k.mu.Lock()
	n := len(f.k.jobs)
	f.k.mu.Unlock()
	after, _ := f.ledger.TreeSize(context.Background())
	if n != 0 || after != before {
		t.Errorf("after refused forms: %d jobs, log %d → %d", n, before, after)
	}
}

// TestRefusedConsent: a refusal of photographs ends the journey calmly,
// nothing is taken, and the later steps cannot be reached.
func TestRefusedConsent(t *testing.T) {
	f := newFixture(t)
	before, _ := f.ledger.TreeSize(context.Background())
	c := f.client()
	c.login("jsmith")
	c.follow(c.post("/case", "new_case", "01/555/26"), "/consent")
	r := c.follow(c.post("/consent", "photos", "no", "by", "parent", "by_name", "Ann Lee"), "/consent")
	mustContain(t, r, "No photographs will be taken", "a parent or guardian (Ann Lee)", "The refusal is recorded in the case as exhibit")
	for _, p := range []string{"/site", "/profile", "/ready"} {
		if r := c.get(p); r.StatusCode != http.StatusSeeOther {
			t.Errorf("GET %s after a refusal: %d", p, r.StatusCode)
		}
	}
	if r := c.post("/capture"); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		t.Errorf("POST /capture after a refusal: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if r := c.follow(c.get("/"), "/consent"); !strings.Contains(r.Body, "No photographs will be taken") {
		t.Error("the refusal page does not come back on reload")
	}
	// The refusal is recorded once, as a document of the case whose
	// declaration says who refused what, and when; sending the form again
	// records nothing more.
	c.follow(c.post("/consent", "photos", "no", "by", "parent", "by_name", "Ann Lee"), "/consent")
	after, _ := f.ledger.TreeSize(context.Background())
	if after != before+1 || len(f.k.jobs) != 0 {
		t.Errorf("log %d → %d, %d jobs after a refusal", before, after, len(f.k.jobs))
	}
	exs, err := f.ledger.Exhibits(context.Background(), "01/555/26")
	if err != nil || len(exs) != 1 || exs[0].Kind != chain.ExhibitDocument || !strings.Contains(r.Body, exs[0].Ref) {
		t.Fatalf("the case holds %+v (%v)", exs, err)
	}
	rc, _, err := f.ledger.Open(context.Background(), exs[0].Blobs[0].Hash)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	decl, err := seal.ParseDeclaration(b)
	if err != nil || len(decl.Decisions) != 1 || decl.Decisions[0].Given || decl.Decisions[0].By != "a parent or guardian (Ann Lee)" ||
		decl.RecordedBy.ID != "jsmith" {
		t.Errorf("declaration %+v (%v)", decl, err)
	}
	// An incomplete answer is asked again, not guessed.
	c.follow(c.post("/new"), "/case")
	c.follow(c.post("/case", "new_case", "01/556/26"), "/consent")
	if r := c.post("/consent", "photos", "yes", "by", "person"); r.StatusCode != http.StatusBadRequest {
		t.Errorf("consent without the court question: %d", r.StatusCode)
	}
}

// TestFailedCaptureAdvice: with the safety interlock open the capture stops
// at the violet shot with the session's advice and a Try again button; once
// the cover is closed, Try again carries on from that shot.
func TestFailedCaptureAdvice(t *testing.T) {
	f := newFixture(t)
	f.rig.Light.SetInterlock(true)
	c := f.client()
	c.login("jsmith")
	c.journey("01/999/26", "injury-quick")
	c.follow(c.post("/capture"), "/capture")
	j := f.onlyJob()
	f.waitJob(j)
	r := c.get("/capture")
	mustContain(t, r, "The capture has paused", `id="try-again"`, "Stopped")
	v := j.view()
	if v.State != jobFailed || v.Advice == "" || !strings.Contains(r.Body, v.Advice) {
		t.Fatalf("state %q advice %q", v.State, v.Advice)
	}
	t.Logf("advice: %s", v.Advice)
	taken := v.Done

	f.rig.Light.SetInterlock(false)
	c.follow(c.post("/capture/retry"), "/capture")
	f.waitJob(j)
	v = j.view()
	if v.State != jobReview || v.Done != len(v.Shots) || len(v.Current) != len(v.Shots) {
		t.Fatalf("after Try again: state %q, %d of %d done, %d frames", v.State, v.Done, len(v.Shots), len(v.Current))
	}
	if taken == 0 || taken >= len(v.Shots) {
		t.Errorf("%d shots were taken before the interlock stopped the capture", taken)
	}
	r = c.get("/capture")
	mustContain(t, r, "Check the pictures", "Accept and seal")
	// Each thumbnail is an 8-bit PNG.
	for _, fr := range v.Current {
		th := c.get("/capture/frame/" + strconv.Itoa(fr.N) + ".png")
		if th.StatusCode != http.StatusOK || th.Header.Get("Content-Type") != "image/png" {
			t.Errorf("thumbnail %d: %d %s", fr.N, th.StatusCode, th.Header.Get("Content-Type"))
		}
	}
}

// gatedCamera is the real camera driver with a gate before its second
// capture, so that the test can reload the page while a capture is
// certainly in progress.
type gatedCamera struct {
	*netcam.Dev
	mu      sync.Mutex
	n       int
	gate    chan struct{}
	reached chan struct{} // closed when the second capture waits at the gate
}

// gate puts a gate before the kiosk's camera's second capture.
func (f *fixture) gate() *gatedCamera {
	gc := &gatedCamera{Dev: f.k.cfg.Camera.(*netcam.Dev), gate: make(chan struct{}), reached: make(chan struct{})}
	f.k.cfg.Camera = gc
	return gc
}

func (g *gatedCamera) Capture(ctx context.Context) (*camera.Frame, error) {
	g.mu.Lock()
	g.n++
	n := g.n
	g.mu.Unlock()
	if n == 2 {
		close(g.reached)
		select {
		case <-g.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.Dev.Capture(ctx)
}

// TestServeHaltsOnStop: stopping the server mid-capture (SIGINT in the
// agent) halts the capture with the light on, switches the light off, and
// keeps the picture already taken.
func TestServeHaltsOnStop(t *testing.T) {
	f := newFixture(t)
	gc := f.gate()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- f.k.Serve(ctx, ln) }()

	c := f.client()
	c.login("jsmith")
	c.journey("01/321/26", "injury-quick")
	c.follow(c.post("/capture"), "/capture")
	<-gc.reached
	if !f.rig.Light.Emission().On {
		t.Fatal("the light is not on during the second shot")
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if f.rig.Light.Emission().On {
		t.Error("the light is still on after the kiosk stopped")
	}
	j := f.onlyJob()
	if v := j.view(); v.State != jobFailed || v.Done != 1 || len(v.Current) != 1 || v.Current[0].Ref == "" {
		t.Errorf("after stopping: state %q, %d done, frames %+v", v.State, v.Done, v.Current)
	}
}

// TestResumeAfterSignIn: a capture outlives its session. Signed in again
// (after an idle time-out, or from a browser opened later), the
// photographer is brought back to the capture they had started and not
// sealed; a capture they stopped is not resumed, and its pictures stay.
func TestResumeAfterSignIn(t *testing.T) {
	f := newFixture(t)
	f.rig.Light.SetInterlock(true)
	c := f.client()
	c.login("jsmith")
	c.journey("01/246/26", "injury-quick")
	c.follow(c.post("/capture"), "/capture")
	j := f.onlyJob()
	f.waitJob(j)

	other := f.client() // a new browser, a new session
	other.login("sup")
	if r := other.get("/"); r.Header.Get("Location") != "/case" {
		t.Errorf("another user is sent to %q", r.Header.Get("Location"))
	}
	// The case is among the recent ones, and a tap on it starts a journey.
	mustContain(t, other.get("/case"), "Recent cases", `name="case" value="01/246/26"`)
	other.follow(other.post("/case", "case", "01/246/26"), "/consent")
	again := f.client()
	again.login("jsmith")
	r := again.follow(again.get("/"), "/capture")
	mustContain(t, r, "The capture has paused", "01/246/26", `id="stop-capture"`)

	again.follow(again.post("/capture/stop"), "/case")
	if v := j.view(); v.State != jobStopped || len(v.Current) == 0 || v.Current[0].Ref == "" {
		t.Fatalf("stopped job: %+v", v)
	}
	third := f.client()
	third.login("jsmith")
	if r := third.get("/"); r.Header.Get("Location") != "/case" {
		t.Errorf("a stopped capture is resumed: %q", r.Header.Get("Location"))
	}
}

// The status panel shows the sync to the hub beside the devices, calm
// while evidence waits and red only when a person must act.
func TestStatusShowsHub(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	st := &agentsync.Status{Queue: 3, PendingBytes: 45e6, LastError: "dial tcp: connection refused", Failures: 2, LastAttempt: time.Now()}
	f.k.cfg.Outbox = func() *agentsync.Status { mu.Lock(); defer mu.Unlock(); return st }
	c := f.client()
	c.login("jsmith")
	r := c.get("/status")
	for _, want := range []string{`id="status-hub"`, "3 items waiting to be sent (45 MB)", "Kept safely here", "will retry"} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("status panel lacks %q:\n%s", want, r.Body)
		}
	}
	if strings.Contains(r.Body, `problem" id="status-hub"`) {
		t.Errorf("an unreachable hub is shown as a problem for the photographer")
	}
}
