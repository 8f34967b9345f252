package camera

import (
	"strings"
	"testing"
	"time"
)

func TestSettingsValidate(t *testing.T) {
	for _, c := range []struct {
		s   Settings
		msg string // "" valid
	}{
		{Settings{Exposure: time.Millisecond, Gain: 1}, ""},
		{Settings{Exposure: time.Millisecond, Gain: 0, WhiteBalance: WhiteBalance{Mode: WBManual, Kelvin: 5600}}, ""},
		{Settings{Exposure: time.Millisecond, WhiteBalance: WhiteBalance{Mode: WBAuto}}, ""},
		{Settings{Exposure: 0, Gain: 1}, "not positive"},
		{Settings{Exposure: -time.Second, Gain: 1}, "not positive"},
		{Settings{Exposure: time.Millisecond, Gain: -1}, "negative"},
		{Settings{Exposure: time.Millisecond, WhiteBalance: WhiteBalance{Mode: WBManual}}, "outside 1000–20000"},
		{Settings{Exposure: time.Millisecond, WhiteBalance: WhiteBalance{Mode: WBAuto, Kelvin: 5000}}, "takes no colour temperature"},
		{Settings{Exposure: time.Millisecond, WhiteBalance: WhiteBalance{Mode: 9}}, "unknown white balance"},
	} {
		err := c.s.Validate()
		if (c.msg == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.msg)) {
			t.Errorf("%v: %v, want %q", c.s, err, c.msg)
		}
	}
}

func TestFrameValidate(t *testing.T) {
	ok := Frame{Width: 2, Height: 1, Channels: 1, Pix: []uint16{1, 2}, Meta: Meta{BitDepth: 16}}
	for _, c := range []struct {
		edit func(*Frame)
		msg  string
	}{
		{func(*Frame) {}, ""},
		{func(f *Frame) { f.Width = 0 }, "frame size"},
		{func(f *Frame) { f.Channels = 2 }, "2 channels"},
		{func(f *Frame) { f.Pix = f.Pix[:1] }, "holds 1 samples, want 2"},
		{func(f *Frame) { f.Meta.BitDepth = 17 }, "bit depth 17"},
		{func(f *Frame) { f.Meta.Widened = true }, "widened frame claims 16 bits"},
	} {
		f := ok
		f.Pix = append([]uint16(nil), ok.Pix...)
		c.edit(&f)
		err := f.Validate()
		if (c.msg == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.msg)) {
			t.Errorf("%+v: %v, want %q", f, err, c.msg)
		}
	}
}

func TestGray16AndWiden(t *testing.T) {
	f := &Frame{Width: 2, Height: 2, Channels: 1, Pix: []uint16{0, 0x1234, 0xfffe, 7}, Meta: Meta{BitDepth: 16}}
	img, err := f.Gray16()
	if err != nil {
		t.Fatal(err)
	}
	if img.Gray16At(1, 0).Y != 0x1234 || img.Gray16At(0, 1).Y != 0xfffe || f.At(1, 1, 0) != 7 {
		t.Error("Gray16 does not match the samples")
	}
	if _, err := (&Frame{Channels: 3}).Gray16(); err == nil {
		t.Error("Gray16 of a colour frame")
	}
	if Widen8(0) != 0 || Widen8(255) != 65535 || Widen8(128) != 128*257 {
		t.Error("Widen8")
	}
}
