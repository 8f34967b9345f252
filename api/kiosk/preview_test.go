package kiosk

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/api/auth"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/devices/camera/netcam"
	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/rigsim"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/rigtest"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
)

// newPreviewFixture is newFixture with a 1280 × 960 sensor, so that the
// 16:9 preview is 1280 × 720.
func newPreviewFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	r := rigtest.Start(t, rigsim.Config{Seed: 12, Scene: scene.Config{Width: 1280, Height: 960, Skin: 3}}, netcam.Config{})
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
	k, err := New(Config{Ledger: l, Users: users, Light: r.Light, Camera: r.Camera, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return &fixture{t: t, k: k, rig: r.Sim, ledger: l, data: data}
}

// openPreview asks the kiosk, served over real HTTP, for the preview with
// c's session, and reads its parts with the netcam driver's strict reader.
func openPreview(t *testing.T, ctx context.Context, srv *httptest.Server, c *client) (*http.Response, *netcam.PreviewReader) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/preview.mjpg", nil)
	c.AddCookies(req)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		return resp, nil
	}
	r, err := netcam.NewPreviewReader(resp.Header.Get("Content-Type"), resp.Body, 1280, 720, 0)
	if err != nil {
		t.Fatal(err)
	}
	return resp, r
}

// waitPreviewEnded waits until no preview is open: its handler has put
// the light out.
func (f *fixture) waitPreviewEnded() {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.k.prev.wait(ctx); err != nil {
		f.t.Fatal("the preview did not end")
	}
}

func (f *fixture) lightOff(when string) {
	f.t.Helper()
	if e := f.rig.Light.Emission(); e.On {
		f.t.Errorf("%s: the light is on (%s/%s %d%%)", when, e.Band, e.Filter, e.Level)
	}
}

// TestPreviewRelay: the ready page shows the preview; the kiosk relays
// 1280 × 720 JPEG frames lit by the locator's white light, and puts the
// light out when the browser goes away.
func TestPreviewRelay(t *testing.T) {
	f := newPreviewFixture(t)
	srv := httptest.NewServer(f.k)
	defer srv.Close()
	c := f.client()
	c.login("jsmith")
	c.journey("01/321/26", "injury-quick")
	mustContain(t, c.get("/ready"), `<img src="/preview.mjpg"`)
	f.lightOff("before the preview")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, r := openPreview(t, ctx, srv, c)
	if r == nil {
		t.Fatalf("HTTP %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q", got)
	}
	for i := range 3 {
		fr, err := r.Next()
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if fr.Width != 1280 || fr.Height != 720 {
			t.Errorf("part %d is %dx%d", i, fr.Width, fr.Height)
		}
	}
	if e := f.rig.Light.Emission(); !e.On || e.Band != light.BandWhite || e.Filter != light.FilterNone || e.Level != 80 {
		t.Errorf("while previewing the light is %+v, want white, no filter, 80%%", e)
	}
	cancel() // the browser leaves the page
	f.waitPreviewEnded()
	f.lightOff("after the browser left")
}

// TestPreviewEndsForCapture: starting the capture ends the preview, with
// its light out, before the capture drives the devices; while the capture
// runs there is no preview.
func TestPreviewEndsForCapture(t *testing.T) {
	f := newPreviewFixture(t)
	srv := httptest.NewServer(f.k)
	defer srv.Close()
	c := f.client()
	c.login("jsmith")
	c.journey("01/322/26", "injury-quick")
	_, r := openPreview(t, context.Background(), srv, c)
	if r == nil {
		t.Fatal("no preview")
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	release := f.k.prev.hold() // as a capture operation does first
	for {
		if _, err := r.Next(); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Logf("stream ended: %v", err)
			}
			break
		}
	}
	f.lightOff("once a capture holds the devices")
	resp, r2 := openPreview(t, context.Background(), srv, c)
	if r2 != nil || resp.StatusCode != http.StatusConflict {
		t.Errorf("preview during a capture: HTTP %d", resp.StatusCode)
	}
	release()

	// The real thing: a capture started from the ready page.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, r = openPreview(t, ctx, srv, c)
	if r == nil {
		t.Fatal("no preview after the hold was released")
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	c.follow(c.post("/capture"), "/capture")
	for {
		if _, err := r.Next(); err != nil {
			break
		}
	}
	j := f.onlyJob()
	f.waitJob(j)
	if v := j.view(); v.State != jobReview {
		t.Fatalf("capture ended %s: %s", v.State, v.Advice)
	}
	f.lightOff("after the capture")
	// Once a capture has started, this journey has no preview.
	resp, r2 = openPreview(t, context.Background(), srv, c)
	if r2 != nil || resp.StatusCode != http.StatusConflict {
		t.Errorf("preview after the capture started: HTTP %d", resp.StatusCode)
	}
}

// TestPreviewEndsOnClose: closing the Kiosk (the agent stopping) ends the
// preview and the light is out when Close returns.
func TestPreviewEndsOnClose(t *testing.T) {
	f := newPreviewFixture(t)
	srv := httptest.NewServer(f.k)
	defer srv.Close()
	c := f.client()
	c.login("jsmith")
	c.journey("01/323/26", "injury-quick")
	_, r := openPreview(t, context.Background(), srv, c)
	if r == nil {
		t.Fatal("no preview")
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if !f.rig.Light.Emission().On {
		t.Fatal("the light is off during the preview")
	}
	f.k.Close()
	f.lightOff("after Close")
}

// TestPreviewRefused: no preview without a journey at the ready step.
func TestPreviewRefused(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.login("jsmith")
	if r := c.get("/preview.mjpg"); r.StatusCode != http.StatusConflict || !strings.Contains(r.Body, "before a capture") {
		t.Errorf("without a journey: HTTP %d %q", r.StatusCode, r.Body)
	}
	f.lightOff("after a refused preview")
	if w, h := previewSize(640, 480); w != 640 || h != 360 {
		t.Errorf("preview of a 640×480 sensor: %dx%d", w, h)
	}
	if w, h := previewSize(4000, 3000); w != 1280 || h != 720 {
		t.Errorf("preview of a 4000×3000 sensor: %dx%d", w, h)
	}
}
