package kiosk

import (
	"bytes"
	"context"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/camera/netcam"
	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/rigsim"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/rigtest"
)

// BenchmarkPreview measures the live preview at 1280 × 720 from the
// simulated rig (its default 4000 × 3000 sensor, white light on) in frames
// a second, each iteration one frame (docs/BENCHMARKS.md, "The kiosk live
// preview"):
//
//   - jpeg-only: encoding one preview frame (as the simulator renders it
//     for the stream) with image/jpeg, again and again — the baseline;
//   - driver: camsim over loopback HTTP, read by netcam's OpenPreview and
//     Next (the parts checked and their JPEG headers decoded);
//   - relay: the same, relayed by the kiosk's relayPreview over a second
//     loopback HTTP connection and read there with netcam's PreviewReader,
//     as a browser would receive it;
//
// each paced as the kiosk asks (15 frames a second) and unpaced (the
// simulator sends each frame as soon as the previous one is written: the
// capacity).
func BenchmarkPreview(b *testing.B) {
	r := rigtest.Start(b, rigsim.Config{Seed: 1}, netcam.Config{})
	ctx := context.Background()
	for _, err := range []error{r.Light.SetBand(ctx, light.BandWhite), r.Light.SetFilter(ctx, light.FilterNone),
		r.Light.SetLevel(ctx, 80), r.Light.On(ctx)} {
		if err != nil {
			b.Fatal(err)
		}
	}
	defer r.Light.Halt()
	w, h := previewSize(r.Camera.SensorSize())
	if w != 1280 || h != 720 {
		b.Fatalf("preview %dx%d", w, h)
	}
	opts := netcam.PreviewOptions{Width: w, Height: h, FPS: previewFPS}
	relay := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		o := opts
		if req.URL.Query().Get("unpaced") != "" {
			o.FPS = netcam.PreviewMaxFPS
		}
		st, err := r.Camera.OpenPreview(req.Context(), o)
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadGateway)
			return
		}
		defer st.Close()
		relayPreview(rw, st)
	}))
	defer relay.Close()
	perSecond := func(b *testing.B) { b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s") }

	b.Run("jpeg-only", func(b *testing.B) {
		g, err := r.Sim.Camera.RenderPreview(w, h, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		for b.Loop() {
			buf.Reset()
			if err := jpeg.Encode(&buf, g, &jpeg.Options{Quality: 80}); err != nil {
				b.Fatal(err)
			}
		}
		perSecond(b)
	})
	for _, unpaced := range []bool{false, true} {
		name := "15fps"
		if unpaced {
			name = "unpaced"
		}
		b.Run("driver-"+name, func(b *testing.B) {
			r.Sim.Camera.SetPreviewUnpaced(unpaced)
			defer r.Sim.Camera.SetPreviewUnpaced(false)
			o := opts
			if unpaced {
				o.FPS = netcam.PreviewMaxFPS
			}
			st, err := r.Camera.OpenPreview(ctx, o)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			readFrames(b, st.Next)
			perSecond(b)
		})
		b.Run("relay-"+name, func(b *testing.B) {
			r.Sim.Camera.SetPreviewUnpaced(unpaced)
			defer r.Sim.Camera.SetPreviewUnpaced(false)
			url := relay.URL
			if unpaced {
				url += "?unpaced=1"
			}
			req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
			resp, err := relay.Client().Do(req)
			if err != nil {
				b.Fatal(err)
			}
			defer resp.Body.Close()
			pr, err := netcam.NewPreviewReader(resp.Header.Get("Content-Type"), resp.Body, w, h, 0)
			if err != nil {
				b.Fatal(err)
			}
			readFrames(b, pr.Next)
			perSecond(b)
		})
	}
}

// readFrames reads one frame outside the timing (the stream's start), then
// one per iteration.
func readFrames(b *testing.B, next func() (*netcam.PreviewFrame, error)) {
	if _, err := next(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		f, err := next()
		if err != nil {
			b.Fatal(err)
		}
		if f.Width != 1280 || f.Height != 720 {
			b.Fatalf("%dx%d", f.Width, f.Height)
		}
	}
}
