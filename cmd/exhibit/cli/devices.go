package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/exhibit-forensics/exhibit/devices"
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
	var checks []deviceCheck
	if *lightPath != "" {
		checks = append(checks, deviceCheck{"light engine", *lightPath, func(ctx context.Context) (openDevice, error) {
			d, err := light.Open(ctx, light.Config{Path: *lightPath, ReconnectTimeout: *timeout})
			if err != nil {
				return nil, err
			}
			return d, nil
		}})
	}
	if *camURL != "" {
		checks = append(checks, deviceCheck{"camera", *camURL, func(ctx context.Context) (openDevice, error) {
			d, err := netcam.Open(ctx, netcam.Config{URL: *camURL, StatusTimeout: *timeout})
			if err != nil {
				return nil, err
			}
			return d, nil
		}})
	}
	ok := true
	for _, c := range checks {
		ok = c.run(e, *timeout) && ok
	}
	if !ok {
		return exitFail
	}
	return exitOK
}

// openDevice is what `devices check` needs of an open device.
type openDevice interface {
	devices.Describer
	Close() error
}

// A deviceCheck is one device to check: what it is, where, and how to open
// it.
type deviceCheck struct {
	kind string // "light engine", "camera"
	addr string
	open func(ctx context.Context) (openDevice, error)
}

// run opens the device, prints its identity and status, and closes it
// (which leaves it in its safe state: a light engine switched off).
func (c deviceCheck) run(e *env, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(e.ctx, timeout)
	defer cancel()
	d, err := c.open(ctx)
	if err != nil {
		fmt.Fprintf(e.stdout, "%-13s %s: NOT ANSWERING: %v\n", c.kind, c.addr, err)
		return false
	}
	defer d.Close()
	fmt.Fprintf(e.stdout, "%-13s %s at %s\n", c.kind, d.Identity(), c.addr)
	st, err := d.Describe(ctx)
	if err != nil {
		fmt.Fprintf(e.stdout, "  status      FAILED: %v\n", err)
		return false
	}
	fmt.Fprintf(e.stdout, "  status      %s\n", st)
	return true
}
