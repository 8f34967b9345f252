package receive

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/lab/astm"
	"github.com/exhibit-forensics/exhibit/lab/astm/record"
	"github.com/exhibit-forensics/exhibit/lab/protocol"
)

// BenchmarkResultToDurable measures, on the real ledger in a temporary
// directory (blob written and fsynced, signed record committed to SQLite
// with synchronous=FULL), the time from the protocol handing a complete
// five-result message to the receiver until the receiver may acknowledge
// it. It reports the median and the 99th percentile.
func BenchmarkResultToDurable(b *testing.B) {
	l := newLedger(b)
	d, _ := protocol.Lookup(protocol.ASTM, "lis2a2")
	var durs []time.Duration
	r, err := New(Config{Store: l, Dialect: d, Codes: codes(b), Logger: quiet, Observe: func(o Outcome) {
		if o.Kind != Stored {
			b.Errorf("outcome %+v", o)
		}
		durs = append(durs, o.Durable)
	}})
	if err != nil {
		b.Fatal(err)
	}
	h := r.ASTMHandler()
	msgs := make([]*astm.Message, b.N)
	for i := range msgs {
		recs := [][]byte{[]byte(`H|\^&|||Bench^1|||||||P|LIS2-A2|20240612103000`), []byte("P|1||CASE-1"),
			[]byte(fmt.Sprintf("O|1|S%07d||^^^GHB|R", i))}
		for j, c := range []string{"GHB", "BENZ", "THC", "COC", "KET"} {
			recs = append(recs, []byte(fmt.Sprintf("R|%d|^^^%s|%d.%d|mg/L|0-10|N||F", j+1, c, i%50, j)))
		}
		recs = append(recs, []byte("L|1|N"))
		pm, err := record.ParseMessage(recs, d.ASTM.Record)
		if err != nil {
			b.Fatal(err)
		}
		var raw []byte
		for _, rec := range recs {
			raw = append(append(raw, rec...), '\r')
		}
		m := &astm.Message{ID: chain.Sum(raw), Raw: raw, Dialect: "lis2a2", Parsed: pm}
		for _, ref := range pm.Results() {
			code := ref.Result.Test.Code(4)
			a, ok := codes(b).Analyte(code)
			m.Results = append(m.Results, astm.Result{ResultRef: ref, Code: code, Analyte: a, Known: ok})
		}
		msgs[i] = m
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := h.Accept(ctx, msgs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
	if len(durs) > 0 {
		b.ReportMetric(float64(durs[len(durs)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(durs[len(durs)*99/100].Microseconds())/1000, "p99-ms")
	}
}
