package labday

import (
	"bytes"
	"context"
	"flag"
	"strconv"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
)

var benchSamples = flag.Int("labday.bench-samples", 1500, "kits received in BenchmarkDay's day")

// BenchmarkDay runs the full day (-labday.bench-samples, 1,500 by
// default) b.N times and checks each one, reporting per phase the wall
// time and the CPU (user + system) of the whole process, simulators
// included, in seconds; and the baseline measured in the same run: as
// many plain ledger captures as the day wrote records, each capturing
// the bytes of one of the day's records, into a fresh data directory
// (baseline-s, baseline-cpu-s), and the day's wall time over it
// (x-baseline).
//
//	make bench-labday
//	go test ./lab/labday -run '^$' -bench Day -benchtime 1x -count 3 -timeout 60m
func BenchmarkDay(b *testing.B) {
	var wall, cpu, bwall, bcpu time.Duration
	phases := map[string][2]time.Duration{}
	var records uint64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		d, err := New(ctx, Config{Dir: b.TempDir(), Samples: *benchSamples, Seed: 11})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		w0, c0 := time.Now(), cpuTime()
		if err := d.Run(ctx); err != nil {
			b.Fatal(err)
		}
		wall += time.Since(w0)
		cpu += cpuTime() - c0
		b.StopTimer()
		for _, p := range d.Phases {
			t := phases[p.Name]
			phases[p.Name] = [2]time.Duration{t[0] + p.Wall, t[1] + p.CPU}
		}
		if err := d.Check(ctx); err != nil {
			b.Fatal(err)
		}
		// The baseline: the day's records, as bytes, captured plainly.
		var bodies [][]byte
		n, err := d.L.TreeSize(ctx)
		if err != nil {
			b.Fatal(err)
		}
		records = n
		if err := d.L.Records(ctx, 0, n, func(sr store.StoredRecord) error {
			bodies = append(bodies, sr.Envelope)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		bl, err := datadir.Init(ctx, b.TempDir(), "Baseline", "BL", datadir.Options{})
		if err != nil {
			b.Fatal(err)
		}
		w0, c0 = time.Now(), cpuTime()
		for j, body := range bodies {
			if _, _, _, err := bl.Capture(ctx, ledger.CaptureRequest{Case: "BASELINE", Kind: chain.ExhibitDocument,
				FileName: "record-" + strconv.Itoa(j), Body: bytes.NewReader(body)}); err != nil {
				b.Fatal(err)
			}
		}
		bwall += time.Since(w0)
		bcpu += cpuTime() - c0
		bl.Close()
		d.Close()
		cancel()
		b.StartTimer()
	}
	n := float64(b.N)
	for name, t := range phases {
		b.ReportMetric(t[0].Seconds()/n, name+"-s")
		b.ReportMetric(t[1].Seconds()/n, name+"-cpu-s")
	}
	b.ReportMetric(wall.Seconds()/n, "day-s")
	b.ReportMetric(cpu.Seconds()/n, "day-cpu-s")
	b.ReportMetric(bwall.Seconds()/n, "baseline-s")
	b.ReportMetric(bcpu.Seconds()/n, "baseline-cpu-s")
	b.ReportMetric(float64(wall)/float64(bwall), "x-baseline")
	b.ReportMetric(float64(records), "records")
}
