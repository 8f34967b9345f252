package lightsim

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestFaultFlags(t *testing.T) {
	var f Faults
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f.AddFlags(fs, "light-")
	err := fs.Parse([]string{"-light-corrupt-rate=0.01", "-light-drop-rate", "0.2", "-light-latency=15ms",
		"-light-unplug-after=7", "-light-interlock-open"})
	if err != nil {
		t.Fatal(err)
	}
	want := Faults{CorruptRate: 0.01, DropRate: 0.2, Latency: 15 * time.Millisecond, UnplugAfter: 7, InterlockOpen: true}
	if f != want {
		t.Fatalf("parsed %+v, want %+v", f, want)
	}
	for _, bad := range []string{"-light-drop-rate=1.5", "-light-corrupt-rate=-0.1", "-light-drop-rate=often"} {
		fs := flag.NewFlagSet("sim", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var f Faults
		f.AddFlags(fs, "light-")
		if err := fs.Parse([]string{bad}); err == nil || !strings.Contains(err.Error(), "light-") {
			t.Errorf("%s: err = %v", bad, err)
		}
	}
}
