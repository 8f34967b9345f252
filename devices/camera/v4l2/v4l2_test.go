package v4l2_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/devices/camera/v4l2"
	"github.com/exhibit-forensics/exhibit/devices/camera/v4l2/v4l2test"
)

func open(t *testing.T, fake *v4l2test.Camera, cfg v4l2.Config) *v4l2.Dev {
	t.Helper()
	cfg.Open = func(int) (v4l2.Device, error) { return fake, nil }
	d, err := v4l2.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func index(calls []v4l2test.Call, op string, p gocv.VideoCaptureProperties) int {
	for i, c := range calls {
		if c.Op == op && c.Prop == p {
			return i
		}
	}
	return -1
}

// TestConfigureSetsManualFirstAndReadsBack: auto-exposure goes to manual
// (and is checked) before the exposure is set; every value reported is
// the one read back, not the one asked for.
func TestConfigureSetsManualFirstAndReadsBack(t *testing.T) {
	fake := v4l2test.New()
	d := open(t, fake, v4l2.Config{})
	got, err := d.Configure(context.Background(), camera.Settings{Exposure: 10*time.Millisecond + 30*time.Microsecond, Gain: 7.4})
	if err != nil {
		t.Fatal(err)
	}
	calls := fake.Calls()
	setAuto := index(calls, "set", gocv.VideoCaptureAutoExposure)
	getAuto := index(calls, "get", gocv.VideoCaptureAutoExposure)
	setExp := index(calls, "set", gocv.VideoCaptureExposure)
	getExp := index(calls, "get", gocv.VideoCaptureExposure)
	if !(setAuto >= 0 && setAuto < getAuto && getAuto < setExp && setExp < getExp) {
		t.Fatalf("control order %v: want set auto-exposure, get it, set exposure, get it", calls)
	}
	if calls[setAuto].Value != v4l2.ManualExposureV4L2 {
		t.Errorf("auto-exposure set to %v", calls[setAuto].Value)
	}
	if calls[setExp].Value != 100 {
		t.Errorf("exposure set to %v units, want 100 (10.03 ms in 100 µs units)", calls[setExp].Value)
	}
	if index(calls, "get", gocv.VideoCaptureGain) < index(calls, "set", gocv.VideoCaptureGain) {
		t.Error("gain not read back after setting it")
	}
	// The camera rounds gain to whole steps: 7.4 → 7.
	if got.Exposure != 10*time.Millisecond || got.Gain != 7 || got.WhiteBalance.Mode != camera.WBNone {
		t.Errorf("applied %v, want exposure 10ms gain 7 (as read back)", got)
	}
	if index(calls, "set", gocv.VideoCaptureAutoWB) >= 0 {
		t.Error("white balance touched although none was asked for")
	}
}

// TestFakeIgnoresExposureInAuto shows why the order matters: the fake,
// like a UVC camera, ignores an exposure set while automatic.
func TestFakeIgnoresExposureInAuto(t *testing.T) {
	fake := v4l2test.New()
	fake.Set(gocv.VideoCaptureExposure, 42)
	if got := fake.Get(gocv.VideoCaptureExposure); got == 42 {
		t.Fatal("fake applied exposure in automatic mode")
	}
}

func TestClampedExposureIsReported(t *testing.T) {
	fake := v4l2test.New()
	d := open(t, fake, v4l2.Config{})
	got, err := d.Configure(context.Background(), camera.Settings{Exposure: 3 * time.Second, Gain: 500})
	if err != nil {
		t.Fatal(err)
	}
	if got.Exposure != time.Second || got.Gain != 100 {
		t.Errorf("applied %v; want the camera's limits, 1 s and gain 100", got)
	}
	f := capture(t, d)
	if f.Meta.Exposure != time.Second || f.Meta.Gain != 100 {
		t.Errorf("frame meta %+v does not carry the applied values", f.Meta)
	}
}

func TestNoManualExposure(t *testing.T) {
	fake := v4l2test.New()
	fake.NoManualExposure = true
	d := open(t, fake, v4l2.Config{})
	_, err := d.Configure(context.Background(), camera.Settings{Exposure: time.Millisecond, Gain: 1})
	if !errors.Is(err, camera.ErrUnsupported) {
		t.Errorf("camera stuck in auto: %v, want ErrUnsupported", err)
	}
	if index(fake.Calls(), "set", gocv.VideoCaptureExposure) >= 0 {
		t.Error("exposure set although the camera stayed automatic")
	}
}

func TestWhiteBalance(t *testing.T) {
	fake := v4l2test.New()
	d := open(t, fake, v4l2.Config{})
	got, err := d.Configure(context.Background(), camera.Settings{Exposure: time.Millisecond, Gain: 1,
		WhiteBalance: camera.WhiteBalance{Mode: camera.WBManual, Kelvin: 5603}})
	if err != nil {
		t.Fatal(err)
	}
	if got.WhiteBalance.Kelvin != 5600 {
		t.Errorf("white balance %v, want 5600K as read back", got.WhiteBalance)
	}
	calls := fake.Calls()
	if index(calls, "set", gocv.VideoCaptureAutoWB) > index(calls, "set", gocv.VideoCaptureWBTemperature) {
		t.Error("temperature set before automatic white balance was switched off")
	}
	got, err = d.Configure(context.Background(), camera.Settings{Exposure: time.Millisecond, Gain: 1,
		WhiteBalance: camera.WhiteBalance{Mode: camera.WBAuto}})
	if err != nil || got.WhiteBalance.Mode != camera.WBAuto {
		t.Errorf("auto white balance: %v %v", got, err)
	}
}

func capture(t *testing.T, d *v4l2.Dev) *camera.Frame {
	t.Helper()
	f, err := d.Capture(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestDiscardAfterLightChanged: the camera queues four frames; after a
// light change the driver drops them (and the one being exposed) so the
// frame returned was exposed under the new light.
func TestDiscardAfterLightChanged(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name     string
		discard  int
		announce bool
		want     uint16
	}{
		{"default discard", 0, true, 2000},
		{"no discard shows the stale frame", -1, true, 1000},
		{"light change not announced", 0, false, 1000},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake := v4l2test.New()
			d := open(t, fake, v4l2.Config{Discard: c.discard})
			if _, err := d.Configure(ctx, camera.Settings{Exposure: time.Millisecond, Gain: 1}); err != nil {
				t.Fatal(err)
			}
			first := capture(t, d)
			if first.Pix[0] != 1000 {
				t.Fatalf("first frame %d", first.Pix[0])
			}
			fake.SetScene(2000)
			if c.announce {
				d.LightChanged()
			}
			f := capture(t, d)
			if f.Pix[0] != c.want {
				t.Errorf("frame after the light change shows %d, want %d", f.Pix[0], c.want)
			}
			if c.announce && c.discard == 0 && f.Meta.Discarded != v4l2.DefaultDiscard {
				t.Errorf("Meta.Discarded %d", f.Meta.Discarded)
			}
		})
	}
}

func TestDepths(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		typ      gocv.MatType
		channels int
		bits     int
		widened  bool
		want     uint16
	}{
		{gocv.MatTypeCV16UC1, 1, 12, false, 1000},
		{gocv.MatTypeCV8UC1, 1, 8, true, (1000 >> 8) * 257},
		{gocv.MatTypeCV8UC3, 3, 8, true, (1000 >> 8) * 257},
		{gocv.MatTypeCV16UC3, 3, 12, false, 1000},
	} {
		fake := v4l2test.New()
		fake.Type = c.typ
		fake.Width, fake.Height = 8, 6
		d := open(t, fake, v4l2.Config{SignificantBits: 12, Discard: -1})
		if _, err := d.Configure(ctx, camera.Settings{Exposure: time.Millisecond, Gain: 1}); err != nil {
			t.Fatal(err)
		}
		f := capture(t, d)
		if f.Channels != c.channels || f.Meta.BitDepth != c.bits || f.Meta.Widened != c.widened || f.Width != 8 || f.Height != 6 {
			t.Errorf("type %v: %dx%d×%d meta %+v", c.typ, f.Width, f.Height, f.Channels, f.Meta)
		}
		for i, v := range f.Pix {
			if v != c.want {
				t.Fatalf("type %v: sample %d = %d, want %d", c.typ, i, v, c.want)
			}
		}
	}
}

func TestPrefer16RequestsY16(t *testing.T) {
	fake := v4l2test.New()
	open(t, fake, v4l2.Config{Prefer16: true, Width: 1280, Height: 720})
	calls := fake.Calls()
	i := index(calls, "set", gocv.VideoCaptureFOURCC)
	if i < 0 || calls[i].Value != v4l2.Fourcc("Y16 ") {
		t.Errorf("FOURCC not set to Y16: %v", calls)
	}
	if j := index(calls, "set", gocv.VideoCaptureConvertRGB); j < 0 || calls[j].Value != 0 {
		t.Errorf("RGB conversion not switched off: %v", calls)
	}
	if fake.Width != 1280 || fake.Height != 720 {
		t.Errorf("size %dx%d", fake.Width, fake.Height)
	}
	if v4l2.Fourcc("Y16 ") != float64(0x20363159) {
		t.Errorf("Fourcc(Y16 ) = %#x", uint32(v4l2.Fourcc("Y16 ")))
	}
}

func TestReadFailureAndRecovery(t *testing.T) {
	fake := v4l2test.New()
	d := open(t, fake, v4l2.Config{Discard: -1})
	d.Configure(context.Background(), camera.Settings{Exposure: time.Millisecond, Gain: 1})
	fake.FailNext(1)
	if _, err := d.Capture(context.Background()); !errors.Is(err, camera.ErrNoFrame) {
		t.Errorf("failed read: %v, want ErrNoFrame", err)
	}
	capture(t, d)
	if _, err := v4l2.New(fake, v4l2.Config{}).Capture(context.Background()); err == nil {
		t.Error("capture before Configure succeeded")
	}
}

// TestBlockedRead: a read that never returns times out; the next capture
// waits for it; once it returns, captures work again.
func TestBlockedRead(t *testing.T) {
	fake := v4l2test.New()
	d := open(t, fake, v4l2.Config{Discard: -1, ReadTimeout: 50 * time.Millisecond})
	d.Configure(context.Background(), camera.Settings{Exposure: time.Millisecond, Gain: 1})
	release := fake.Block()
	defer release()
	if _, err := d.Capture(context.Background()); !errors.Is(err, camera.ErrTimeout) {
		t.Fatalf("blocked read: %v, want ErrTimeout", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Capture(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("capture behind a blocked read: %v", err)
	}
	release()
	capture(t, d)
}

func TestHaltAbandonsCapture(t *testing.T) {
	fake := v4l2test.New()
	d := open(t, fake, v4l2.Config{Discard: -1, ReadTimeout: time.Minute})
	d.Configure(context.Background(), camera.Settings{Exposure: time.Millisecond, Gain: 1})
	release := fake.Block()
	blocked := fake.Blocked()
	done := make(chan error, 1)
	go func() {
		_, err := d.Capture(context.Background())
		done <- err
	}()
	<-blocked
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, camera.ErrHalted) {
		t.Errorf("halted capture: %v", err)
	}
	release()
	capture(t, d)
}

func TestStatusAndIdentity(t *testing.T) {
	fake := v4l2test.New()
	d := open(t, fake, v4l2.Config{Index: 7, Discard: -1, ReadTimeout: 50 * time.Millisecond})
	d.Configure(context.Background(), camera.Settings{Exposure: time.Millisecond, Gain: 1})
	capture(t, d)
	st, err := d.Status(context.Background())
	if err != nil || st.Width != 640 || st.Height != 480 || st.Frames != 1 || !st.Ready {
		t.Errorf("status %+v %v", st, err)
	}
	if id := d.Identity(); id.Serial != "unknown" || d.String() == "" {
		t.Errorf("identity %v, %q", id, d)
	}
	if line, err := d.Describe(context.Background()); err != nil || line != st.String() {
		t.Errorf("Describe = %q, %v; want %q", line, err, st.String())
	}
	release := fake.Block()
	defer release()
	if _, err := d.Capture(context.Background()); !errors.Is(err, camera.ErrTimeout) {
		t.Fatal(err)
	}
	before := len(fake.Calls())
	if st, _ := d.Status(context.Background()); st.Ready {
		t.Error("ready while a read is blocked")
	}
	if len(fake.Calls()) != before {
		t.Error("Status touched the device while a read was blocked")
	}
}
