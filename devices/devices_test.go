package devices

import (
	"errors"
	"testing"
	"time"
)

func TestIdentityString(t *testing.T) {
	id := Identity{Model: "LE6", Serial: "000421", Firmware: "1.4.2"}
	if got, want := id.String(), "LE6 SN 000421 firmware 1.4.2"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}

func TestStatusLine(t *testing.T) {
	if s, err := StatusLine(1500*time.Millisecond, nil); s != "1.5s" || err != nil {
		t.Errorf("StatusLine(1.5s, nil) = %q, %v", s, err)
	}
	bad := errors.New("no reply")
	if s, err := StatusLine(time.Second, bad); s != "" || err != bad {
		t.Errorf("StatusLine(1s, err) = %q, %v; want the error and no line", s, err)
	}
}
