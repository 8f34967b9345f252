// Package rigtest starts the simulated rig (devices/rigsim) with the real
// drivers open on it — the light engine's (devices/light) on the rig's
// pseudo-terminal, the network camera's (devices/camera/netcam) over HTTP —
// for the tests of code that captures: the capture session, sealing, the
// capture pipeline, the quality gates, the kiosk. Everything is closed when
// the test ends.
package rigtest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/exhibit-forensics/exhibit/devices/camera/netcam"
	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/rigsim"
)

// A Rig is the simulated rig and the drivers open on it.
type Rig struct {
	Sim    *rigsim.Rig
	Light  *light.Dev
	Camera *netcam.Dev
}

// Start starts a rig from cfg (its LightLink defaults to a path in a
// temporary directory) and opens the drivers; cam configures the camera
// driver (its URL is the rig's).
func Start(tb testing.TB, cfg rigsim.Config, cam netcam.Config) *Rig {
	tb.Helper()
	if cfg.LightLink == "" {
		cfg.LightLink = filepath.Join(tb.TempDir(), "light-engine")
	}
	ctx := context.Background()
	r, err := rigsim.Start(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	ld, err := light.Open(ctx, light.Config{Path: r.LightLink()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ld.Close() })
	cam.URL = r.CameraURL()
	cd, err := netcam.Open(ctx, cam)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cd.Close() })
	return &Rig{Sim: r, Light: ld, Camera: cd}
}
