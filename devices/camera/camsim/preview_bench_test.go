package camsim

import (
	"bytes"
	"context"
	"image/jpeg"
	"net"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/camera/netcam"
	"github.com/exhibit-forensics/exhibit/devices/light"
)

// The live preview at 1280×720 from the 4000×3000 sensor (docs/BENCHMARKS.md,
// "The kiosk live preview"). Each iteration is one frame; frames/s is
// reported. The baseline is BenchmarkPreviewJPEGOnly: encoding the same
// frame with image/jpeg and nothing else.

const benchW, benchH = 1280, 720

func benchPreviewSim(b *testing.B) *Sim {
	s := benchSim(b)
	benchScene.Layer(light.BandWhite, light.FilterNone)
	s.cfg.Light = lit(light.BandWhite, light.FilterNone)
	return s
}

func framesPerSecond(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkPreviewJPEGOnly encodes one rendered 1280×720 preview frame
// again and again: the baseline.
func BenchmarkPreviewJPEGOnly(b *testing.B) {
	s := benchPreviewSim(b)
	p := s.newPreviewer(PreviewSpec{benchW, benchH, 30, centreCrop(s.width, s.hgt, benchW, benchH)})
	p.render(1, time.Now())
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := jpeg.Encode(&buf, p.img, &jpeg.Options{Quality: previewQuality}); err != nil {
			b.Fatal(err)
		}
	}
	framesPerSecond(b)
}

// BenchmarkPreviewRender renders (scene sampling, gamma LUT) and encodes
// a frame, without HTTP.
func BenchmarkPreviewRender(b *testing.B) {
	s := benchPreviewSim(b)
	p := s.newPreviewer(PreviewSpec{benchW, benchH, 30, centreCrop(s.width, s.hgt, benchW, benchH)})
	var n uint64
	for b.Loop() {
		n++
		if _, _, err := p.encode(n, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	framesPerSecond(b)
}

// benchStream reads frames through the real driver from the simulator
// served on a loopback TCP port.
func benchStream(b *testing.B, s *Sim, fps int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	defer func() { cancel(); <-served }()
	d, err := netcam.Open(ctx, netcam.Config{URL: "http://" + ln.Addr().String()})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	st, err := d.OpenPreview(ctx, netcam.PreviewOptions{Width: benchW, Height: benchH, FPS: fps})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Next(); err != nil { // the first frame, outside the timing
		b.Fatal(err)
	}
	for b.Loop() {
		f, err := st.Next()
		if err != nil {
			b.Fatal(err)
		}
		if f.Width != benchW || f.Height != benchH {
			b.Fatalf("%dx%d", f.Width, f.Height)
		}
	}
	framesPerSecond(b)
}

// BenchmarkPreviewStream15 is the stream as the kiosk asks for it: 15
// frames a second, paced by the simulator.
func BenchmarkPreviewStream15(b *testing.B) { benchStream(b, benchPreviewSim(b), 15) }

// BenchmarkPreviewStreamUnpaced is the stream's capacity: the simulator
// sends each frame as soon as the previous one is written.
func BenchmarkPreviewStreamUnpaced(b *testing.B) {
	s := benchPreviewSim(b)
	s.SetPreviewUnpaced(true)
	benchStream(b, s, 30)
}
