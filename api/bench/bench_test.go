package bench

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/exhibit-forensics/exhibit/api/auth"
	"github.com/exhibit-forensics/exhibit/api/hub/agentsync"
	"github.com/exhibit-forensics/exhibit/api/web/webtest"
	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

var cheap = auth.Params{Time: 1, Memory: 64, Threads: 1}

var testUsers = []struct{ id, name, role string }{
	{"atech", "Alex Turing", "lab-technician"},
	{"bauth", "Bea Okoro", "lab-authoriser"},
	{"jsmith", "Jo Smith", "photographer"},
}

func password(id string) string { return id + "-password-1" }

type fixture struct {
	b      *Bench
	ledger *ledger.Ledger
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	data := t.TempDir()
	l, err := datadir.Init(context.Background(), data, "Lab Bench", "LB", datadir.Options{})
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
	b, err := New(Config{Ledger: l, Users: users, Logger: slog.New(slog.DiscardHandler), Device: "bench-1"})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{b: b, ledger: l}
}

func mustContain(t *testing.T, r webtest.Response, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(r.Body, w) {
			t.Errorf("%s %s (%d): page lacks %q", r.Method, r.Path, r.StatusCode, w)
		}
	}
}

// TestIntakeAndCustody: a kit received through the form shows its
// warnings; scanning its barcode, or typing a reference, jumps to it; the
// seal opened, the split, a two-party handover and a disposal each become
// a record, and a step that fails its check records nothing.
func TestIntakeAndCustody(t *testing.T) {
	f := newFixture(t)
	c := webtest.NewClient(t, f.b)
	c.Login("atech", password("atech"), "/")
	r := c.Post("/intake", "kit", "]C10109501101530003\x1d21K000417", "case", "01/900/26", "seals", "S-1 S-2",
		"collected", "2026-12-05T19:00:00Z", "incident", "2026-12-04T23:00:00Z", "volume", "80", "venue", "V-0042", "grid", "tq 30123 80456")
	r = c.Follow(r, "/sample/LB/1?notice=received")
	mustContain(t, r, "Sample LB/1", "Kit received.", "K000417", "01/900/26", "ghb", "Open the seal", "venue V-0042, grid TQ3012380456")

	// The same kit again — scanned, or its number typed — lands on its
	// sample; nothing new is recorded.
	for _, kit := range []string{"]C10109501101530003\x1d21K000417", "K000417"} {
		r = c.Post("/intake", "kit", kit, "case", "01/900/26", "seals", "S-1", "collected", "2026-12-05T19:00:00Z")
		c.Follow(r, "/sample/LB/1?notice=already")
	}
	// A form the checks refuse is shown again with the reason.
	r = c.Post("/intake", "kit", "K9", "case", "01/900/26", "seals", "S-1", "collected", "2026-12-04T19:00:00Z", "incident", "2026-12-04T23:00:00Z")
	if r.StatusCode != http.StatusBadRequest {
		t.Errorf("collected before the incident: %d", r.StatusCode)
	}
	mustContain(t, r, "before the incident", `value="K9"`)
	// A grid reference that is not one: refused, the form kept.
	r = c.Post("/intake", "kit", "K9", "case", "01/900/26", "seals", "S-1", "collected", "2026-12-05T19:00:00Z", "grid", "TQ308", "venue", "V-7")
	if r.StatusCode != http.StatusBadRequest {
		t.Errorf("a bad grid reference: %d", r.StatusCode)
	}
	mustContain(t, r, "grid reference", `value="TQ308"`, `value="V-7"`)

	for _, code := range []string{"]C10109501101530003\x1d21K000417", "K000417", "lb/1"} {
		r := c.Get("/scan?code=" + url.QueryEscape(code))
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/sample/LB/1" {
			t.Errorf("scan %q: %d %s", code, r.StatusCode, r.Header.Get("Location"))
		}
	}
	r = c.Get("/scan?code=NOPE-1")
	if r.StatusCode != http.StatusNotFound {
		t.Errorf("unknown code: %d", r.StatusCode)
	}
	mustContain(t, r, "Nothing is recorded under")

	size := func() uint64 { n, _ := f.ledger.TreeSize(context.Background()); return n }
	n := size()
	// Refused steps record nothing.
	for _, form := range [][]string{
		{"step", "split", "volume_A", "40", "seal_A", "S-10", "volume_B", "20", "seal_B", "S-11"}, // still sealed
		{"step", "open", "seal", "S-1", "reason", ""},
		{"step", "handover", "to", "bauth", "from_password", "wrong", "to_password", password("bauth")},
		{"step", "handover", "to", "bauth", "from_password", password("atech"), "to_password", "wrong"},
		{"step", "handover", "to", "atech", "from_password", password("atech"), "to_password", password("atech")},
		{"step", "dispose", "reason", " "},
	} {
		r := c.Post("/sample/LB/1", form...)
		if r.StatusCode != http.StatusBadRequest || !strings.Contains(r.Body, `id="step-error"`) {
			t.Errorf("%v: %d", form, r.StatusCode)
		}
	}
	if m := size(); m != n {
		t.Fatalf("refused steps wrote %d records", m-n)
	}
	c.Follow(c.Post("/sample/LB/1", "step", "open", "seal", "S-1", "reason", "split into A and B"), "/sample/LB/1?notice=opened")
	r = c.Follow(c.Post("/sample/LB/1", "step", "split", "volume_A", "50", "seal_A", "S-10", "volume_B", "25", "seal_B", "S-11", "storage", "fridge 2"),
		"/sample/LB/1?notice=split")
	mustContain(t, r, "LB/2", "LB/3", "S-10", "fridge 2")
	c.Follow(c.Post("/sample/LB/1", "step", "handover", "target", "LB/2", "to", "bauth", "from_password", password("atech"),
		"to_password", password("bauth"), "reason", "to the analyser room", "seal", "S-10"), "/sample/LB/1?notice=handed")
	r = c.Follow(c.Post("/sample/LB/1", "step", "dispose", "target", "LB/3", "reason", "destroyed: retention period over"), "/sample/LB/1?notice=disposed")
	mustContain(t, r, "handed over from Alex Turing to Bea Okoro: to the analyser room (seal S-10)", "disposed: destroyed")
	// Scanning an aliquot's reference lands on its sample.
	if r := c.Get("/scan?code=LB/2"); r.Header.Get("Location") != "/sample/LB/1" {
		t.Errorf("aliquot scan: %s", r.Header.Get("Location"))
	}
	recs, err := f.ledger.ChainRecords(context.Background(), mustRef(t, f.ledger, "LB/2").ID)
	if err != nil {
		t.Fatal(err)
	}
	last, _ := recs[len(recs)-1].Decode()
	if last.Kind != chain.KindTransferred || last.Statement.Predicate.Handover.To.ID != "bauth" || last.Statement.Predicate.Handover.From.AuthMethod == "" {
		t.Errorf("handover record %+v", last.Statement.Predicate.Handover)
	}
	r = c.Get("/")
	mustContain(t, r, "LB/1", "K000417", "A LB/2", "B LB/3")

	// A serial scanner's readings: a received kit leads to its sample, a
	// new one to intake with its barcode filled in.
	if r := c.Get("/scan/latest"); !strings.Contains(r.Body, `"seq":"0"`) {
		t.Errorf("before any serial scan: %s", r.Body)
	}
	f.b.Scanned(context.Background(), "K000417")
	if r := c.Get("/scan/latest"); !strings.Contains(r.Body, `"seq":"1"`) || !strings.Contains(r.Body, `"href":"/sample/LB/1"`) {
		t.Errorf("after a serial scan: %s", r.Body)
	}
	f.b.Scanned(context.Background(), "K-NEW-9")
	if r := c.Get("/scan/latest"); !strings.Contains(r.Body, `"href":"/intake?kit=K-NEW-9"`) {
		t.Errorf("a new kit scanned: %s", r.Body)
	}
	mustContain(t, c.Get("/intake?kit=K-NEW-9"), `value="K-NEW-9"`, "not received yet")

	// A photographer may not use the bench.
	p := webtest.NewClient(t, f.b)
	p.Login("jsmith", password("jsmith"), "/")
	if r := p.Get("/intake"); r.StatusCode != http.StatusForbidden {
		t.Errorf("photographer on the bench: %d", r.StatusCode)
	}
}

func mustRef(t *testing.T, l *ledger.Ledger, ref string) store.Exhibit {
	t.Helper()
	e, err := l.ExhibitByRef(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Every page shows the sync to the hub beside the analyser links; a
// refusal is marked as a problem with its reason.
func TestPagesShowHub(t *testing.T) {
	f := newFixture(t)
	f.b.cfg.Outbox = func() *agentsync.Status {
		return &agentsync.Status{Queue: 2, PendingBytes: 3e3, Refused: true, LastError: "device revoked: stolen"}
	}
	c := webtest.NewClient(t, f.b)
	c.Login("atech", password("atech"), "/")
	r := c.Get("/")
	mustContain(t, r, `class="link hub down" id="hub-line"`, "The hub refused the evidence sent", "tell the administrator", "device revoked: stolen")
}

// midRender is a ledger in which a record is stored just after the log's
// size is first read while a page is made, as an analyser's result may be.
type midRender struct {
	Ledger
	once sync.Once
	t    *testing.T
}

func (m *midRender) TreeSize(ctx context.Context) (uint64, error) {
	n, err := m.Ledger.TreeSize(ctx)
	m.once.Do(func() {
		if _, _, err := m.Ledger.(*ledger.Ledger).Import(ctx, ledger.ImportRequest{Case: "LIVE-1", Kind: "document", FileName: "x.txt", Body: strings.NewReader("stored mid-render")}); err != nil {
			m.t.Error(err)
		}
	})
	return n, err
}

// A page never carries a live token newer than what it shows: a record
// stored while the page is made leaves the page's token behind /live's,
// so the page fetches itself again (before, the token was read after the
// page's contents, and such a page waited for a change that had already
// happened).
func TestLiveTokenNotNewerThanPage(t *testing.T) {
	f := newFixture(t)
	c := webtest.NewClient(t, f.b)
	c.Login("atech", password("atech"), "/")
	f.b.cfg.Ledger = &midRender{Ledger: f.ledger, t: t}
	page := c.Get("/")
	m := regexp.MustCompile(`data-live="links" data-token="([^"]+)"`).FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no live token on the page:\n%s", page.Body)
	}
	live := c.Get("/live")
	var s struct{ Token string }
	if err := json.Unmarshal([]byte(live.Body), &s); err != nil || s.Token == "" {
		t.Fatalf("/live: %v %s", err, live.Body)
	}
	if s.Token == m[1] {
		t.Errorf("the page's token %s is /live's after a record stored while the page was made: it would never refresh", m[1])
	}
}
