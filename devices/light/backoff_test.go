package light

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/devices"
	"github.com/exhibit-forensics/exhibit/devices/serialport"
	"github.com/exhibit-forensics/exhibit/devices/serialport/serialtest"
)

// TestOpenBacksOff: while the port is missing, Open retries with a doubling
// backoff capped at 250 ms. The after seam records the waits instead of
// sleeping.
func TestOpenBacksOff(t *testing.T) {
	var waits []time.Duration
	defer func(orig func(time.Duration) <-chan time.Time) { after = orig }(after)
	after = func(d time.Duration) <-chan time.Time {
		waits = append(waits, d)
		ch := make(chan time.Time, 1)
		ch <- time.Time{}
		return ch
	}
	tr, err := serialtest.ParseTranscript([]byte(fmt.Sprintf(
		"device=light-engine\nfirmware=1.4.2\nbaud=115200\n-- -> --\n%s-- <- --\n%s-- -> --\n%s-- <- --\n%s",
		Frame{1, []string{"ID"}}.Append(nil), Frame{1, []string{"OK", "MODEL=LE6", "SN=1"}}.Append(nil),
		Frame{2, []string{"VER"}}.Append(nil), Frame{2, []string{"OK", "FW=2.0"}}.Append(nil))))
	if err != nil {
		t.Fatal(err)
	}
	pb := serialtest.NewPlayback(tr)
	failures := 7
	open := func(context.Context, string, serialport.Mode) (serialport.Conn, error) {
		if failures > 0 {
			failures--
			return nil, fs.ErrNotExist
		}
		return pb, nil
	}
	d, err := Open(context.Background(), Config{Path: "/dev/serial/by-id/x", Open: open})
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{10, 20, 40, 80, 160, 250, 250}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if !slices.Equal(waits, want) {
		t.Fatalf("backoff %v, want %v", waits, want)
	}
	if id := d.Identity(); id != (devices.Identity{Model: "LE6", Serial: "1", Firmware: "2.0"}) {
		t.Fatalf("identity %+v", id)
	}
	if pb.Remaining() != 0 {
		t.Fatalf("%d exchanges unused", pb.Remaining())
	}
}
