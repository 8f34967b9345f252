package light_test

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/devices"
	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/light/lightsim"
	"github.com/exhibit-forensics/exhibit/devices/serialport"
	"github.com/exhibit-forensics/exhibit/devices/serialport/serialtest"
	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/internal/streamtest"
)

var update = flag.Bool("update", false, "re-record testdata/session.txtar from the simulator")

const sessionFile = "testdata/session.txtar"

// sessionHooks are the things only a live simulator can do; playback skips
// them because their effect is already in the transcript.
type sessionHooks struct {
	advance   func(time.Duration)
	interlock func(open bool)
}

// runSession is the capture-like session both recorded and replayed: it
// reads like the transcript it produces.
func runSession(t *testing.T, d *light.Dev, h sessionHooks) {
	t.Helper()
	ctx := context.Background()
	if id := d.Identity(); id != (devices.Identity{Model: "LE6", Serial: "000421", Firmware: "1.4.2"}) {
		t.Fatalf("identity %+v", id)
	}
	// Power-on state: dark, white selected, settled, interlock closed.
	st, err := d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.On || st.Band != light.BandWhite || st.Filter != light.FilterNone || st.Level != 0 || !st.Settled ||
		st.InterlockOpen || st.Derating != 100 || st.Temperature != 25 {
		t.Fatalf("power-on status: %v", st)
	}
	// 415 nm behind the yellow barrier filter, the best bruise contrast.
	for _, step := range []func() error{
		func() error { return d.SetBand(ctx, light.Band415) },
		func() error { return d.SetFilter(ctx, light.FilterYellow) },
		func() error { return d.SetLevel(ctx, 60) },
		func() error { return d.On(ctx) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	st, err = d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.On || st.Band != light.Band415 || st.Filter != light.FilterYellow || st.Level != 60 || st.Settled {
		t.Fatalf("status right after switching on: %v", st)
	}
	// 200 ms later the filter wheel has arrived and the LED is stable.
	h.advance(200 * time.Millisecond)
	st, err = d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Settled || st.Output() != 60 || st.Temperature <= 25 {
		t.Fatalf("status after 200 ms: %v", st)
	}
	// Someone opens the enclosure: the engine cuts the violet light.
	h.interlock(true)
	st, err = d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.On || !st.InterlockOpen {
		t.Fatalf("status with the interlock open: %v", st)
	}
	var ie *light.InterlockError
	if err := d.On(ctx); !errors.As(err, &ie) || ie.Band != light.Band415 {
		t.Fatalf("On with the interlock open: %v, want *InterlockError for 415nm", err)
	}
	h.interlock(false)
	if err := d.On(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.SetLevel(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if err := d.Off(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestRecordSession runs the session against the simulator over a real pty
// through serialtest.Record and checks the transcript against the committed
// one (-update rewrites it).
func TestRecordSession(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	sim := lightsim.New(lightsim.Config{Clock: clk})
	r := start(t, sim)
	var rec *serialtest.Recorder
	d := r.open(t, light.Config{
		Timeout: 10 * time.Second, // no retries on a loaded machine: the transcript must be exact
		Open: func(ctx context.Context, path string, m serialport.Mode) (serialport.Conn, error) {
			if rec != nil {
				t.Fatal("driver re-opened the port during the recorded session")
			}
			c, err := serialport.Open(ctx, path, m)
			if err != nil {
				return nil, err
			}
			rec = serialtest.Record(c, map[string]string{"device": "light-engine", "baud": "115200"})
			return rec, nil
		},
	})
	rec.SetHeader("firmware", d.Identity().Firmware)
	rec.SetHeader("model", d.Identity().Model)
	rec.Note("Recorded by TestRecordSession (go test ./devices/light -run TestRecordSession -update)")
	rec.Note("from the real driver against lightsim over a pseudo-terminal. See firmware-notes/light-engine.md.")
	runSession(t, d, sessionHooks{advance: func(d time.Duration) { clk.Advance(d) }, interlock: sim.SetInterlock})
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if st := d.Stats(); st.Retries != 0 || st.Reconnects != 0 {
		t.Fatalf("recording needed retries or reconnects: %+v", st)
	}
	got, err := rec.Transcript().Format()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(sessionFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(sessionFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("recorded transcript differs from %s (run with -update if the change is intended):\n%s", sessionFile, got)
	}
}

// playbackOpener hands the driver a Playback of file, once.
func playbackOpener(t *testing.T, file string) light.Opener {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := streamtest.ParseTranscript(file, data)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Header["device"] != "light-engine" {
		t.Fatalf("%s is a transcript of %q", file, tr.Header["device"])
	}
	opened := false
	return func(context.Context, string, serialport.Mode) (serialport.Conn, error) {
		if opened {
			t.Error("driver re-opened the port during playback")
			return nil, errors.New("no second playback")
		}
		opened = true
		return serialtest.NewPlayback(tr), nil
	}
}

// TestPlaybackSession replays the committed recording: no simulator, no
// pty; the driver must send exactly the recorded bytes and use every
// exchange (Close fails otherwise).
func TestPlaybackSession(t *testing.T) {
	d, err := light.Open(context.Background(), light.Config{Path: "playback", Open: playbackOpener(t, sessionFile)})
	if err != nil {
		t.Fatal(err)
	}
	runSession(t, d, sessionHooks{advance: func(time.Duration) {}, interlock: func(bool) {}})
	if err := d.Close(); err != nil {
		t.Fatalf("Close (includes the playback's unused-exchange check): %v", err)
	}
}

// TestPlaybackDetectsDeviation: a driver that stops early, or says
// something else, fails the playback.
func TestPlaybackDetectsDeviation(t *testing.T) {
	d, err := light.Open(context.Background(), light.Config{Path: "playback", Open: playbackOpener(t, sessionFile)})
	if err != nil {
		t.Fatal(err)
	}
	// The recording's next command is ST; send L instead.
	if err := d.SetLevel(context.Background(), 5); !errors.Is(err, serialtest.ErrMismatch) {
		t.Fatalf("deviating command: %v, want ErrMismatch", err)
	}
	if err := d.Close(); !errors.Is(err, serialtest.ErrMismatch) || !errors.Is(err, serialtest.ErrUnused) {
		t.Fatalf("Close after deviation: %v, want ErrMismatch and ErrUnused", err)
	}
}

// TestPlaybackEdgeCases replays a hand-written transcript of protocol
// corner cases; its header notes explain each exchange.
func TestPlaybackEdgeCases(t *testing.T) {
	d, err := light.Open(context.Background(), light.Config{
		Path: "playback", Open: playbackOpener(t, "testdata/edge-cases.txtar"),
		Timeout: 5 * time.Millisecond, // silence in a playback is immediate; keep the spin short
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// 1. Reply with a bad CRC: retried, and the retry's answer is used.
	if err := d.SetLevel(ctx, 50); err != nil {
		t.Fatalf("1: %v", err)
	}
	// 2. No reply: retried; the late reply to the first attempt is stale.
	if err := d.On(ctx); err != nil {
		t.Fatalf("2: %v", err)
	}
	// 3. "??" E01 (device could not read our seq): retried; then E10.
	var ie *light.InterlockError
	if err := d.SetBand(ctx, light.Band365); !errors.As(err, &ie) || ie.Band != light.Band365 || ie.Command != "B" {
		t.Fatalf("3: %v, want *InterlockError for 365nm", err)
	}
	// 4. Wrong echo (a corrupted command that passed the CRC): retried.
	if err := d.SetFilter(ctx, light.FilterRed); err != nil {
		t.Fatalf("4: %v", err)
	}
	// 5. A status with an out-of-range field is retried; derating reported.
	st, err := d.Status(ctx)
	if err != nil {
		t.Fatalf("5: %v", err)
	}
	if !st.Derated() || st.Output() != 45 || st.Temperature != 71.0 || st.Filter != light.FilterRed {
		t.Fatalf("5: status %v", st)
	}
	// 6. Over-temperature refusal.
	if err := d.Off(ctx); err != nil {
		t.Fatalf("6: %v", err)
	}
	var de *light.DeviceError
	if err := d.On(ctx); !errors.Is(err, light.ErrOverTemperature) || !errors.As(err, &de) || de.Detail != "76.0" {
		t.Fatalf("6: %v, want E11 with detail 76.0", err)
	}
	// 7. Device errors are returned, not retried; unknown codes too.
	err = d.SetLevel(ctx, 100)
	if !errors.As(err, &de) || de.Code != 42 || de.Mnemonic != "FAULT" || errors.Is(err, light.ErrBadArgument) {
		t.Fatalf("7: %v, want DeviceError E42 FAULT", err)
	}
	st2 := d.Stats()
	if st2.Retries != 5 || st2.Stale != 1 || st2.BadFrames != 1 || st2.Timeouts != 1 {
		t.Fatalf("stats %+v", st2)
	}
	// 8. Close halts: OFF is the last exchange.
	if err := d.Close(); err != nil {
		t.Fatalf("8: %v", err)
	}
}

func TestSessionFileHeader(t *testing.T) {
	data, err := os.ReadFile(filepath.Clean(sessionFile))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := streamtest.ParseTranscript(sessionFile, data)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"device": "light-engine", "firmware": "1.4.2", "baud": "115200"} {
		if tr.Header[k] != want {
			t.Errorf("header %s=%q, want %q", k, tr.Header[k], want)
		}
	}
	if !strings.Contains(string(data), "E10 INTERLOCK 415") {
		t.Error("the recorded session should show the interlock refusal")
	}
}
