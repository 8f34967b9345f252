package netcam

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/exhibit-forensics/exhibit/devices"
	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/internal/clock"
)

// Defaults for Config.
const (
	DefaultTimeout       = 5 * time.Second
	DefaultStatusTimeout = 2 * time.Second
	DefaultAttempts      = 2
	// maxErrorBody bounds status and error bodies.
	maxErrorBody = 64 << 10
	// busyBackoff is the wait before a capture refused as busy is tried
	// again.
	busyBackoff = 50 * time.Millisecond
)

// Config configures a Dev. Only URL is required.
type Config struct {
	// URL is the camera's base URL, e.g. http://192.0.2.10:8080.
	URL string
	// Timeout is how long a capture may take beyond its exposure (readout,
	// encoding, transfer) before the attempt is abandoned as timed out.
	Timeout time.Duration
	// StatusTimeout bounds GET /status.
	StatusTimeout time.Duration
	// Attempts is how many times a capture is tried when it times out or
	// finds the camera busy.
	Attempts int
	// Client is the HTTP client; if nil, one with a transport of its own.
	// Deadlines come from contexts, so it should have no Timeout of its
	// own.
	Client *http.Client
	// MaxPixels bounds the frames accepted; DefaultMaxPixels if zero.
	MaxPixels int
	// Logger receives retries; nil discards.
	Logger *slog.Logger
	// Clock times the back-off between busy retries; clock.System if nil.
	Clock clock.Clock
}

// Stats counts what the driver had to do.
type Stats struct {
	Captures int // frames returned
	Attempts int // capture requests sent
	Timeouts int // attempts that timed out (no reply, or sensor-timeout)
	Busy     int // attempts refused as busy
}

// Dev is a network camera. Its methods are safe for concurrent use;
// captures are serialised.
type Dev struct {
	cfg    Config
	base   *url.URL
	client *http.Client
	id     devices.Identity
	status Status // as read at Open: ranges and white balance modes

	capMu    sync.Mutex // serialises captures
	mu       sync.Mutex
	settings camera.Settings
	set      bool
	closed   bool
	cancel   context.CancelCauseFunc // of the capture in flight
	stats    Stats
	previews map[*PreviewStream]struct{} // open preview streams
}

var (
	_ camera.Camera     = (*Dev)(nil)
	_ devices.Resource  = (*Dev)(nil)
	_ devices.Describer = (*Dev)(nil)
)

// Open reads the camera's status and identity.
func Open(ctx context.Context, cfg Config) (*Dev, error) {
	if cfg.URL == "" {
		return nil, errors.New("netcam: Config.URL is empty")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("netcam: URL %q is not an http(s) URL", cfg.URL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.StatusTimeout <= 0 {
		cfg.StatusTimeout = DefaultStatusTimeout
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = DefaultAttempts
	}
	if cfg.MaxPixels <= 0 {
		cfg.MaxPixels = DefaultMaxPixels
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System
	}
	d := &Dev{cfg: cfg, base: u, client: cfg.Client}
	if d.client == nil {
		// A transport of its own, so that Close drops only this camera's
		// connections.
		d.client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	st, err := d.readStatus(ctx)
	if err != nil {
		return nil, err
	}
	d.status = st
	d.id = devices.Identity{Model: st.Model, Serial: st.Serial, Firmware: st.Firmware}
	return d, nil
}

// String names the camera.
func (d *Dev) String() string {
	return fmt.Sprintf("netcam %s SN %s at %s", d.id.Model, d.id.Serial, d.base)
}

// Identity returns what the camera reported at Open.
func (d *Dev) Identity() devices.Identity { return d.id }

// Stats returns a snapshot of the counters.
func (d *Dev) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

func (d *Dev) count(f func(*Stats)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(&d.stats)
}

func (d *Dev) endpoint(p string) string { return d.base.String() + p }

func (d *Dev) readStatus(ctx context.Context) (Status, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.StatusTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.endpoint("/status"), nil)
	if err != nil {
		return Status{}, fmt.Errorf("netcam: %w", err)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return Status{}, fmt.Errorf("netcam: status from %s: %w (%v)", d.base, camera.ErrTimeout, err)
		}
		return Status{}, fmt.Errorf("netcam: status from %s: %w", d.base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody+1))
	if err != nil {
		return Status{}, fmt.Errorf("netcam: status from %s: %w", d.base, err)
	}
	if resp.StatusCode != http.StatusOK {
		return Status{}, fmt.Errorf("netcam: status from %s: %w", d.base, ParseError(resp.StatusCode, resp.Header, body))
	}
	if len(body) > maxErrorBody {
		return Status{}, fmt.Errorf("netcam: status from %s: %w: body over %d bytes", d.base, camera.ErrProtocol, maxErrorBody)
	}
	st, err := ParseStatus(body)
	if err != nil {
		return Status{}, fmt.Errorf("netcam: status from %s: %w", d.base, err)
	}
	return st, nil
}

// Describe reads the status and returns it as one line (camera.Status.String).
func (d *Dev) Describe(ctx context.Context) (string, error) { return devices.StatusLine(d.Status(ctx)) }

// Status reads the camera's status.
func (d *Dev) Status(ctx context.Context) (camera.Status, error) {
	if d.isClosed() {
		return camera.Status{}, camera.ErrClosed
	}
	st, err := d.readStatus(ctx)
	if err != nil {
		return camera.Status{}, err
	}
	cs := camera.Status{
		Width: st.Width, Height: st.Height, Channels: st.Channels, BitDepth: st.BitDepth,
		Frames: st.Frames, Ready: st.State == "ready",
		MinExposure: usToDuration(st.ExposureUs.Min), MaxExposure: usToDuration(st.ExposureUs.Max),
		MinGain: st.Gain.Min, MaxGain: st.Gain.Max,
	}
	if st.Temperature != nil {
		cs.Temperature, cs.TemperatureKnown = *st.Temperature, true
	}
	return cs, nil
}

func usToDuration(us float64) time.Duration {
	return time.Duration(math.Round(us * float64(time.Microsecond)))
}

// Configure checks s against the camera's ranges and keeps it for the
// following captures (the protocol carries exposure and gain with every
// capture request, so nothing is sent now). It returns the settings the
// camera will apply, quantised to the steps it reported; each frame's Meta
// carries the values the camera says it actually used.
func (d *Dev) Configure(ctx context.Context, s camera.Settings) (camera.Settings, error) {
	if err := s.Validate(); err != nil {
		return camera.Settings{}, err
	}
	st := d.status
	switch s.WhiteBalance.Mode {
	case camera.WBNone:
	default:
		// Protocol version 1 is for monochrome sensors: a capture request
		// carries no white balance.
		return camera.Settings{}, fmt.Errorf("netcam: white balance %s on %s (it reports %q; protocol %d carries none): %w",
			s.WhiteBalance, d, st.WhiteBalance, Protocol, camera.ErrUnsupported)
	}
	us := float64(s.Exposure) / float64(time.Microsecond)
	if us < st.ExposureUs.Min || us > st.ExposureUs.Max {
		return camera.Settings{}, fmt.Errorf("netcam: exposure %v outside %v–%v of %s: %w", s.Exposure,
			usToDuration(st.ExposureUs.Min), usToDuration(st.ExposureUs.Max), d, camera.ErrUnsupported)
	}
	if s.Gain < st.Gain.Min || s.Gain > st.Gain.Max {
		return camera.Settings{}, fmt.Errorf("netcam: gain %g outside %g–%g of %s: %w", s.Gain, st.Gain.Min, st.Gain.Max, d, camera.ErrUnsupported)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return camera.Settings{}, camera.ErrClosed
	}
	d.settings, d.set = s, true
	applied := s
	if step := st.ExposureUs.Step; step > 0 {
		applied.Exposure = usToDuration(math.Max(st.ExposureUs.Min, math.Min(st.ExposureUs.Max, math.Round(us/step)*step)))
	}
	if step := st.Gain.Step; step > 0 {
		applied.Gain = math.Max(st.Gain.Min, math.Min(st.Gain.Max, math.Round(s.Gain/step)*step))
	}
	return applied, nil
}

// LightChanged does nothing: every capture request starts a new exposure,
// and the camera buffers no frames.
func (d *Dev) LightChanged() {}

// Capture exposes and returns one frame with the configured settings,
// retrying timeouts and busy refusals up to Config.Attempts times.
func (d *Dev) Capture(ctx context.Context) (*camera.Frame, error) {
	d.capMu.Lock()
	defer d.capMu.Unlock()
	d.mu.Lock()
	s, set, closed := d.settings, d.set, d.closed
	d.mu.Unlock()
	switch {
	case closed:
		return nil, camera.ErrClosed
	case !set:
		return nil, errors.New("netcam: Capture before Configure")
	}
	body, err := json.Marshal(struct {
		ExposureUs float64 `json:"exposure_us"`
		Gain       float64 `json:"gain"`
	}{float64(s.Exposure) / float64(time.Microsecond), s.Gain})
	if err != nil {
		return nil, err
	}
	var last error
	for attempt := 1; attempt <= d.cfg.Attempts; attempt++ {
		if attempt > 1 {
			d.cfg.Logger.Warn("netcam capture retry", "camera", d.String(), "attempt", attempt, "err", last)
		}
		f, err := d.attempt(ctx, body, s.Exposure)
		if err == nil {
			d.count(func(st *Stats) { st.Captures++ })
			return f, nil
		}
		last = err
		switch {
		case errors.Is(err, camera.ErrTimeout):
			d.count(func(st *Stats) { st.Timeouts++ })
		case errors.Is(err, camera.ErrBusy):
			d.count(func(st *Stats) { st.Busy++ })
			if attempt < d.cfg.Attempts {
				if err := clock.Sleep(ctx, d.cfg.Clock, busyBackoff); err != nil {
					return nil, fmt.Errorf("netcam: capture: %w", err)
				}
			}
		default:
			return nil, err
		}
	}
	return nil, fmt.Errorf("netcam: capture on %s failed after %d attempts: %w", d, d.cfg.Attempts, last)
}

// attempt sends one capture request.
func (d *Dev) attempt(ctx context.Context, body []byte, exposure time.Duration) (*camera.Frame, error) {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, camera.ErrClosed
	}
	d.cancel = cancel
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.cancel = nil
		d.mu.Unlock()
	}()
	limit := exposure + d.cfg.Timeout
	tctx, tcancel := context.WithTimeoutCause(actx, limit, errAttemptTimeout)
	defer tcancel()
	d.count(func(st *Stats) { st.Attempts++ })
	req, err := http.NewRequestWithContext(tctx, http.MethodPost, d.endpoint("/capture"), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("netcam: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.client.Do(req)
	var payload []byte
	if err == nil {
		defer resp.Body.Close()
		maxBody := int64(d.cfg.MaxPixels)*2 + 1<<20
		if resp.StatusCode != http.StatusOK {
			maxBody = maxErrorBody
		}
		payload, err = readBody(resp, maxBody)
		if err == nil && int64(len(payload)) > maxBody {
			return nil, fmt.Errorf("netcam: capture on %s: %w: reply body over %d bytes", d, camera.ErrProtocol, maxBody)
		}
	}
	if err != nil {
		switch cause := context.Cause(tctx); {
		case errors.Is(cause, camera.ErrHalted), errors.Is(cause, camera.ErrClosed):
			return nil, cause
		case ctx.Err() != nil:
			return nil, fmt.Errorf("netcam: capture: %w", context.Cause(ctx))
		case errors.Is(cause, errAttemptTimeout):
			return nil, fmt.Errorf("netcam: capture on %s: %w: no frame within %v (exposure %v + %v)", d, camera.ErrTimeout, limit, exposure, d.cfg.Timeout)
		}
		return nil, fmt.Errorf("netcam: capture on %s: %w", d, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("netcam: capture on %s: %w", d, ParseError(resp.StatusCode, resp.Header, payload))
	}
	f, err := ParseFrame(resp.Header, payload, d.cfg.MaxPixels)
	if err != nil {
		return nil, fmt.Errorf("netcam: capture on %s: %w", d, err)
	}
	f.Meta.Device = d.String()
	f.Meta.Received = time.Now()
	f.Encoded, f.EncodedType = payload, "image/png"
	return f, nil
}

var errAttemptTimeout = errors.New("netcam: attempt timed out")

// Halt abandons a capture in progress (it returns camera.ErrHalted). A
// camera has nothing else to make safe.
func (d *Dev) Halt() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cancel != nil {
		d.cancel(camera.ErrHalted)
	}
	return nil
}

// Close abandons any capture in progress, ends open preview streams and
// releases idle connections.
func (d *Dev) Close() error {
	d.mu.Lock()
	if d.cancel != nil {
		d.cancel(camera.ErrClosed)
	}
	d.closed = true
	for s := range d.previews {
		s.cancel(camera.ErrClosed)
	}
	d.mu.Unlock()
	d.client.CloseIdleConnections()
	return nil
}

func (d *Dev) isClosed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.closed
}

// readBody reads a reply's body, at most max+1 bytes. A declared length
// within max sizes the buffer once (a 12 MP frame is 24 MB: growing a
// buffer to it by doubling copies and faults in twice as much); the
// declared length is not trusted beyond that, the bytes read are what
// counts.
func readBody(resp *http.Response, max int64) ([]byte, error) {
	var b bytes.Buffer
	if n := resp.ContentLength; n > 0 && n <= max {
		b.Grow(int(n) + bytes.MinRead) // the read that finds the end needs MinRead free
	}
	_, err := b.ReadFrom(io.LimitReader(resp.Body, max+1))
	return b.Bytes(), err
}
