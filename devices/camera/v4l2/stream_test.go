package v4l2_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/exhibit-forensics/exhibit/devices/camera/camsim"
	"github.com/exhibit-forensics/exhibit/devices/camera/v4l2"
	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/light/lightsim"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
)

type whiteLight struct{}

func (whiteLight) EmissionAt(time.Time) lightsim.Emission {
	return lightsim.Emission{On: true, Band: light.BandWhite, Level: 100, Output: 100, Settled: true}
}

// TestOpenCVReadsPreviewStream: OpenCV's VideoCapture — the same gocv
// Capturer the driver reads through — reads the simulated camera's
// MJPEG preview over HTTP, as it reads an IP camera's.
func TestOpenCVReadsPreviewStream(t *testing.T) {
	sc, err := scene.New(scene.Config{Seed: 1, Width: 640, Height: 480})
	if err != nil {
		t.Fatal(err)
	}
	sim, err := camsim.New(camsim.Config{Scene: sc, Light: whiteLight{}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	vc, err := gocv.OpenVideoCapture(srv.URL + "/stream.mjpg")
	if err != nil {
		t.Fatalf("OpenCV cannot open the preview stream: %v", err)
	}
	defer vc.Close()
	var c v4l2.Capturer = vc
	m := gocv.NewMat()
	defer m.Close()
	for i := range 3 {
		if !c.Read(&m) || m.Empty() {
			t.Fatalf("frame %d: no frame", i)
		}
	}
	if m.Cols() != 160 || m.Rows() != 120 {
		t.Errorf("preview %dx%d, want 160x120", m.Cols(), m.Rows())
	}
	if mean := m.Mean(); mean.Val1 < 20 {
		t.Errorf("preview is dark (mean %.1f) under white light", mean.Val1)
	}
}
