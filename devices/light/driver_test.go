package light_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/light/lightsim"
	"github.com/exhibit-forensics/exhibit/internal/clock"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func TestDriverAgainstSimulator(t *testing.T) {
	sim := lightsim.New(lightsim.Config{Serial: "000777"})
	r := start(t, sim)
	d := r.open(t, light.Config{})
	if got := d.String(); got != "light engine LE6 SN 000777 at "+string(r.link) {
		t.Errorf("String() = %q", got)
	}
	ctx := context.Background()
	for _, b := range light.Bands() {
		for _, f := range light.Filters() {
			if err := d.SetBand(ctx, b); err != nil {
				t.Fatalf("SetBand(%v): %v", b, err)
			}
			if err := d.SetFilter(ctx, f); err != nil {
				t.Fatalf("SetFilter(%v): %v", f, err)
			}
			st, err := d.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Band != b || st.Filter != f {
				t.Fatalf("after %v/%v status says %v/%v", b, f, st.Band, st.Filter)
			}
			if e := sim.Emission(); e.Band != b || e.Filter != f {
				t.Fatalf("after %v/%v the simulator emits %+v", b, f, e)
			}
		}
	}
	for _, lv := range []int{0, 1, 50, 99, 100} {
		if err := d.SetLevel(ctx, lv); err != nil {
			t.Fatal(err)
		}
		if e := sim.Emission(); e.Level != lv {
			t.Fatalf("level %d: simulator has %d", lv, e.Level)
		}
	}
	for _, bad := range []int{-1, 101} {
		if err := d.SetLevel(ctx, bad); err == nil {
			t.Errorf("SetLevel(%d) accepted", bad)
		}
	}
	if err := d.SetBand(ctx, light.Band(99)); err == nil {
		t.Error("SetBand(99) accepted")
	}
	if err := d.On(ctx); err != nil {
		t.Fatal(err)
	}
	if !sim.Emission().On {
		t.Fatal("simulator dark after On")
	}
	if err := d.Off(ctx); err != nil {
		t.Fatal(err)
	}
	if sim.Emission().On {
		t.Fatal("simulator lit after Off")
	}
	if st := d.Stats(); st.Retries != 0 || st.Sent != st.Commands+2 { // +2: ID and VER at Open
		t.Fatalf("clean link stats: %+v", st)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.On(ctx); !errors.Is(err, light.ErrClosed) {
		t.Fatalf("On after Close: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestWaitSettled(t *testing.T) {
	clk := clock.NewFake(t0)
	sim := lightsim.New(lightsim.Config{Clock: clk})
	d := start(t, sim).open(t, light.Config{})
	ctx := context.Background()
	if err := d.SetFilter(ctx, light.FilterOrange); err != nil {
		t.Fatal(err)
	}
	settled := make(chan light.Status, 1)
	errc := result(func() error {
		st, err := d.WaitSettled(ctx, time.Millisecond)
		settled <- st
		return err
	})
	// The filter wheel needs 120 ms of simulated time; nothing moves the
	// clock but the test, so the driver is still polling.
	select {
	case <-errc:
		t.Fatal("WaitSettled returned before the simulated settle time")
	default:
	}
	clk.Advance(lightsim.DefaultSettle.Filter)
	if err := wait(t, errc, "WaitSettled"); err != nil {
		t.Fatal(err)
	}
	if st := <-settled; !st.Settled || st.Filter != light.FilterOrange {
		t.Fatalf("WaitSettled returned %v", st)
	}
}

// TestCorruptionIsRetried: with bytes corrupted in both directions, every
// command still ends with the device in the commanded state, and the
// driver's counters show that it had to retry.
func TestCorruptionIsRetried(t *testing.T) {
	sim := lightsim.New(lightsim.Config{Seed: 42})
	r := start(t, sim)
	d := r.open(t, light.Config{Timeout: 40 * time.Millisecond, Attempts: 12})
	sim.SetFaults(lightsim.Faults{CorruptRate: 0.004})
	ctx := context.Background()
	for i := range 120 {
		lv := (i * 37) % 101
		if err := d.SetLevel(ctx, lv); err != nil {
			t.Fatalf("command %d: %v", i, err)
		}
		if e := sim.Emission(); e.Level != lv {
			t.Fatalf("command %d: simulator level %d, want %d", i, e.Level, lv)
		}
		if i%10 == 0 {
			st, err := d.Status(ctx)
			if err != nil {
				t.Fatalf("status %d: %v", i, err)
			}
			if st.Level != lv {
				t.Fatalf("status %d: level %d, want %d", i, st.Level, lv)
			}
		}
	}
	ds, ss := d.Stats(), sim.Stats()
	if ss.Corrupted == 0 || ds.Retries == 0 || ds.BadFrames+ss.ChecksumErrors == 0 {
		t.Fatalf("corruption did not exercise the retry path: driver %+v, simulator %+v", ds, ss)
	}
	t.Logf("driver %+v; simulator %+v", ds, ss)
}

func TestDroppedRepliesAreRetried(t *testing.T) {
	sim := lightsim.New(lightsim.Config{Seed: 3})
	d := start(t, sim).open(t, light.Config{Timeout: 30 * time.Millisecond, Attempts: 10})
	sim.SetFaults(lightsim.Faults{DropRate: 0.3})
	ctx := context.Background()
	for i := range 40 {
		if err := d.SetLevel(ctx, i); err != nil {
			t.Fatalf("command %d: %v", i, err)
		}
	}
	if sim.Emission().Level != 39 {
		t.Fatalf("final level %d", sim.Emission().Level)
	}
	if ds := d.Stats(); ds.Timeouts == 0 || ds.Retries < ds.Timeouts {
		t.Fatalf("stats %+v", ds)
	}
}

func TestNoReplyGivesUp(t *testing.T) {
	sim := lightsim.New(lightsim.Config{})
	d := start(t, sim).open(t, light.Config{Timeout: 20 * time.Millisecond, Attempts: 3, HaltTimeout: 100 * time.Millisecond})
	before := d.Stats()
	sim.SetFaults(lightsim.Faults{DropRate: 1})
	err := d.SetLevel(context.Background(), 10)
	if !errors.Is(err, light.ErrNoReply) || !strings.Contains(err.Error(), "to L after 3 attempts: timeout after 20ms") {
		t.Fatalf("SetLevel with every reply dropped: %v", err)
	}
	// The device did act: only the replies were lost.
	if sim.Emission().Level != 10 {
		t.Fatalf("level %d", sim.Emission().Level)
	}
	if ds := d.Stats(); ds.Sent-before.Sent != 3 || ds.Timeouts-before.Timeouts != 3 {
		t.Fatalf("stats before %+v, after %+v: want 3 more frames sent, 3 more timeouts", before, ds)
	}
	sim.SetFaults(lightsim.Faults{})
}

// TestLatency: a reply held back by the simulator's clock arrives when the
// clock moves; the driver waits for it within its timeout.
func TestLatency(t *testing.T) {
	clk := clock.NewFake(t0)
	sim := lightsim.New(lightsim.Config{Clock: clk})
	d := start(t, sim).open(t, light.Config{Timeout: 20 * time.Second})
	sim.SetFaults(lightsim.Faults{Latency: 50 * time.Millisecond})
	errc := result(func() error { return d.SetLevel(context.Background(), 33) })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		t.Fatalf("SetLevel returned %v while its reply was held back", err)
	default:
	}
	clk.Advance(50 * time.Millisecond)
	if err := wait(t, errc, "SetLevel"); err != nil {
		t.Fatal(err)
	}
	sim.SetFaults(lightsim.Faults{})
}

// TestUnplugReconnect pulls the adapter out after the third command and
// plugs a new pseudo-terminal in behind the same link only when the test
// says so; the driver must ride through it.
func TestUnplugReconnect(t *testing.T) {
	sim := lightsim.New(lightsim.Config{Faults: lightsim.Faults{UnplugAfter: 3}}) // ID, VER, L 10
	r := start(t, sim)
	first, _ := r.link.Target()
	d := r.open(t, light.Config{ReconnectTimeout: 20 * time.Second})
	ctx := context.Background()
	err1 := result(func() error { return d.SetLevel(ctx, 10) })
	<-r.unplugged
	err2 := result(func() error { return d.SetLevel(ctx, 20) })
	// While unplugged the command cannot complete.
	select {
	case err := <-err2:
		t.Fatalf("command completed while unplugged: %v", err)
	default:
	}
	r.replug <- struct{}{}
	second := r.waitPlugged(t)
	if err := wait(t, err1, "first command"); err != nil {
		t.Fatalf("command before the unplug: %v", err)
	}
	if err := wait(t, err2, "second command"); err != nil {
		t.Fatalf("command across the unplug: %v", err)
	}
	if e := sim.Emission(); e.Level != 20 {
		t.Fatalf("level after reconnect %d", e.Level)
	}
	if ds := d.Stats(); ds.Reconnects != 1 {
		t.Fatalf("stats %+v", ds)
	}
	t.Logf("pty before %s, after %s", first, second)
	// Halt works on the new connection too.
	if err := d.On(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	if sim.Emission().On {
		t.Fatal("Halt left the light on")
	}
}

// TestWrongDeviceAfterReplug: if a different engine appears at the path,
// the driver refuses to talk to it.
func TestWrongDeviceAfterReplug(t *testing.T) {
	sim := lightsim.New(lightsim.Config{Faults: lightsim.Faults{UnplugAfter: 3}}) // ID, VER, L 1
	r := start(t, sim)
	d := r.open(t, light.Config{ReconnectTimeout: 20 * time.Second, HaltTimeout: 200 * time.Millisecond})
	ctx := context.Background()
	errc := result(func() error { return d.SetLevel(ctx, 1) })
	<-r.unplugged
	other := lightsim.New(lightsim.Config{Serial: "999999"})
	startAt(t, other, r.link)
	// The reply to L 1 may or may not have crossed before the unplug; the
	// first command that needs the new connection meets the other device.
	err := wait(t, errc, "SetLevel")
	if err == nil {
		err = d.SetLevel(ctx, 5)
	}
	if !errors.Is(err, light.ErrWrongDevice) || !strings.Contains(err.Error(), "999999") {
		t.Fatalf("command after a different device appeared: %v", err)
	}
	if other.Emission().Level != 0 {
		t.Fatal("the driver commanded the wrong device")
	}
}

func TestReconnectTimeout(t *testing.T) {
	sim := lightsim.New(lightsim.Config{Faults: lightsim.Faults{UnplugAfter: 3}}) // ID, VER, L 1
	r := start(t, sim)
	d := r.open(t, light.Config{ReconnectTimeout: 50 * time.Millisecond, HaltTimeout: 50 * time.Millisecond})
	ctx := context.Background()
	errc := result(func() error { return d.SetLevel(ctx, 1) })
	<-r.unplugged
	err := wait(t, errc, "SetLevel")
	if err == nil {
		err = d.SetLevel(ctx, 5)
	}
	if !errors.Is(err, light.ErrDisconnected) {
		t.Fatalf("command with the device gone: %v, want ErrDisconnected", err)
	}
}

func TestOpenWithoutDevice(t *testing.T) {
	_, err := light.Open(context.Background(), light.Config{Path: t.TempDir() + "/nothing", ReconnectTimeout: 30 * time.Millisecond})
	if !errors.Is(err, light.ErrDisconnected) {
		t.Fatalf("Open of a missing path: %v", err)
	}
	if _, err := light.Open(context.Background(), light.Config{}); err == nil {
		t.Fatal("Open without a path succeeded")
	}
}

func TestInterlockRefusal(t *testing.T) {
	sim := lightsim.New(lightsim.Config{Faults: lightsim.Faults{InterlockOpen: true}})
	d := start(t, sim).open(t, light.Config{})
	ctx := context.Background()
	for _, b := range []light.Band{light.Band365, light.Band415} {
		if err := d.SetBand(ctx, b); err != nil {
			t.Fatalf("selecting %v while dark: %v", b, err)
		}
		err := d.On(ctx)
		var ie *light.InterlockError
		if !errors.As(err, &ie) || !errors.Is(err, light.ErrInterlockOpen) || ie.Band != b || ie.Command != "ON" {
			t.Fatalf("On at %v with the interlock open: %v", b, err)
		}
		if !strings.Contains(ie.Advice(), "Close the enclosure") {
			t.Fatalf("advice %q", ie.Advice())
		}
		if sim.Emission().On {
			t.Fatalf("%v lit despite the interlock", b)
		}
	}
	// Visible and infrared bands are not interlocked.
	for _, b := range []light.Band{light.BandWhite, light.BandCrossPolarised, light.Band450, light.Band535, light.Band850} {
		if err := d.SetBand(ctx, b); err != nil {
			t.Fatal(err)
		}
		if err := d.On(ctx); err != nil {
			t.Fatalf("On at %v with the interlock open: %v", b, err)
		}
	}
	// Switching to violet while lit is refused and leaves the light as it was.
	err := d.SetBand(ctx, light.Band415)
	var ie *light.InterlockError
	if !errors.As(err, &ie) || ie.Band != light.Band415 || ie.Command != "B" {
		t.Fatalf("SetBand(415nm) while lit: %v", err)
	}
	if e := sim.Emission(); !e.On || e.Band != light.Band850 {
		t.Fatalf("emission after the refused band change: %+v", e)
	}
	if st := d.Stats(); st.Retries != 0 {
		t.Fatalf("refusals must not be retried: %+v", st)
	}
}

func TestOverTemperature(t *testing.T) {
	th := lightsim.DefaultThermal
	th.Ambient = 64 // derating 100 - 5·4 = 80 %
	sim := lightsim.New(lightsim.Config{Thermal: &th, Clock: clock.NewFake(t0)})
	d := start(t, sim).open(t, light.Config{})
	ctx := context.Background()
	if err := d.SetLevel(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if err := d.On(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Derated() || st.Derating != 80 || st.Output() != 80 || st.Temperature != 64 {
		t.Fatalf("status in a hot room: %v", st)
	}
	// Describe, which `exhibit devices check` prints, is the status read
	// again, as one line.
	if line, err := d.Describe(ctx); err != nil || line != st.String() {
		t.Fatalf("Describe = %q, %v; want %q", line, err, st.String())
	}
	if e := sim.Emission(); e.Output != 80 {
		t.Fatalf("simulated output %d, want 80", e.Output)
	}

	// Cut-off: a board already past 75 °C refuses ON with E11.
	th.Ambient = 80
	hot := lightsim.New(lightsim.Config{Thermal: &th})
	d2 := start(t, hot).open(t, light.Config{})
	if err := d2.SetLevel(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if err := d2.On(ctx); err != nil {
		t.Fatal(err) // not yet tripped: the cut-off is noticed on the next command
	}
	st, err = d2.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.On || st.Derating != 0 {
		t.Fatalf("status past the cut-off: %v", st)
	}
	err = d2.On(ctx)
	var de *light.DeviceError
	if !errors.Is(err, light.ErrOverTemperature) || !errors.As(err, &de) || de.Code != light.CodeOverTemp {
		t.Fatalf("On past the cut-off: %v", err)
	}
}

// TestCancelHaltsLight: the light goes off when a command's context is
// cancelled, when a session context tied with HaltOnCancel ends, and on
// Close.
func TestCancelHaltsLight(t *testing.T) {
	sim := lightsim.New(lightsim.Config{})
	d := start(t, sim).open(t, light.Config{Timeout: 20 * time.Second})
	ctx := context.Background()
	lit := func() {
		t.Helper()
		if err := d.SetLevel(ctx, 40); err != nil {
			t.Fatal(err)
		}
		if err := d.On(ctx); err != nil {
			t.Fatal(err)
		}
	}
	dark := func(e lightsim.Emission) bool { return !e.On }

	t.Run("session context", func(t *testing.T) {
		lit()
		session, cancel := context.WithCancel(ctx)
		stop := d.HaltOnCancel(session)
		defer stop()
		cancel()
		waitEmission(t, sim, "dark after the session was cancelled", dark)
	})

	t.Run("already cancelled", func(t *testing.T) {
		lit()
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		err := d.SetLevel(cancelled, 90)
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "light switched off") {
			t.Fatalf("SetLevel with a cancelled context: %v", err)
		}
		if e := sim.Emission(); e.On || e.Level != 40 {
			t.Fatalf("emission %+v: want off, level untouched", e)
		}
	})

	t.Run("cancel in flight", func(t *testing.T) {
		lit()
		// The device carries out the command but its reply is lost, so
		// the driver is waiting when the caller gives up.
		sim.SetFaults(lightsim.Faults{DropRate: 1})
		changed := sim.Changed()
		cmdCtx, cancel := context.WithCancel(ctx)
		errc := result(func() error { return d.SetLevel(cmdCtx, 70) })
		<-changed // the device has applied L 70; the driver waits for a reply that will not come
		sim.SetFaults(lightsim.Faults{})
		cancel()
		err := wait(t, errc, "cancelled SetLevel")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled SetLevel: %v", err)
		}
		if e := sim.Emission(); e.On {
			t.Fatalf("light still on after a cancelled command: %+v", e)
		}
	})

	t.Run("close", func(t *testing.T) {
		lit()
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		if sim.Emission().On {
			t.Fatal("light still on after Close")
		}
	})
}

// TestHaltAbandonsCommand: Halt does not wait behind a slow command; the
// command returns ErrHalted and the light goes off.
func TestHaltAbandonsCommand(t *testing.T) {
	clk := clock.NewFake(t0)
	sim := lightsim.New(lightsim.Config{Clock: clk})
	d := start(t, sim).open(t, light.Config{Timeout: 20 * time.Second, HaltTimeout: 20 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := d.On(ctx); err != nil {
		t.Fatal(err)
	}
	sim.SetFaults(lightsim.Faults{Latency: time.Hour})
	errc := result(func() error { return d.SetLevel(ctx, 50) })
	if err := clk.BlockUntil(ctx, 1); err != nil { // the simulator holds the reply back
		t.Fatal(err)
	}
	haltc := result(d.Halt)
	if err := wait(t, errc, "SetLevel"); !errors.Is(err, light.ErrHalted) {
		t.Fatalf("SetLevel interrupted by Halt: %v", err)
	}
	// Release the held reply and let OFF through at once.
	sim.SetFaults(lightsim.Faults{})
	clk.Advance(time.Hour)
	if err := wait(t, haltc, "Halt"); err != nil {
		t.Fatal(err)
	}
	if sim.Emission().On {
		t.Fatal("light on after Halt")
	}
	// The held-back reply to L 50 is either discarded by the input flush
	// before OFF is sent or read and dropped as stale; it must never be
	// taken as the answer to OFF (the echo check would also catch that).
}
