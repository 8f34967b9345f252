package receive

import (
	"runtime"
	"testing"
)

func TestUseProcs(t *testing.T) {
	start := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(start) })
	if prev := UseProcs(DefaultProcs); prev != start || runtime.GOMAXPROCS(0) != 1 {
		t.Fatalf("UseProcs(1): previous %d (want %d), now %d", prev, start, runtime.GOMAXPROCS(0))
	}
	for _, n := range []int{0, -3} {
		if prev := UseProcs(n); prev != 1 || runtime.GOMAXPROCS(0) != 1 {
			t.Fatalf("UseProcs(%d) changed the setting: previous %d, now %d", n, prev, runtime.GOMAXPROCS(0))
		}
	}
	if prev := UseProcs(3); prev != 1 || runtime.GOMAXPROCS(0) != 3 {
		t.Fatalf("UseProcs(3): previous %d, now %d", prev, runtime.GOMAXPROCS(0))
	}
}
