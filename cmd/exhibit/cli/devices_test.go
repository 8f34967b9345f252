package cli

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/devices"
)

// fakeDevice is any device: `devices check` sees it only through
// devices.Describer.
type fakeDevice struct {
	status string
	err    error
	closed bool
}

func (f *fakeDevice) String() string { return "fake" }
func (f *fakeDevice) Halt() error    { return nil }
func (f *fakeDevice) Identity() devices.Identity {
	return devices.Identity{Model: "F1", Serial: "7", Firmware: "0.1"}
}
func (f *fakeDevice) Describe(context.Context) (string, error) {
	return f.status, f.err
}
func (f *fakeDevice) Close() error { f.closed = true; return nil }

// TestDeviceCheck: each line of `devices check` comes from the device's
// Identity and Describe, and the device is closed after it is described.
func TestDeviceCheck(t *testing.T) {
	for _, tc := range []struct {
		name    string
		dev     *fakeDevice
		openErr error
		ok      bool
		want    string
	}{
		{"answers", &fakeDevice{status: "ready"}, nil, true,
			"spectrometer  F1 SN 7 firmware 0.1 at usb:3\n  status      ready\n"},
		{"status-fails", &fakeDevice{err: errors.New("no reply")}, nil, false,
			"spectrometer  F1 SN 7 firmware 0.1 at usb:3\n  status      FAILED: no reply\n"},
		{"not-there", nil, errors.New("no such device"), false,
			"spectrometer  usb:3: NOT ANSWERING: no such device\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			e := &env{ctx: context.Background(), stdout: &out}
			c := deviceCheck{"spectrometer", "usb:3", func(context.Context) (openDevice, error) {
				if tc.openErr != nil {
					return nil, tc.openErr
				}
				return tc.dev, nil
			}}
			if ok := c.run(e, time.Second); ok != tc.ok || out.String() != tc.want {
				t.Errorf("run = %v, printed\n%q\nwant %v,\n%q", ok, out.String(), tc.ok, tc.want)
			}
			if tc.dev != nil && !tc.dev.closed {
				t.Error("device left open")
			}
		})
	}
}
