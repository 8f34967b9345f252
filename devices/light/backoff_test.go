package light

import (
	"context"
	"io/fs"
	"slices"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/devices"
	"github.com/exhibit-forensics/exhibit/devices/serialport"
	"github.com/exhibit-forensics/exhibit/devices/serialport/serialtest"
	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/internal/streamtest"
)

// TestOpenBacksOff: while the port is missing, Open retries with a doubling
// backoff capped at 250 ms, each wait on the driver's clock: the test takes
// each wait off the fake clock and lets it pass.
func TestOpenBacksOff(t *testing.T) {
	pb := serialtest.NewPlayback(&streamtest.Transcript{
		Header: map[string]string{"device": "light-engine", "firmware": "1.4.2", "baud": "115200"},
		Exchanges: []streamtest.Exchange{
			{From: streamtest.Host, Data: Frame{1, []string{"ID"}}.Append(nil)},
			{From: streamtest.Instrument, Data: Frame{1, []string{"OK", "MODEL=LE6", "SN=1"}}.Append(nil)},
			{From: streamtest.Host, Data: Frame{2, []string{"VER"}}.Append(nil)},
			{From: streamtest.Instrument, Data: Frame{2, []string{"OK", "FW=2.0"}}.Append(nil)},
		},
	})
	failures := 7
	open := func(context.Context, string, serialport.Mode) (serialport.Conn, error) {
		if failures > 0 {
			failures--
			return nil, fs.ErrNotExist
		}
		return pb, nil
	}
	clk := clock.NewFake(time.Unix(0, 0))
	type opened struct {
		d   *Dev
		err error
	}
	done := make(chan opened, 1)
	go func() {
		d, err := Open(context.Background(), Config{Path: "/dev/serial/by-id/x", Open: open, Clock: clk})
		done <- opened{d, err}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var waits []time.Duration
	for range 7 {
		if err := clk.BlockUntil(ctx, 1); err != nil {
			t.Fatalf("after %v the driver did not wait again: %v", waits, err)
		}
		p := clk.Pending()
		waits = append(waits, p...)
		clk.Advance(p[0])
	}
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	d := res.d
	want := []time.Duration{10, 20, 40, 80, 160, 250, 250}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if !slices.Equal(waits, want) {
		t.Fatalf("backoff %v, want %v", waits, want)
	}
	if len(clk.Pending()) != 0 {
		t.Fatalf("timers left after Open: %v", clk.Pending())
	}
	if id := d.Identity(); id != (devices.Identity{Model: "LE6", Serial: "1", Firmware: "2.0"}) {
		t.Fatalf("identity %+v", id)
	}
	if pb.Remaining() != 0 {
		t.Fatalf("%d exchanges unused", pb.Remaining())
	}
}
