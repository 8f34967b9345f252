package cli

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/camera/camsim"
	"github.com/exhibit-forensics/exhibit/devices/light/lightsim"
	"github.com/exhibit-forensics/exhibit/devices/rigsim"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
	"github.com/exhibit-forensics/exhibit/internal/atomicfile"
)

// runSim starts a simulator. Only the multispectral rig exists so far.
func runSim(e *env, args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "rig":
			return simRig(e, args[1:])
		case "analyser":
			return runSimAnalyser(e, args[1:])
		case "scanner":
			return runSimScanner(e, args[1:])
		}
	}
	fs := newFlags(e, "sim", "sim rig|analyser|scanner [flags]   (run `exhibit sim rig -h`, `exhibit sim analyser -h` or `exhibit sim scanner -h` for their flags)")
	if len(args) == 0 {
		return e.usageErr(fs, "which simulator? (rig, analyser, scanner)")
	}
	return e.usageErr(fs, "unknown simulator %q (rig, analyser, scanner)", args[0])
}

// simRig runs the light engine on a pseudo-terminal and the camera on
// HTTP until the process is interrupted.
func simRig(e *env, args []string) int {
	fs := newFlags(e, "sim rig", "sim rig --light-link PATH --camera-addr 127.0.0.1:PORT [--seed N] [--skin 1..6] [--truth-out FILE] [faults...]")
	link := fs.String("light-link", "", "path of the symlink to the light engine's pseudo-terminal (the stand-in for /dev/serial/by-id/…)")
	addr := fs.String("camera-addr", "", "camera listen address, e.g. 127.0.0.1:8081 (port 0: any free port)")
	seed := fs.Uint64("seed", 1, "seed of the scene, the camera noise and motion, and the fault generators")
	skin := fs.Int("skin", 0, "skin group, 1 (lightest) to 6 (darkest); 0: chosen by the seed")
	truthOut := fs.String("truth-out", "", "write the scene's ground truth (JSON) to this file")
	sensor := fs.String("sensor", "4000x3000", "frame size in pixels, WxH (the field of view stays 226 × 170 mm)")
	tilt := fs.Float64("tilt", 0, "tilt of the skin plane away from the sensor, degrees (0–60)")
	tiltAxis := fs.Float64("tilt-axis", 0, "direction of the tilt axis in the image, degrees")
	replug := fs.Duration("light-replug-after", 2*time.Second, "after --light-unplug-after fires, plug the adapter back in after this long")
	var lf lightsim.Faults
	lf.AddFlags(fs, "light-")
	var cf camsim.Faults
	cf.AddFlags(fs, "camera-")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	w, h, ok := parseSize(*sensor)
	switch {
	case len(pos) > 0:
		return e.usageErr(fs, "unexpected arguments %q", pos)
	case *link == "" || *addr == "":
		return e.usageErr(fs, "--light-link and --camera-addr are required")
	case *skin < 0 || *skin > 6:
		return e.usageErr(fs, "--skin %d: want 1–6 (or 0 for the seed's choice)", *skin)
	case !ok:
		return e.usageErr(fs, "--sensor %q: want WIDTHxHEIGHT", *sensor)
	}
	cfg := rigsim.Config{
		LightLink: *link, CameraAddr: *addr, Seed: *seed,
		Scene:       scene.Config{Skin: *skin, Width: w, Height: h, TiltDeg: *tilt, TiltAxisDeg: *tiltAxis},
		LightFaults: lf, CameraFaults: cf, ReplugAfter: *replug,
		Logger: slog.New(slog.NewTextHandler(e.stderr, nil)),
	}
	// The scene is built twice when --truth-out is given (once here, once
	// by the rig); it is cheap until its first layer.
	if *truthOut != "" {
		sc := cfg.Scene
		sc.Seed = *seed
		sn, err := scene.New(sc)
		if err != nil {
			return e.fail("sim rig", err)
		}
		if err := writeTruth(*truthOut, sn); err != nil {
			return e.fail("sim rig", err)
		}
	}
	r, err := rigsim.Start(e.ctx, cfg)
	if err != nil {
		return e.fail("sim rig", err)
	}
	id := r.Light.Identity()
	model, serial, fw := r.Camera.Identity()
	tr := r.Scene.Truth()
	fmt.Fprintf(e.stdout, "light engine: %s SN %s firmware %s on %s via %s\n", id.Model, id.Serial, id.Firmware, r.PTS(), r.LightLink())
	fmt.Fprintf(e.stdout, "camera: %s SN %s firmware %s at %s\n", model, serial, fw, r.CameraURL())
	fmt.Fprintf(e.stdout, "scene: seed %d, skin group %d, %d bruises, %dx%d px at %.4f mm/px, tilt %g°\n",
		*seed, tr.SkinGroup, len(tr.Bruises), w, h, tr.Geometry.MMPerPixel, *tilt)
	if *truthOut != "" {
		fmt.Fprintf(e.stdout, "truth: %s\n", *truthOut)
	}
	if f := describeFaults(lf, cf); f != "" {
		fmt.Fprintf(e.stdout, "faults: %s\n", f)
	}
	fmt.Fprintln(e.stdout, "running; interrupt (Ctrl-C) to stop")
	select {
	case <-e.ctx.Done():
	case <-r.Done():
	}
	if err := r.Close(); err != nil {
		return e.fail("sim rig", err)
	}
	fmt.Fprintf(e.stdout, "stopped; removed %s\n", r.LightLink())
	return exitOK
}

func parseSize(s string) (w, h int, ok bool) {
	a, b, found := strings.Cut(strings.ToLower(s), "x")
	if !found {
		return 0, 0, false
	}
	w, err1 := strconv.Atoi(a)
	h, err2 := strconv.Atoi(b)
	return w, h, err1 == nil && err2 == nil && w > 0 && h > 0
}

// writeTruth writes the truth atomically (internal/atomicfile), so that a
// failure leaves no half-written file.
func writeTruth(path string, sn *scene.Scene) error {
	if err := atomicfile.Write(path, 0o600, sn.WriteTruth); err != nil {
		return fmt.Errorf("truth %s: %w", path, err)
	}
	return nil
}

func describeFaults(lf lightsim.Faults, cf camsim.Faults) string {
	var f []string
	add := func(cond bool, format string, args ...any) {
		if cond {
			f = append(f, fmt.Sprintf(format, args...))
		}
	}
	add(lf.CorruptRate > 0, "light corrupt-rate %g", lf.CorruptRate)
	add(lf.DropRate > 0, "light drop-rate %g", lf.DropRate)
	add(lf.Latency > 0, "light latency %v", lf.Latency)
	add(lf.UnplugAfter > 0, "light unplug after %d commands", lf.UnplugAfter)
	add(lf.InterlockOpen, "interlock open")
	add(cf.TimeoutRate > 0, "camera timeout-rate %g", cf.TimeoutRate)
	add(cf.Latency > 0, "camera latency %v", cf.Latency)
	return strings.Join(f, ", ")
}
