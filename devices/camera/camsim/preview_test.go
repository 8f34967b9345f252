package camsim

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/internal/clock"
)

// previewQueries are stream queries for a 640×480 sensor, valid and not;
// the seed corpus of FuzzPreviewQuery.
var previewQueries = []struct {
	query string
	want  PreviewSpec // zero: refused
}{
	{"", PreviewSpec{160, 120, 5, image.Rect(0, 0, 640, 480)}},
	{"fps=15", PreviewSpec{160, 120, 15, image.Rect(0, 0, 640, 480)}},
	{"width=320&height=180&fps=15", PreviewSpec{320, 180, 15, image.Rect(0, 60, 640, 420)}},
	{"width=640&height=480", PreviewSpec{640, 480, 5, image.Rect(0, 0, 640, 480)}},
	{"width=100&height=200&fps=30", PreviewSpec{100, 200, 30, image.Rect(200, 0, 440, 480)}},
	{"width=1&height=1&fps=1", PreviewSpec{1, 1, 1, image.Rect(80, 0, 560, 480)}},
	{"width=641&height=480", PreviewSpec{}},
	{"width=640&height=481", PreviewSpec{}},
	{"width=320", PreviewSpec{}},
	{"height=180", PreviewSpec{}},
	{"width=0&height=0", PreviewSpec{}},
	{"width=-320&height=180", PreviewSpec{}},
	{"width=+320&height=180", PreviewSpec{}},
	{"width=320.0&height=180", PreviewSpec{}},
	{"width=320&width=320&height=180", PreviewSpec{}},
	{"fps=0", PreviewSpec{}},
	{"fps=31", PreviewSpec{}},
	{"fps=", PreviewSpec{}},
	{"fps=99999999999999999999", PreviewSpec{}},
	{"quality=90", PreviewSpec{}},
	{"Width=320&Height=180", PreviewSpec{}},
}

func TestParsePreviewQuery(t *testing.T) {
	for _, c := range previewQueries {
		q, err := url.ParseQuery(c.query)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParsePreviewQuery(q, 640, 480)
		switch {
		case c.want == PreviewSpec{} && err == nil:
			t.Errorf("%q: accepted as %+v", c.query, got)
		case c.want != PreviewSpec{} && err != nil:
			t.Errorf("%q: %v", c.query, err)
		case c.want != PreviewSpec{} && got != c.want:
			t.Errorf("%q: %+v, want %+v", c.query, got, c.want)
		}
	}
}

// FuzzPreviewQuery: any query is refused or gives a size within the
// sensor, a rate within the limits, and a centred crop inside the sensor
// with the asked aspect ratio.
func FuzzPreviewQuery(f *testing.F) {
	for _, c := range previewQueries {
		f.Add(c.query)
	}
	const sw, sh = 4000, 3000
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		sp, err := ParsePreviewQuery(q, sw, sh)
		if err != nil {
			return
		}
		c := sp.Crop
		if sp.Width < 1 || sp.Width > sw || sp.Height < 1 || sp.Height > sh || sp.FPS < 1 || sp.FPS > PreviewMaxFPS ||
			!c.In(image.Rect(0, 0, sw, sh)) || c.Empty() {
			t.Fatalf("%q: %+v", raw, sp)
		}
		if c.Dx() != sw && c.Dy() != sh {
			t.Fatalf("%q: crop %v is not the largest", raw, c)
		}
		// The crop's aspect is the asked one, to within a pixel's rounding.
		if d := math.Abs(float64(c.Dx())*float64(sp.Height) - float64(c.Dy())*float64(sp.Width)); d > float64(max(sp.Width, sp.Height)) {
			t.Fatalf("%q: crop %v for %dx%d", raw, c, sp.Width, sp.Height)
		}
	})
}

type previewPart struct {
	h   map[string][]string
	img image.Image
}

// openStream asks srv for a stream and returns its reply and a function
// reading its next part.
func openStream(t *testing.T, ctx context.Context, srv *httptest.Server, query string) (*http.Response, func() (previewPart, error)) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/stream.mjpg?"+query, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		return resp, nil
	}
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/x-mixed-replace" {
		t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	return resp, func() (previewPart, error) {
		p, err := mr.NextRawPart()
		if err != nil {
			return previewPart{}, err
		}
		b, err := io.ReadAll(io.LimitReader(p, 1<<20))
		if err != nil {
			return previewPart{}, err
		}
		if n, _ := strconv.Atoi(p.Header.Get("Content-Length")); n != len(b) {
			return previewPart{}, errors.New("Content-Length " + p.Header.Get("Content-Length") + " for " + strconv.Itoa(len(b)) + " bytes")
		}
		img, err := jpeg.Decode(bytes.NewReader(b))
		return previewPart{p.Header, img}, err
	}
}

func TestPreviewSizes(t *testing.T) {
	_, srv := newServer(t, Config{Light: lit(light.BandWhite, light.FilterNone)})
	for _, c := range []struct {
		query      string
		w, h, rate int
	}{
		{"", 160, 120, 5},
		{"width=640&height=360&fps=30", 640, 360, 30},
		{"width=640&height=480&fps=30", 640, 480, 30},
		{"width=33&height=99&fps=30", 33, 99, 30},
	} {
		t.Run(c.query, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			resp, next := openStream(t, ctx, srv, c.query)
			if next == nil {
				t.Fatalf("HTTP %d", resp.StatusCode)
			}
			if got, want := resp.Header.Get(HeaderPreviewSize), strconv.Itoa(c.w)+"x"+strconv.Itoa(c.h); got != want {
				t.Errorf("%s %q, want %q", HeaderPreviewSize, got, want)
			}
			if got := resp.Header.Get(HeaderPreviewFPS); got != strconv.Itoa(c.rate) {
				t.Errorf("%s %q, want %d", HeaderPreviewFPS, got, c.rate)
			}
			for i := 1; i <= 2; i++ {
				p, err := next()
				if err != nil {
					t.Fatal(err)
				}
				if b := p.img.Bounds(); b.Dx() != c.w || b.Dy() != c.h {
					t.Errorf("part %d is %v", i, b)
				}
				if got := p.h[HeaderPreviewFrame]; len(got) != 1 || got[0] != strconv.Itoa(i) {
					t.Errorf("part %d: %s %q", i, HeaderPreviewFrame, got)
				}
				if _, err := time.Parse(time.RFC3339Nano, textGet(p.h, HeaderPreviewTime)); err != nil {
					t.Errorf("part %d: %v", i, err)
				}
				if got := textGet(p.h, HeaderSimLight); got != "white/none;output=100" {
					t.Errorf("part %d: light %q", i, got)
				}
			}
		})
	}
}

func textGet(h map[string][]string, k string) string {
	if v := h[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// TestPreviewCrop: a 16:9 preview of the 4:3 sensor is its centre strip,
// the same pixels as the full-frame preview's rows 60–419 (at 1:1 scale).
func TestPreviewCrop(t *testing.T) {
	s, err := New(Config{Scene: newScene(t, 3), Light: lit(light.BandWhite, light.FilterNone), Sensor: Sensor{MaxMotion: -1}})
	if err != nil {
		t.Fatal(err)
	}
	full := s.newPreviewer(PreviewSpec{640, 480, 5, image.Rect(0, 0, 640, 480)})
	wide := s.newPreviewer(PreviewSpec{640, 360, 5, centreCrop(640, 480, 640, 360)})
	now := time.Now()
	full.render(1, now)
	wide.render(1, now)
	// Automatic exposure samples a different grid, so compare the
	// ordering of pixels rather than their values: brighter stays
	// brighter.
	worse := 0
	for y := 0; y < 360; y += 7 {
		for x := 0; x+13 < 640; x += 13 {
			a, b := full.img.GrayAt(x, y+60).Y, full.img.GrayAt(x+13, y+60).Y
			c, d := wide.img.GrayAt(x, y).Y, wide.img.GrayAt(x+13, y).Y
			if (a < b) != (c < d) && a != b && c != d {
				worse++
			}
		}
	}
	if worse > 0 {
		t.Errorf("%d pixel pairs ordered differently in the crop", worse)
	}
}

func TestPreviewDarkWithoutLight(t *testing.T) {
	_, srv := newServer(t, Config{}) // no light engine: the enclosure is dark
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, next := openStream(t, ctx, srv, "width=320&height=180&fps=30")
	p, err := next()
	if err != nil {
		t.Fatal(err)
	}
	g := p.img.(*image.Gray)
	for _, v := range g.Pix {
		if v > 2 {
			t.Fatalf("a pixel of %d in the dark", v)
		}
	}
	if got := textGet(p.h, HeaderSimLight); got != "dark" {
		t.Errorf("light %q", got)
	}
}

func TestPreviewRefused(t *testing.T) {
	s, srv := newServer(t, Config{Light: lit(light.BandWhite, light.FilterNone)})
	for _, q := range []string{"width=1280&height=720", "fps=60", "width=320", "zoom=2"} {
		resp, next := openStream(t, context.Background(), srv, q)
		if next != nil || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%q: HTTP %d", q, resp.StatusCode)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(b), `"code":"bad-request"`) {
			t.Errorf("%q: %s", q, b)
		}
	}
	if st := s.Stats(); st.Rejected != 4 || st.Streams != 0 {
		t.Errorf("stats %+v", st)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/stream.mjpg", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET" {
		t.Errorf("POST: HTTP %d Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// TestPreviewPaced: frames are due every 1/fps on the camera's clock; the
// stream waits on the clock between them.
func TestPreviewPaced(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, srv := newServer(t, Config{Light: lit(light.BandWhite, light.FilterNone), Clock: clk})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, next := openStream(t, ctx, srv, "width=64&height=36&fps=15")
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	for i := 1; i <= 3; i++ {
		p, err := next()
		if err != nil {
			t.Fatal(err)
		}
		want := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i-1) * (time.Second / 15))
		if got := textGet(p.h, HeaderPreviewTime); got != want.Format(time.RFC3339Nano) {
			t.Errorf("part %d sampled at %s, want %s", i, got, want.Format(time.RFC3339Nano))
		}
		if err := clk.BlockUntil(wctx, 1); err != nil {
			t.Fatal("the stream is not waiting on the clock")
		}
		if got := clk.Pending(); len(got) != 1 || got[0] != time.Second/15 {
			t.Fatalf("waiting for %v, want one wait of %v", got, time.Second/15)
		}
		clk.Advance(time.Second / 15)
	}
	if got := s.Stats().PreviewFrames; got < 3 {
		t.Errorf("%d frames counted", got)
	}
}

// TestPreviewDisconnectFreesHandler: when the client goes away the
// handler returns (httptest.Server.Close waits for every handler, and
// would wait for ever for one still streaming).
func TestPreviewDisconnectFreesHandler(t *testing.T) {
	s, srv := newServer(t, Config{Light: lit(light.BandWhite, light.FilterNone)})
	ctx, cancel := context.WithCancel(context.Background())
	_, next := openStream(t, ctx, srv, "width=64&height=36&fps=30")
	if _, err := next(); err != nil {
		t.Fatal(err)
	}
	cancel()
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("the stream handler is still running after its client left")
	}
	if st := s.Stats(); st.Streams != 1 || st.StreamsEnded != 1 {
		t.Errorf("streams %d ended %d", st.Streams, st.StreamsEnded)
	}
}

// TestPreviewPausesForCapture: no part is sampled while a capture exposes
// and reads out (the sensor is the capture's).
func TestPreviewPausesForCapture(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewFake(t0)
	s, srv := newServer(t, Config{Light: lit(light.BandWhite, light.FilterNone), Clock: clk})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, next := openStream(t, ctx, srv, "width=64&height=36&fps=15")
	if _, err := next(); err != nil {
		t.Fatal(err)
	}
	parts := make(chan previewPart, 64)
	go func() {
		for {
			p, err := next()
			if err != nil {
				close(parts)
				return
			}
			parts <- p
		}
	}()
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	if err := clk.BlockUntil(wctx, 1); err != nil { // the stream waits for its next frame
		t.Fatal(err)
	}
	captured := make(chan error, 1)
	go func() {
		_, err := s.Capture(context.Background(), Request{Exposure: 200 * time.Millisecond, Gain: 1})
		captured <- err
	}()
	if err := clk.BlockUntil(wctx, 2); err != nil { // and the capture exposes
		t.Fatal(err)
	}
	exposure, _ := s.Sensor().Applied(200*time.Millisecond, 1)
	end := t0.Add(exposure + s.Sensor().Readout)
	for clk.Now().Before(end) {
		clk.Advance(time.Second / 15)
		// Wait until the stream (and the capture, while it exposes) wait
		// on the clock again.
		want := 1
		if clk.Now().Before(end) {
			want = 2
		}
		if err := clk.BlockUntil(wctx, want); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-captured; err != nil { // the capture has read out and rendered
		t.Fatal(err)
	}
	clk.Advance(time.Second / 15)
	// Every part until the first after the capture was sampled outside it.
	for {
		var p previewPart
		select {
		case p = <-parts:
		case <-wctx.Done():
			t.Fatalf("no part after the capture (stats %+v)", s.Stats())
		}
		at, err := time.Parse(time.RFC3339Nano, textGet(p.h, HeaderPreviewTime))
		if err != nil {
			t.Fatal(err)
		}
		if at.After(t0) && at.Before(end) {
			t.Errorf("a part sampled at %v, during the capture (until %v)", at.Sub(t0), end.Sub(t0))
		}
		if !at.Before(end) {
			return
		}
	}
}
