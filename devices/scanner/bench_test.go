package scanner_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/scanner"
	"github.com/exhibit-forensics/exhibit/devices/scanner/scannersim"
	"github.com/exhibit-forensics/exhibit/internal/streamtest"
)

// BenchmarkScanLatency measures, per label, the time from the simulator
// being asked to read it to Next returning it, through the simulator,
// a real pseudo-terminal, go.bug.st/serial and the driver (framing, ACK,
// duplicate check, sample.ParseScan). The baseline, measured in the same
// run, is the same line written to a bare pseudo-terminal and read back
// from its terminal end up to the CR, with neither simulator nor driver.
// It reports both medians and their ratio.
func BenchmarkScanLatency(b *testing.B) {
	ack := map[string]bool{"plain": false, "acknak": true}
	for _, name := range []string{"plain", "acknak"} {
		b.Run(name, func(b *testing.B) {
			bench := start(b, options{sim: scannersim.Config{AIM: true, AckNak: ack[name]}, dev: scanner.Config{DupWindow: -1, AckNak: ack[name]}, collect: true})
			pair := streamtest.PTY(b)
			peer := &streamtest.Peer{RW: pair.Terminal()}
			var base, drv []time.Duration
			i := 0
			for b.Loop() {
				l := scannersim.Label{Symbology: "]d2", Data: fmt.Sprintf("0109501101020917\x1d21KIT%06d", i)}
				i++
				line := bench.sim.Format(l)
				t0 := time.Now()
				if _, err := pair.Write(line); err != nil {
					b.Fatal(err)
				}
				got, err := peer.Read(len(line))
				if err != nil || !bytes.Equal(got, line) {
					b.Fatalf("baseline read %q, %v", got, err)
				}
				base = append(base, time.Since(t0))
				t0 = time.Now()
				res := bench.scanAsync(b, l, scannersim.NoFault)
				s := bench.next(b)
				drv = append(drv, time.Since(t0))
				<-res
				if s.Err != nil || s.Value.ID != fmt.Sprintf("KIT%06d", i-1) {
					b.Fatalf("scan %+v %v", s.Value, s.Err)
				}
			}
			slices.Sort(base)
			slices.Sort(drv)
			mb, md := base[len(base)/2], drv[len(drv)/2]
			b.ReportMetric(float64(mb.Microseconds()), "baseline-p50-µs")
			b.ReportMetric(float64(md.Microseconds()), "driver-p50-µs")
			b.ReportMetric(float64(md)/float64(mb), "p50-ratio")
		})
	}
}
