package camsim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/light/lightsim"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
	"github.com/exhibit-forensics/exhibit/internal/clock"
)

func newScene(t testing.TB, seed uint64) *scene.Scene {
	t.Helper()
	s, err := scene.New(scene.Config{Seed: seed, Width: 640, Height: 480, Skin: 2})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fixedLight is an Emitter that is always in one settled state.
type fixedLight struct{ e lightsim.Emission }

func (f fixedLight) EmissionAt(time.Time) lightsim.Emission { return f.e }

func lit(b light.Band, f light.Filter) fixedLight {
	return fixedLight{lightsim.Emission{On: true, Band: b, Filter: f, Level: 100, Output: 100, Settled: true}}
}

// captureNow runs a capture on a fake clock (internal/clock), advancing it through the
// exposure and readout.
func captureNow(t *testing.T, s *Sim, clk *clock.Fake, req Request) *Frame {
	t.Helper()
	type res struct {
		f   *Frame
		err error
	}
	ch := make(chan res, 1)
	pending := len(clk.Pending())
	go func() {
		f, err := s.Capture(context.Background(), req)
		ch <- res{f, err}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clk.BlockUntil(ctx, pending+1); err != nil {
		t.Fatal("capture never waited for its exposure")
	}
	exp, _ := s.Sensor().Applied(req.Exposure, req.Gain)
	clk.Advance(exp + s.Sensor().Readout)
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.f
}

func mean(pix []uint16) float64 {
	var s float64
	for _, v := range pix {
		s += float64(v)
	}
	return s / float64(len(pix))
}

func TestAppliedQuantises(t *testing.T) {
	sn := DefaultSensor
	for _, c := range []struct {
		exp      time.Duration
		gain     float64
		wantExp  time.Duration
		wantGain float64
	}{
		{10 * time.Millisecond, 1, 676 * sn.LineTime, 1},
		{14800 * time.Nanosecond * 10, 2.03, 10 * sn.LineTime, 2},
		{time.Microsecond, 0.5, sn.MinExposure, 1},
		{time.Minute, 99, sn.MaxExposure, 16},
		{5 * time.Millisecond, 3.1, 338 * sn.LineTime, 3.125},
	} {
		e, g := sn.Applied(c.exp, c.gain)
		if e != c.wantExp || g != c.wantGain {
			t.Errorf("Applied(%v, %g) = %v, %g; want %v, %g", c.exp, c.gain, e, g, c.wantExp, c.wantGain)
		}
	}
}

func TestEncodePNGRoundTrip(t *testing.T) {
	for _, sz := range [][2]int{{1, 1}, {3, 2}, {300, 250}, {40000, 2}} {
		w, h := sz[0], sz[1]
		pix := make([]uint16, w*h)
		for i := range pix {
			pix[i] = uint16(i*7919 + 13)
		}
		b, err := EncodePNG(pix, w, h)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%dx%d: standard decoder rejects our PNG: %v", w, h, err)
		}
		g, ok := img.(*image.Gray16)
		if !ok || g.Bounds() != image.Rect(0, 0, w, h) {
			t.Fatalf("%dx%d: decoded %T %v", w, h, img, img.Bounds())
		}
		for i, v := range pix {
			x, y := i%w, i/w
			if got := g.Gray16At(x, y).Y; got != v {
				t.Fatalf("%dx%d: pixel (%d,%d) = %d, want %d", w, h, x, y, got, v)
			}
		}
	}
	if _, err := EncodePNG(make([]uint16, 5), 2, 2); err == nil {
		t.Error("EncodePNG accepted 5 samples for 2x2")
	}
}

func TestFramesAreDeterministic(t *testing.T) {
	sc := newScene(t, 3)
	mk := func(seed uint64) (*Sim, *clock.Fake) {
		clk := clock.NewFake(time.Unix(1e9, 0))
		s, err := New(Config{Scene: sc, Light: lit(light.Band450, light.FilterYellow), Clock: clk, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		return s, clk
	}
	req := Request{Exposure: 100 * time.Millisecond, Gain: 2}
	a, ca := mk(1)
	b, cb := mk(1)
	c, cc := mk(2)
	fa1, fb1, fc1 := captureNow(t, a, ca, req), captureNow(t, b, cb, req), captureNow(t, c, cc, req)
	fa2 := captureNow(t, a, ca, req)
	if !equal(fa1.Pix, fb1.Pix) {
		t.Error("same seed, same frame number: pixels differ")
	}
	if equal(fa1.Pix, fc1.Pix) {
		t.Error("different seeds: identical pixels")
	}
	if equal(fa1.Pix, fa2.Pix) {
		t.Error("consecutive frames are identical: no noise or motion")
	}
	if fa1.Counter != 1 || fa2.Counter != 2 {
		t.Errorf("frame counters %d, %d", fa1.Counter, fa2.Counter)
	}
	if d := math.Abs(mean(fa1.Pix)-mean(fa2.Pix)) / mean(fa1.Pix); d > 0.02 {
		t.Errorf("frames of one settled scene differ in mean by %.1f%%", 100*d)
	}
}

func equal(a, b []uint16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDarkWithoutLight(t *testing.T) {
	sc := newScene(t, 3)
	clk := clock.NewFake(time.Unix(1e9, 0))
	s, err := New(Config{Scene: sc, Clock: clk, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	f := captureNow(t, s, clk, Request{Exposure: time.Second, Gain: 1})
	// Dark current (≈ 5 e⁻/s × 2^(5/6.5) ≈ 8.5 e⁻ at 30 °C) plus read
	// noise: a few DN at 3.3 DN/e⁻.
	if m := mean(f.Pix); m > 60 || m < 5 {
		t.Errorf("dark frame mean %.1f DN, want dark current only (≈ 28)", m)
	}
	if len(f.Light) != 0 {
		t.Errorf("dark frame lit by %+v", f.Light)
	}
}

// region returns the samples of f in a square of half-size r around (x, y).
func region(f *Frame, x, y, r int) []float64 {
	var out []float64
	for j := y - r; j <= y+r; j++ {
		for i := x - r; i <= x+r; i++ {
			out = append(out, float64(f.Pix[j*f.Width+i]))
		}
	}
	return out
}

func stats(v []float64) (m, sd float64) {
	for _, x := range v {
		m += x
	}
	m /= float64(len(v))
	for _, x := range v {
		sd += (x - m) * (x - m)
	}
	return m, math.Sqrt(sd / float64(len(v)-1))
}

// TestNoiseGrowsWithGain: the same mean level reached with an eighth of
// the exposure and eight times the gain collects an eighth of the
// photons, so its relative noise is about √8 times larger.
func TestNoiseGrowsWithGain(t *testing.T) {
	sc := newScene(t, 3)
	clk := clock.NewFake(time.Unix(1e9, 0))
	s, err := New(Config{Scene: sc, Light: lit(light.Band415, light.FilterYellow), Clock: clk, Seed: 1, Sensor: Sensor{MaxMotion: -1}})
	if err != nil {
		t.Fatal(err)
	}
	x, y := pickSkin(t, sc)
	// Noise is measured on the difference of two frames, which removes
	// the scene's own structure (no motion here).
	noise := func(req Request) (m, rel float64) {
		a, b := captureNow(t, s, clk, req), captureNow(t, s, clk, req)
		ra, rb := region(a, x, y, 12), region(b, x, y, 12)
		d := make([]float64, len(ra))
		for i := range ra {
			d[i] = ra[i] - rb[i]
		}
		ma, _ := stats(ra)
		mb, _ := stats(rb)
		_, sd := stats(d)
		m = (ma + mb) / 2
		return m, sd / math.Sqrt2 / m
	}
	ml, rl := noise(Request{Exposure: 400 * time.Millisecond, Gain: 1})
	ms, rs := noise(Request{Exposure: 50 * time.Millisecond, Gain: 8})
	if math.Abs(ml-ms)/ml > 0.1 {
		t.Fatalf("means differ: %.0f vs %.0f DN", ml, ms)
	}
	if ratio := rs / rl; ratio < 2.3 || ratio > 3.4 {
		t.Errorf("relative noise at gain 8 is %.2f× that at gain 1 (%.4f vs %.4f), want ≈ √8 = 2.8", ratio, rs, rl)
	}
}

// pickSkin finds a frame position at least 40 px from every bruise and
// the scale, where the skin texture is the only structure.
func pickSkin(t *testing.T, sc *scene.Scene) (int, int) {
	t.Helper()
	tr := sc.Truth()
	w, h := sc.Size()
	far := func(x, y float64) bool {
		for _, b := range tr.Bruises {
			if x > b.BBoxPx[0]-40 && x < b.BBoxPx[2]+40 && y > b.BBoxPx[1]-40 && y < b.BBoxPx[3]+40 {
				return false
			}
		}
		minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
		for _, p := range tr.Scale.OutlinePx {
			minX, minY, maxX, maxY = math.Min(minX, p[0]), math.Min(minY, p[1]), math.Max(maxX, p[0]), math.Max(maxY, p[1])
		}
		return x < minX-40 || x > maxX+40 || y < minY-40 || y > maxY+40
	}
	for y := h / 4; y < 3*h/4; y += 8 {
		for x := w / 4; x < 3*w/4; x += 8 {
			if far(float64(x), float64(y)) {
				return x, y
			}
		}
	}
	t.Fatal("no bare skin in the frame")
	return 0, 0
}

// command sends one light-engine command to a simulator served on conn and
// returns the reply line.
func command(t *testing.T, conn net.Conn, r *bufio.Reader, seq int, words ...string) string {
	t.Helper()
	if _, err := conn.Write(light.Frame{Seq: seq, Words: words}.Append(nil)); err != nil {
		t.Fatal(err)
	}
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return line
}

// TestTransitionShowsInFrame drives the real light simulator through its
// protocol on a shared fake clock: a frame whose exposure spans a filter
// change lies between the frames of the two settled states, and says so.
func TestTransitionShowsInFrame(t *testing.T) {
	sc := newScene(t, 4)
	clk := clock.NewFake(time.Unix(1e9, 0))
	ls := lightsim.New(lightsim.Config{Clock: clk})
	a, b := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ls.Serve(ctx, b)
	defer a.Close()
	rd := bufio.NewReader(a)
	seq := 0
	cmd := func(words ...string) {
		seq++
		if reply := command(t, a, rd, seq, words...); !strings.Contains(reply, " OK") {
			t.Fatalf("%v: %q", words, reply)
		}
	}
	s, err := New(Config{Scene: sc, Light: ls, Clock: clk, Seed: 9, Sensor: Sensor{MaxMotion: -1}})
	if err != nil {
		t.Fatal(err)
	}
	cmd("B", "415")
	cmd("F", "YEL")
	cmd("L", "100")
	cmd("ON")
	clk.Advance(time.Second) // settle
	req := Request{Exposure: 40 * time.Millisecond, Gain: 1}
	yellow := captureNow(t, s, clk, req)
	cmd("F", "NONE") // 120 ms of filter-wheel travel
	clk.Advance(200 * time.Millisecond)
	open := captureNow(t, s, clk, req)
	cmd("F", "YEL")
	clk.Advance(20 * time.Millisecond) // the wheel is moving: expose now
	moving := captureNow(t, s, clk, req)
	my, mo, mm := mean(yellow.Pix), mean(open.Pix), mean(moving.Pix)
	if !(mo > 2*my) {
		t.Fatalf("removing the yellow filter from 415 nm should brighten the frame: %.0f → %.0f", my, mo)
	}
	if !(mm > my*1.1 && mm < mo*0.9) {
		t.Errorf("frame during filter travel has mean %.0f, want between settled %.0f and %.0f", mm, my, mo)
	}
	if len(moving.Light) != 2 || moving.Light[0].Settled || moving.Light[1].Settled {
		t.Errorf("light during travel %+v, want two unsettled shares", moving.Light)
	}
	if len(yellow.Light) != 1 || !yellow.Light[0].Settled || yellow.Light[0].Filter != light.FilterYellow {
		t.Errorf("settled light %+v", yellow.Light)
	}
}

func newServer(t *testing.T, cfg Config) (*Sim, *httptest.Server) {
	t.Helper()
	if cfg.Scene == nil {
		cfg.Scene = newScene(t, 3)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return s, srv
}

func TestStatus(t *testing.T) {
	s, srv := newServer(t, Config{Light: lit(light.BandWhite, light.FilterNone)})
	resp, err := http.Get(srv.URL + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st StatusDoc
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if st.Protocol != 1 || st.Model != "NC12M" || st.Width != 640 || st.Height != 480 || st.BitDepth != 16 || st.State != "ready" {
		t.Errorf("status %+v", st)
	}
	if st.ExposureUs.Step != 14.8 || st.Gain.Max != 16 {
		t.Errorf("ranges %+v %+v", st.ExposureUs, st.Gain)
	}
	if resp.Header.Get(HeaderProtocol) != "1" {
		t.Error("no protocol header")
	}
	_ = s
}

func TestCaptureRequestErrors(t *testing.T) {
	s, srv := newServer(t, Config{Light: lit(light.BandWhite, light.FilterNone)})
	for _, c := range []struct {
		method, ctype, body string
		status              int
		msg                 string
	}{
		{"GET", "", "", 405, "use POST"},
		{"POST", "text/plain", `{"exposure_us":1000,"gain":1}`, 415, "Content-Type"},
		{"POST", "application/json", `{"exposure_us":1000}`, 400, "gain is missing"},
		{"POST", "application/json", `{"gain":1}`, 400, "exposure_us is missing"},
		{"POST", "application/json", `{"exposure_us":1,"gain":1}`, 400, "exposure_us 1 outside"},
		{"POST", "application/json", `{"exposure_us":1000,"gain":17}`, 400, "gain 17 outside"},
		{"POST", "application/json", `{"exposure_us":1000,"gain":1,"iso":100}`, 400, "unknown field"},
		{"POST", "application/json", `{"exposure_us":1000,"gain":1}{}`, 400, "more than one"},
		{"POST", "application/json", `[]`, 400, "request body"},
		{"POST", "application/json", strings.Repeat(" ", 2000), 413, "over 1024"},
	} {
		req, _ := http.NewRequest(c.method, srv.URL+"/capture", strings.NewReader(c.body))
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e ErrorDoc
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.Contains(e.Error.Message, c.msg) {
			t.Errorf("%s %q: %d %+v, want %d with %q", c.method, c.body, resp.StatusCode, e, c.status, c.msg)
		}
	}
	if st := s.Stats(); st.Captures != 0 || st.Rejected != 9 {
		t.Errorf("stats %+v", st)
	}
}

func post(ctx context.Context, url string, body string) (*http.Response, error) {
	req, _ := http.NewRequestWithContext(ctx, "POST", url+"/capture", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return http.DefaultClient.Do(req)
}

func TestBusyAndHang(t *testing.T) {
	clk := clock.NewFake(time.Unix(1e9, 0))
	s, srv := newServer(t, Config{Light: lit(light.BandWhite, light.FilterNone), Clock: clk})
	// A capture holds the sensor while the clock stands still.
	first := make(chan *http.Response, 1)
	go func() {
		resp, err := post(context.Background(), srv.URL, `{"exposure_us":1000,"gain":1}`)
		if err != nil {
			t.Error(err)
		}
		first <- resp
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	resp, err := post(ctx, srv.URL, `{"exposure_us":1000,"gain":1}`)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("second capture: %d, want 409 busy", resp.StatusCode)
	}
	clk.Advance(time.Second)
	if r := <-first; r == nil || r.StatusCode != 200 || r.Header.Get(HeaderFrame) != "1" {
		t.Fatalf("first capture: %+v", r)
	} else {
		r.Body.Close()
	}
	// The hang fault holds the request until the client gives up.
	s.HangNext(1)
	hanging := s.Hanging()
	hctx, hcancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := post(hctx, srv.URL, `{"exposure_us":1000,"gain":1}`)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("hung capture answered: %v", err)
	case <-hanging:
	}
	hcancel()
	if err := <-done; err == nil {
		t.Error("hung capture returned a reply")
	}
	if st := s.Stats(); st.Busy != 1 || st.Hung != 1 || st.Captures != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestCaptureHeaders(t *testing.T) {
	_, srv := newServer(t, Config{Light: lit(light.Band450, light.FilterYellow)})
	resp, err := post(context.Background(), srv.URL, `{"exposure_us":20000,"gain":2.03}`)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	h := resp.Header
	for k, want := range map[string]string{
		"Content-Type": "image/png", HeaderProtocol: "1", HeaderFrame: "1", HeaderExposure: "19994.8",
		HeaderGain: "2", HeaderBitDepth: "16", HeaderTemperature: "30.1",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if !strings.HasPrefix(h.Get(HeaderDigest), "sha-256=:") || !strings.HasPrefix(h.Get(HeaderSimLight), "450nm/yellow;weight=1.0000;settled=true") {
		t.Errorf("digest %q light %q", h.Get(HeaderDigest), h.Get(HeaderSimLight))
	}
	if _, err := time.Parse(time.RFC3339Nano, h.Get(HeaderExposureStart)); err != nil {
		t.Error(err)
	}
	if img, err := png.Decode(bytes.NewReader(body)); err != nil || img.Bounds().Dx() != 640 {
		t.Errorf("body: %v", err)
	}
}

func TestPreviewStream(t *testing.T) {
	_, srv := newServer(t, Config{Light: lit(light.BandWhite, light.FilterNone)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/stream.mjpg", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/x-mixed-replace" {
		t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	for i := range 2 {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		img, err := jpeg.Decode(p)
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if b := img.Bounds(); b.Dx() != 160 || b.Dy() != 120 {
			t.Errorf("preview %v, want 160x120", b)
		}
	}
}

// captureBodies are capture request bodies, valid and not; the seed corpus
// of FuzzCaptureRequest.
var captureBodies = []string{
	`{"exposure_us":1000,"gain":1}`, `{"exposure_us": 20000.5, "gain": 2.03}`, `{"exposure_us":1000}`, `{"gain":1}`,
	`{"exposure_us":1,"gain":1}`, `{"exposure_us":1000,"gain":17}`, `{"exposure_us":1000,"gain":1,"iso":100}`,
	`{"exposure_us":1000,"gain":1}{}`, `[]`, ``, `{"exposure_us":1e400,"gain":1}`, `{"exposure_us":null,"gain":1}`,
}

// FuzzCaptureRequest: the simulator's parser of what a client sends never
// panics and accepts only in-range settings.
func FuzzCaptureRequest(f *testing.F) {
	for _, b := range captureBodies {
		f.Add([]byte(b))
	}
	s, err := New(Config{Scene: newScene(f, 3)})
	if err != nil {
		f.Fatal(err)
	}
	sn := s.Sensor()
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := s.parseCaptureRequest(body)
		if err != nil {
			return
		}
		if req.Exposure < sn.MinExposure-time.Microsecond || req.Exposure > sn.MaxExposure || req.Gain < sn.MinGain || req.Gain > sn.MaxGain {
			t.Fatalf("accepted %+v from %q", req, body)
		}
	})
}
