package light_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/light/lightsim"
)

// BenchmarkRoundTrip measures one light command (L n → OK L=n) from the
// driver's call to its return, through go.bug.st/serial, a real
// pseudo-terminal at 115200 baud and the simulator. It reports the median
// and 99th percentile of the individual round trips; the target is
// p99 ≤ 5 ms.
//
// A pseudo-terminal moves bytes at memory speed whatever baud rate is set,
// so "pty" is the software path alone, and the "wire-115200" case has the
// simulator hold each reply back for the time the 12–14-byte command and
// the 15–17-byte reply would take on a real 8N1 line (2.3–2.7 ms). That hold
// is a Go timer, whose wake-ups on Linux are millisecond-granular (epoll), so
// "wire-115200" overstates a real line by the timer's overshoot.
func BenchmarkRoundTrip(b *testing.B) {
	for _, bc := range []struct {
		name string
		baud int
	}{{"pty", 0}, {"wire-115200", 115200}} {
		b.Run(bc.name, func(b *testing.B) {
			sim := lightsim.New(lightsim.Config{Baud: bc.baud})
			d := start(b, sim).open(b, light.Config{Baud: 115200})
			ctx := context.Background()
			lat := make([]time.Duration, 0, b.N)
			i := 0
			for b.Loop() {
				t := time.Now()
				if err := d.SetLevel(ctx, i%101); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t))
				i++
			}
			slices.Sort(lat)
			pct := func(p float64) float64 {
				return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds())
			}
			b.ReportMetric(pct(0.50), "p50-µs")
			b.ReportMetric(pct(0.99), "p99-µs")
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
			if st := d.Stats(); st.Retries != 0 {
				b.Logf("retries during the benchmark: %+v", st)
			}
		})
	}
}
