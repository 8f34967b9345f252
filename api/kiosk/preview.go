package kiosk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/exhibit-forensics/exhibit/devices/camera/netcam"
	"github.com/exhibit-forensics/exhibit/imaging/profile"
	"github.com/exhibit-forensics/exhibit/internal/clock"
)

// Previewer is what the live preview needs of the camera; *netcam.Dev is
// one. A camera without it offers no preview.
type Previewer interface {
	OpenPreview(ctx context.Context, o netcam.PreviewOptions) (*netcam.PreviewStream, error)
	SensorSize() (width, height int)
}

var _ Previewer = (*netcam.Dev)(nil)

// The preview the kiosk asks for, and how long one stream may keep the
// light on.
const (
	previewWidth, previewHeight = 1280, 720
	previewFPS                  = 15
	// PreviewLimit ends a preview (and puts the light out) that nobody
	// has ended: a kiosk left on the ready page does not keep the light
	// on.
	PreviewLimit = 2 * time.Minute
	// previewWriteTimeout bounds writing one frame to the browser: a
	// browser that stops reading without closing the connection ends the
	// preview too. (A network deadline: it is on the system clock.)
	previewWriteTimeout = 5 * time.Second
	previewBoundary     = "kioskpreview"
)

// previewSize is 1280 × 720, or the largest 16:9 size the sensor holds if
// it is smaller.
func previewSize(sw, sh int) (int, int) {
	w := min(previewWidth, sw, sh*16/9)
	return w, w * 9 / 16
}

// errCaptureRunning: the devices belong to a capture.
var errCaptureRunning = errors.New("a capture is using the camera and the light")

// previewGate gives the camera and light to one preview at a time, or to
// captures: a capture ends the preview (and waits until its light is out)
// before it touches the devices, and no preview starts while a capture
// holds them.
type previewGate struct {
	mu     sync.Mutex
	holds  int                // capture operations holding the devices
	cancel context.CancelFunc // of the open preview
	done   chan struct{}      // closed once the open preview has put the light out
}

// begin makes way for a new preview under parent, ending the one open (a
// second browser tab takes over the light and camera).
func (g *previewGate) begin(parent context.Context) (context.Context, func(), error) {
	g.mu.Lock()
	for g.cancel != nil {
		g.cancel()
		done := g.done
		g.mu.Unlock()
		select {
		case <-done:
		case <-parent.Done():
			return nil, nil, parent.Err()
		}
		g.mu.Lock()
	}
	defer g.mu.Unlock()
	if g.holds > 0 {
		return nil, nil, errCaptureRunning
	}
	ctx, cancel := context.WithCancel(parent)
	done := make(chan struct{})
	g.cancel, g.done = cancel, done
	var once sync.Once
	end := func() {
		once.Do(func() {
			cancel()
			g.mu.Lock()
			if g.done == done {
				g.cancel, g.done = nil, nil
			}
			g.mu.Unlock()
			close(done)
		})
	}
	return ctx, end, nil
}

// hold ends the open preview, waits until its light is out, and keeps
// previews from starting until release is called.
func (g *previewGate) hold() (release func()) {
	g.mu.Lock()
	g.holds++
	for g.cancel != nil {
		g.cancel()
		done := g.done
		g.mu.Unlock()
		<-done
		g.mu.Lock()
	}
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		g.holds--
		g.mu.Unlock()
	}
}

// stop ends the open preview without waiting (the server is shutting
// down; its handler puts the light out).
func (g *previewGate) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cancel != nil {
		g.cancel()
	}
}

// wait returns once no preview is open, or ctx is done.
func (g *previewGate) wait(ctx context.Context) error {
	g.mu.Lock()
	done := g.done
	g.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// previewStream relays the camera's live preview to the browser as
// multipart/x-mixed-replace JPEG, lighting the scene with the profile's
// locator shot (white light, no filter, its level) while the stream is
// open and halting the light however it ends.
func (k *Kiosk) previewStream(c *gin.Context) {
	refuse := func(status int, msg string) {
		c.Header("Cache-Control", "no-store")
		c.String(status, msg)
	}
	pv, ok := k.cfg.Camera.(Previewer)
	if !ok {
		refuse(http.StatusNotFound, "This camera has no live preview.")
		return
	}
	d, ok := k.draftOf(c)
	if !ok || d.Profile == "" || !d.consented() || d.Capture != "" {
		refuse(http.StatusConflict, "The live preview is shown before a capture starts.")
		return
	}
	p, err := profile.Lookup(d.Profile)
	if err != nil || len(p.Shots) == 0 || p.Shots[0].ID != profile.LocatorID {
		refuse(http.StatusConflict, "The profile has no locator shot to light the preview with.")
		return
	}
	locator := p.Shots[0]

	// The handler belongs to the Kiosk while it holds the light: Close
	// waits for it (and so for the light to be out).
	k.ownMu.Lock()
	if k.closed {
		k.ownMu.Unlock()
		refuse(http.StatusServiceUnavailable, "The kiosk is shutting down.")
		return
	}
	k.wg.Add(1)
	k.ownMu.Unlock()
	defer k.wg.Done()

	// The preview ends when the browser goes away, when the Kiosk is
	// closed, when a capture takes the devices, or after PreviewLimit.
	rctx, rcancel := context.WithCancel(c.Request.Context())
	defer rcancel()
	stopOnClose := context.AfterFunc(k.ctx, rcancel)
	defer stopOnClose()
	ctx, end, err := k.prev.begin(rctx)
	if err != nil {
		refuse(http.StatusConflict, "No preview while a capture is running.")
		return
	}
	defer end() // after the light is out (deferred calls run last first)
	ctx, cancel := clock.WithTimeout(ctx, k.cfg.Clock, PreviewLimit)
	defer cancel()
	defer func() {
		if err := k.cfg.Light.Halt(); err != nil {
			k.cfg.Logger.Error("kiosk: preview: halting the light", "err", err)
		}
		// The status panel shows the light off again without waiting
		// for its next reading.
		k.goOwned(k.status.readNow)
	}()

	for _, step := range []func() error{
		func() error { return k.cfg.Light.SetBand(ctx, locator.Band) },
		func() error { return k.cfg.Light.SetFilter(ctx, locator.Filter) },
		func() error { return k.cfg.Light.SetLevel(ctx, locator.Level) },
		func() error { return k.cfg.Light.On(ctx) },
	} {
		if err := step(); err != nil {
			k.cfg.Logger.Warn("kiosk: preview: light", "err", err)
			refuse(http.StatusBadGateway, "The light engine did not switch on for the preview.")
			return
		}
	}
	k.goOwned(k.status.readNow) // the status panel shows the light on
	w, h := previewSize(pv.SensorSize())
	st, err := pv.OpenPreview(ctx, netcam.PreviewOptions{Width: w, Height: h, FPS: previewFPS})
	if err != nil {
		k.cfg.Logger.Warn("kiosk: preview: camera", "err", err)
		refuse(http.StatusBadGateway, "The camera sent no preview.")
		return
	}
	defer st.Close()
	k.cfg.Logger.Info("kiosk: preview open", "width", w, "height", h, "light", fmt.Sprintf("%s/%s %d%%", locator.Band, locator.Filter, locator.Level))
	n, err := relayPreview(c.Writer, st)
	switch {
	case ctx.Err() != nil || errors.Is(err, io.EOF):
		k.cfg.Logger.Info("kiosk: preview closed", "frames", n)
	default:
		k.cfg.Logger.Warn("kiosk: preview ended", "frames", n, "err", err)
	}
}

// relayPreview copies frames from st to w until either side ends. Each part is
// followed at once by its closing delimiter, so that the browser shows a
// frame without waiting for the next.
func relayPreview(w http.ResponseWriter, st *netcam.PreviewStream) (int, error) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "multipart/x-mixed-replace; boundary="+previewBoundary)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if _, err := io.WriteString(w, "--"+previewBoundary+"\r\n"); err != nil {
		return 0, err
	}
	for n := 0; ; n++ {
		f, err := st.Next()
		if err != nil {
			return n, err
		}
		_ = rc.SetWriteDeadline(time.Now().Add(previewWriteTimeout)) // not every writer has deadlines
		head := "Content-Type: image/jpeg\r\nContent-Length: " + strconv.Itoa(len(f.JPEG)) + "\r\n\r\n"
		if _, err := io.WriteString(w, head); err != nil {
			return n, err
		}
		if _, err := w.Write(f.JPEG); err != nil {
			return n, err
		}
		if _, err := io.WriteString(w, "\r\n--"+previewBoundary+"\r\n"); err != nil {
			return n, err
		}
		if err := rc.Flush(); err != nil {
			return n, err
		}
	}
}
