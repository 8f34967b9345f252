package netcam

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/devices/camera/camsim"
	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/light/lightsim"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
	"github.com/exhibit-forensics/exhibit/internal/clock"
)

// litWhite is a light engine that is always on, white, settled.
type litWhite struct{}

func (litWhite) EmissionAt(time.Time) lightsim.Emission {
	return lightsim.Emission{On: true, Band: light.BandWhite, Level: 100, Output: 100, Settled: true}
}

// startCamera serves a simulated camera over real HTTP on 127.0.0.1.
func startCamera(t *testing.T) (*camsim.Sim, string) {
	t.Helper()
	sc, err := scene.New(scene.Config{Seed: 2, Width: 320, Height: 240})
	if err != nil {
		t.Fatal(err)
	}
	sim, err := camsim.New(camsim.Config{Scene: sc, Light: litWhite{}, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	return sim, srv.URL
}

func open(t *testing.T, cfg Config) *Dev {
	t.Helper()
	d, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

var _ camera.Camera = (*Dev)(nil)

func TestDriverAgainstSimulator(t *testing.T) {
	sim, url := startCamera(t)
	ctx := context.Background()
	d := open(t, Config{URL: url + "/"})
	if id := d.Identity(); id.Model != "NC12M" || id.Serial != "NC0042" || id.Firmware != "2.3.0" {
		t.Errorf("identity %v", id)
	}
	if !strings.Contains(d.String(), "NC12M") {
		t.Errorf("String %q", d)
	}
	if _, err := d.Capture(ctx); err == nil || !strings.Contains(err.Error(), "before Configure") {
		t.Errorf("capture before configure: %v", err)
	}
	applied, err := d.Configure(ctx, camera.Settings{Exposure: 5 * time.Millisecond, Gain: 2.03})
	if err != nil {
		t.Fatal(err)
	}
	if applied.Exposure != 5002400*time.Nanosecond || applied.Gain != 2 {
		t.Errorf("predicted %v", applied)
	}
	f, err := d.Capture(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f.Width != 320 || f.Height != 240 || f.Channels != 1 || f.Meta.BitDepth != 16 || f.Meta.Widened {
		t.Errorf("frame %dx%d×%d meta %+v", f.Width, f.Height, f.Channels, f.Meta)
	}
	m := f.Meta
	// What the camera applied, as it reported it: 5 ms is 337.8 line
	// times of 14.8 µs, so 338 lines.
	if m.Exposure != 5002400*time.Nanosecond || m.Gain != 2 || m.Counter != 1 || !m.TemperatureKnown || m.ExposureStart.IsZero() {
		t.Errorf("meta %+v", m)
	}
	if m.Device != d.String() || m.Received.IsZero() {
		t.Errorf("meta device %q received %v", m.Device, m.Received)
	}
	// The bytes as received are kept: the PNG the samples came from.
	if f.EncodedSHA256 != sha256.Sum256(f.Encoded) {
		t.Errorf("EncodedSHA256 %x is not the digest of the bytes received", f.EncodedSHA256)
	}
	if f.EncodedType != "image/png" {
		t.Errorf("encoded type %q", f.EncodedType)
	}
	img, err := png.Decode(bytes.NewReader(f.Encoded))
	if err != nil {
		t.Fatalf("the encoded frame does not decode: %v", err)
	}
	g, ok := img.(*image.Gray16)
	if !ok || g.Rect.Dx() != f.Width || g.Rect.Dy() != f.Height {
		t.Fatalf("encoded frame %T %v", img, img.Bounds())
	}
	for i, v := range f.Pix {
		x, y := i%f.Width, i/f.Width
		if g.Gray16At(x, y).Y != v {
			t.Fatalf("pixel (%d,%d): samples %d, encoded %d", x, y, v, g.Gray16At(x, y).Y)
		}
	}
	f2, err := d.Capture(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f2.Meta.Counter != 2 {
		t.Errorf("second frame counter %d", f2.Meta.Counter)
	}
	st, err := d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Frames != 2 || !st.Ready || st.Width != 320 || st.MaxGain != 16 || st.MinExposure != 100*time.Microsecond {
		t.Errorf("status %+v", st)
	}
	if line, err := d.Describe(ctx); err != nil || line != st.String() || !strings.HasPrefix(line, "ready 320x") {
		t.Errorf("Describe = %q, %v; want %q", line, err, st.String())
	}
	if sim.Stats().Captures != 2 {
		t.Errorf("simulator saw %d captures", sim.Stats().Captures)
	}
}

func TestConfigureRejects(t *testing.T) {
	_, url := startCamera(t)
	d := open(t, Config{URL: url})
	for _, c := range []struct {
		s    camera.Settings
		want error
		msg  string
	}{
		{camera.Settings{Exposure: 0, Gain: 1}, nil, "not positive"},
		{camera.Settings{Exposure: time.Millisecond, Gain: -1}, nil, "negative"},
		{camera.Settings{Exposure: time.Hour, Gain: 1}, camera.ErrUnsupported, "outside"},
		{camera.Settings{Exposure: time.Millisecond, Gain: 64}, camera.ErrUnsupported, "gain 64 outside"},
		{camera.Settings{Exposure: time.Millisecond, Gain: 1, WhiteBalance: camera.WhiteBalance{Mode: camera.WBAuto}}, camera.ErrUnsupported, "white balance auto"},
		{camera.Settings{Exposure: time.Millisecond, Gain: 1, WhiteBalance: camera.WhiteBalance{Mode: camera.WBManual, Kelvin: 5600}}, camera.ErrUnsupported, "5600K"},
	} {
		_, err := d.Configure(context.Background(), c.s)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Configure(%v) = %v, want %v with %q", c.s, err, c.want, c.msg)
		}
	}
}

// TestTimeoutThenRetry: a capture the camera never answers comes back as
// camera.ErrTimeout once the driver's allowance is spent; the next capture
// works. With two attempts the driver retries by itself.
func TestTimeoutThenRetry(t *testing.T) {
	sim, url := startCamera(t)
	ctx := context.Background()
	// The driver's timeout is real time (an HTTP request's deadline): long
	// enough that an ordinary capture on a loaded machine, under the race
	// detector, never reaches it, so only the hung captures time out.
	const timeout = 2 * time.Second
	d := open(t, Config{URL: url, Timeout: timeout, Attempts: 1})
	if _, err := d.Configure(ctx, camera.Settings{Exposure: time.Millisecond, Gain: 1}); err != nil {
		t.Fatal(err)
	}
	sim.HangNext(1)
	_, err := d.Capture(ctx)
	if !errors.Is(err, camera.ErrTimeout) {
		t.Fatalf("hung capture: %v, want camera.ErrTimeout", err)
	}
	if !strings.Contains(err.Error(), "no frame within") {
		t.Errorf("error %q does not say what timed out", err)
	}
	f, err := d.Capture(ctx)
	if err != nil {
		t.Fatalf("capture after a timeout: %v", err)
	}
	if f.Meta.Counter != 1 {
		t.Errorf("the hung capture exposed nothing, so this is frame 1; got %d", f.Meta.Counter)
	}

	d2 := open(t, Config{URL: url, Timeout: timeout, Attempts: 2})
	if _, err := d2.Configure(ctx, camera.Settings{Exposure: time.Millisecond, Gain: 1}); err != nil {
		t.Fatal(err)
	}
	sim.HangNext(1)
	if _, err := d2.Capture(ctx); err != nil {
		t.Fatalf("capture with a retry: %v", err)
	}
	if st := d2.Stats(); st.Timeouts != 1 || st.Attempts != 2 || st.Captures != 1 {
		t.Errorf("driver stats %+v", st)
	}
	if st := sim.Stats(); st.Hung != 2 {
		t.Errorf("simulator hung %d captures, want 2", st.Hung)
	}
}

func TestHaltAbandonsCapture(t *testing.T) {
	sim, url := startCamera(t)
	ctx := context.Background()
	d := open(t, Config{URL: url, Timeout: time.Minute})
	if _, err := d.Configure(ctx, camera.Settings{Exposure: time.Millisecond, Gain: 1}); err != nil {
		t.Fatal(err)
	}
	sim.HangNext(1)
	hanging := sim.Hanging()
	done := make(chan error, 1)
	go func() {
		_, err := d.Capture(ctx)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("capture returned early: %v", err)
	case <-hanging:
	}
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, camera.ErrHalted) {
		t.Errorf("halted capture: %v, want camera.ErrHalted", err)
	}
	d.Close()
	if _, err := d.Capture(ctx); !errors.Is(err, camera.ErrClosed) {
		t.Errorf("capture after Close: %v", err)
	}
}

// TestBusyIsRetried: a camera that answers 409 once is asked again.
func TestBusyIsRetried(t *testing.T) {
	good := frameReply(gray16)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/status" {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(statusCases[0].body))
			return
		}
		if calls.Add(1) == 1 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusConflict)
			w.Write([]byte(`{"error":{"code":"busy","message":"exposing"}}`))
			return
		}
		for _, h := range good.headers {
			w.Header().Set(h[0], h[1])
		}
		w.Write(good.body)
	}))
	defer srv.Close()
	clk := clock.NewFake(time.Unix(0, 0))
	d := open(t, Config{URL: srv.URL, Attempts: 2, Clock: clk})
	if _, err := d.Configure(context.Background(), camera.Settings{Exposure: time.Millisecond, Gain: 1}); err != nil {
		t.Fatal(err)
	}
	type captured struct {
		f   *camera.Frame
		err error
	}
	done := make(chan captured, 1)
	go func() {
		f, err := d.Capture(context.Background())
		done <- captured{f, err}
	}()
	// The busy answer makes the driver wait on its clock before trying
	// again; let the wait pass.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatalf("no back-off after busy: %v", err)
	}
	if p := clk.Pending(); len(p) != 1 || p[0] != busyBackoff {
		t.Fatalf("back-off %v, want %v", p, busyBackoff)
	}
	clk.Advance(busyBackoff)
	res := <-done
	f, err := res.f, res.err
	if err != nil {
		t.Fatal(err)
	}
	if f.Meta.Counter != 42 || d.Stats().Busy != 1 {
		t.Errorf("frame %d, stats %+v", f.Meta.Counter, d.Stats())
	}
	calls.Store(0)
	d1 := open(t, Config{URL: srv.URL, Attempts: 1})
	d1.Configure(context.Background(), camera.Settings{Exposure: time.Millisecond, Gain: 1})
	if _, err := d1.Capture(context.Background()); !errors.Is(err, camera.ErrBusy) {
		t.Errorf("busy with one attempt: %v", err)
	}
}

// TestCorruptedFrameIsRefused: a proxy flips one byte of the PNG in
// transit; the digest catches it and the frame is not returned.
func TestCorruptedFrameIsRefused(t *testing.T) {
	_, url := startCamera(t)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, url+r.URL.Path, r.Body)
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			w.WriteHeader(502)
			return
		}
		defer resp.Body.Close()
		var body []byte
		body = make([]byte, 0, 1<<20)
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			body = append(body, buf[:n]...)
			if err != nil {
				break
			}
		}
		if r.URL.Path == "/capture" && len(body) > 1000 {
			body[len(body)/2] ^= 0x10
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(body)
	}))
	defer proxy.Close()
	d := open(t, Config{URL: proxy.URL})
	d.Configure(context.Background(), camera.Settings{Exposure: time.Millisecond, Gain: 1})
	if _, err := d.Capture(context.Background()); !errors.Is(err, camera.ErrIntegrity) {
		t.Errorf("corrupted frame: %v, want camera.ErrIntegrity", err)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, c := range []struct{ url, msg string }{
		{"", "URL is empty"},
		{"ftp://x", "not an http(s) URL"},
		{"http://", "not an http(s) URL"},
	} {
		if _, err := Open(context.Background(), Config{URL: c.url}); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Open(%q) = %v", c.url, err)
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"protocol":7}`))
	}))
	defer srv.Close()
	if _, err := Open(context.Background(), Config{URL: srv.URL}); !errors.Is(err, camera.ErrProtocol) {
		t.Errorf("Open against protocol 7: %v", err)
	}
}
