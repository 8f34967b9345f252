package bench

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/api/web/webtest"
	"github.com/exhibit-forensics/exhibit/lab/order"
)

// liveToken reads GET /live.
func liveToken(t *testing.T, c *webtest.Client) string {
	t.Helper()
	r := c.Do("GET", "/live", nil, "X-Exhibit-Passive", "1")
	var v struct{ Token string }
	if r.StatusCode != http.StatusOK || json.Unmarshal([]byte(r.Body), &v) != nil || v.Token == "" {
		t.Fatalf("GET /live: %d %s", r.StatusCode, r.Body)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("GET /live: Cache-Control %q", cc)
	}
	return v.Token
}

// TestWorklistOrdersAndLive: a bottle's tests are ordered from its
// sample's page (with CSRF; one order per bottle; a bottle of another
// sample refused) and listed on the worklist with their state and sample;
// GET /live's token changes when an order is placed, when a result is
// stored and when an analyser link changes, and not otherwise; every page
// shows the analysers' links.
func TestWorklistOrdersAndLive(t *testing.T) {
	f := newFixture(t)
	book, err := order.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	link := Link{Name: "screen-1", Over: "serial /dev/ttyUSB0 at 9600 baud", State: "waiting for the analyser", Since: time.Now()}
	f.b.cfg.Orders, f.b.cfg.Setup = book, labSetup
	f.b.cfg.Tests = []Test{{"GHB", "GHB"}, {"BENZ", "Benzodiazepines"}}
	f.b.cfg.Links = func() []Link { return []Link{link} }
	c := webtest.NewClient(t, f.b)
	c.Login("atech", password("atech"), "/")
	mustContain(t, c.Get("/worklist"), "No orders yet", "screen-1", "waiting for the analyser")
	for _, k := range []string{"K1", "K2"} {
		c.Post("/intake", "kit", k, "case", "01/900/26", "seals", "S-"+k, "collected", "2026-12-05T02:00:00Z")
	}
	c.Follow(c.Post("/sample/LB/1", "step", "open", "seal", "S-K1", "reason", "split"), "/sample/LB/1?notice=opened")
	r := c.Follow(c.Post("/sample/LB/1", "step", "split", "volume_A", "40", "seal_A", "S-3", "volume_B", "20", "seal_B", "S-4"), "/sample/LB/1?notice=split")
	mustContain(t, r, `id="form-order"`, `value="GHB"`, "Benzodiazepines", "No tests ordered yet")

	tok := liveToken(t, c)
	if again := liveToken(t, c); again != tok {
		t.Errorf("token changed with nothing new: %s, %s", tok, again)
	}
	size := func() uint64 { n, _ := f.ledger.TreeSize(context.Background()); return n }
	n := size()
	for _, form := range [][]string{
		{"step", "order", "target", "LB/3", "tests", " "},                   // no test
		{"step", "order", "target", "LB/3", "test", "GHB", "priority", "X"}, // no such priority
		{"step", "order", "target", "LB/1", "test", "GHB"},                  // the sample, not a bottle
		{"step", "order", "target", "LB/2", "test", "GHB"},                  // another sample
		{"step", "order", "target", "NOPE", "test", "GHB"},
	} {
		if r := c.Post("/sample/LB/1", form...); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.Body, `id="step-error"`) {
			t.Errorf("%v: %d", form, r.StatusCode)
		}
	}
	if s, _ := book.List(context.Background()); len(s.Orders) != 0 {
		t.Fatalf("refused orders placed: %+v", s.Orders)
	}
	r = c.Follow(c.Post("/sample/LB/1", "step", "order", "target", "LB/3", "test", "GHB", "test", "BENZ", "priority", "S"), "/sample/LB/1?notice=ordered")
	mustContain(t, r, "Order placed", `id="sample-orders"`, "GHB, BENZ", "stat", "pending")
	if m := size(); m != n {
		t.Errorf("an order wrote %d records to the log: it is not evidence", m-n)
	}
	tok2 := liveToken(t, c)
	if tok2 == tok {
		t.Error("token unchanged by an order")
	}
	if r := c.Post("/sample/LB/1", "step", "order", "target", "LB/3", "tests", "GHB"); !strings.Contains(r.Body, "already has an order") {
		t.Errorf("second order on a bottle: %d", r.StatusCode)
	}
	// A form without its CSRF token is refused and places nothing.
	if r := c.Do("POST", "/sample/LB/1", map[string][]string{"step": {"order"}, "target": {"LB/4"}, "tests": {"GHB"}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("order without CSRF: %d", r.StatusCode)
	}
	s, _ := book.List(context.Background())
	if len(s.Orders) != 1 || s.Orders[0].Specimen != "LB/3" || s.Orders[0].Ref != "LB/3" || s.Orders[0].Priority != order.Stat {
		t.Fatalf("book %+v", s.Orders)
	}
	mustContain(t, c.Get("/worklist"), `id="worklist"`, `<a href="/sample/LB/1">LB/1</a>`, "GHB, BENZ", "pending", "1 waiting")

	// The analyser's result: the token moves; the worklist shows it
	// resulted once the book has it (as the receiver's observer records).
	captureRun(t, f.ledger, "run1.csv", [2]string{"QC-GHB-L1", "5.1"}, [2]string{"QC-GHB-L2", "19.7"}, [2]string{"LB/3", "45.0"})
	tok3 := liveToken(t, c)
	if tok3 == tok2 {
		t.Error("token unchanged by a result")
	}
	mustContain(t, c.Get("/sample/LB/1"), "confirmed positive")
	link.Up, link.State = true, "connected"
	if tok4 := liveToken(t, c); tok4 == tok3 {
		t.Error("token unchanged by the link coming up")
	}
	mustContain(t, c.Get("/"), "screen-1", "connected")

	// Without a book there is no worklist and no order form.
	f.b.cfg.Orders = nil
	mustContain(t, c.Get("/worklist"), "no order book")
	if r := c.Get("/sample/LB/1"); strings.Contains(r.Body, `id="form-order"`) {
		t.Error("order form without a book")
	}
}

// TestHeldCannotBeAuthorised: a sample whose run failed QC is reviewed;
// the authoriser is not offered the form, and a POST of it is refused and
// records nothing.
func TestHeldCannotBeAuthorised(t *testing.T) {
	f := newFixture(t)
	f.b.cfg.Setup = labSetup
	c := webtest.NewClient(t, f.b)
	c.Login("atech", password("atech"), "/")
	c.Post("/intake", "kit", "K1", "case", "01/900/26", "seals", "S-1", "collected", "2026-12-05T02:00:00Z")
	c.Post("/sample/LB/1", "step", "open", "seal", "S-1", "reason", "split")
	c.Post("/sample/LB/1", "step", "split", "volume_A", "40", "seal_A", "S-2", "volume_B", "20", "seal_B", "S-3")
	// The low control 8 SD above its mean: 1-3s, the run is rejected.
	captureRun(t, f.ledger, "run1.csv", [2]string{"QC-GHB-L1", "9.0"}, [2]string{"QC-GHB-L2", "19.7"}, [2]string{"LB/2", "45.0"})
	mustContain(t, c.Get("/sample/LB/1"), `class="result held"`, "1-3s")
	c.Follow(c.Post("/sample/LB/1", "step", "review"), "/sample/LB/1?notice=reviewed")
	a := webtest.NewClient(t, f.b)
	a.Login("bauth", password("bauth"), "/")
	r := a.Get("/sample/LB/1")
	mustContain(t, r, `id="authorise-held"`)
	if strings.Contains(r.Body, `id="do-authorise"`) {
		t.Error("the authoriser is offered a held report")
	}
	n, _ := f.ledger.TreeSize(context.Background())
	if r := a.Post("/sample/LB/1", "step", "authorise"); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.Body, "QC") {
		t.Errorf("authorising a held report: %d", r.StatusCode)
	}
	if m, _ := f.ledger.TreeSize(context.Background()); m != n {
		t.Errorf("a refused authorisation wrote %d records", m-n)
	}
}
