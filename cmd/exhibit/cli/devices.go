package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/camera/netcam"
	"github.com/exhibit-forensics/exhibit/devices/light"
)

// runDevices inspects devices. `devices check` opens each device given,
// prints its identity, firmware and status, and exits 0 when every one
// answered.
func runDevices(e *env, args []string) int {
	if len(args) == 0 || args[0] != "check" {
		fs := newFlags(e, "devices", "devices check --light PATH --camera URL")
		if len(args) == 0 {
			return e.usageErr(fs, "which action? (check)")
		}
		return e.usageErr(fs, "unknown action %q (check)", args[0])
	}
	fs := newFlags(e, "devices check", "devices check --light PATH --camera URL")
	lightPath := fs.String("light", "", "light engine serial device (e.g. /dev/serial/by-id/…)")
	camURL := fs.String("camera", "", "network camera base URL (e.g. http://127.0.0.1:8081)")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for each device")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return exitUsage
	}
	switch {
	case len(pos) > 0:
		return e.usageErr(fs, "unexpected arguments %q", pos)
	case *lightPath == "" && *camURL == "":
		return e.usageErr(fs, "give --light, --camera or both")
	}
	ok := true
	if *lightPath != "" {
		ok = checkLight(e, *lightPath, *timeout) && ok
	}
	if *camURL != "" {
		ok = checkCamera(e, *camURL, *timeout) && ok
	}
	if !ok {
		return exitFail
	}
	return exitOK
}

// checkLight opens the light engine and reads its status. Closing the
// driver switches the light off (its safe state).
func checkLight(e *env, path string, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(e.ctx, timeout)
	defer cancel()
	d, err := light.Open(ctx, light.Config{Path: path, ReconnectTimeout: timeout})
	if err != nil {
		fmt.Fprintf(e.stdout, "light engine  %s: NOT ANSWERING: %v\n", path, err)
		return false
	}
	defer d.Close()
	fmt.Fprintf(e.stdout, "light engine  %s at %s\n", d.Identity(), path)
	st, err := d.Status(ctx)
	if err != nil {
		fmt.Fprintf(e.stdout, "  status      FAILED: %v\n", err)
		return false
	}
	fmt.Fprintf(e.stdout, "  status      %s\n", st)
	return true
}

func checkCamera(e *env, url string, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(e.ctx, timeout)
	defer cancel()
	d, err := netcam.Open(ctx, netcam.Config{URL: url, StatusTimeout: timeout})
	if err != nil {
		fmt.Fprintf(e.stdout, "camera        %s: NOT ANSWERING: %v\n", url, err)
		return false
	}
	defer d.Close()
	fmt.Fprintf(e.stdout, "camera        %s at %s\n", d.Identity(), url)
	st, err := d.Status(ctx)
	if err != nil {
		fmt.Fprintf(e.stdout, "  status      FAILED: %v\n", err)
		return false
	}
	fmt.Fprintf(e.stdout, "  status      %s\n", st)
	return true
}
