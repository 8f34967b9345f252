package tesserabench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/klog/v2"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store/storetest"
)

// TestMain quietens Tessera's informational logging (klog), keeping its
// warnings and errors on standard error.
func TestMain(m *testing.M) {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	for k, v := range map[string]string{"logtostderr": "false", "stderrthreshold": "WARNING"} {
		if err := fs.Set(k, v); err != nil {
			panic(err)
		}
	}
	klog.SetOutput(io.Discard)
	os.Exit(m.Run())
}

var (
	nFlag       = flag.Int("entries", 32768, "entries appended per measured run")
	runsFlag    = flag.Int("runs", 5, "TestCompare: rounds (each runs every contestant once)")
	compareFlag = flag.Bool("compare", false, "run TestCompare (it takes a while and prints rates)")
	loadsFlag   = flag.String("loads", "w4-c256", "TestCompare: comma-separated loads, or \"all\"")
)

// loads are the shapes measured. The main comparison is w4-c256: four
// writers each handing over 256 entries at a time (four Updates of 256
// records in flight for Exhibit, which group commit may merge; 4x256 Add
// calls in flight for Tessera, whose queue cuts them into batches of 256).
var loads = []Load{
	{Writers: 4, Chunk: 256},
	{Writers: 1, Chunk: 256},
	{Writers: 512, Chunk: 1},
}

// entriesFor is the number of entries a run of load l appends: -entries,
// or a quarter of it for one-entry chunks, which are several times slower
// on both sides (the same count is used for every contestant of a load).
func entriesFor(l Load) int {
	if l.Chunk == 1 {
		return max(1, *nFlag/4)
	}
	return *nFlag
}

// rawApplies reports whether the raw SQLite floor is measured under l: it
// has no group commit, so with one-entry chunks it only measures one fsync
// per entry, which says nothing about either contestant.
func rawApplies(l Load) bool { return l.Chunk > 1 }

// ---- records ----

var pool struct {
	sync.Mutex
	f    *storetest.Fixture
	recs []*chain.Record
	envs [][]byte
}

// records returns n signed records, each the first record of its own
// exhibit chain, and their envelopes. They are made once per process and
// shared: every measured run uses a fresh store, so the same records can be
// appended again. Signing is never timed.
func records(tb testing.TB, n int) ([]*chain.Record, [][]byte) {
	tb.Helper()
	pool.Lock()
	defer pool.Unlock()
	if pool.f == nil {
		pool.f = storetest.NewFixture()
	}
	for i := len(pool.recs); i < n; i++ {
		id := fmt.Sprintf("0190a0b0-0000-7000-8000-%012d", i+1)
		blob := fmt.Appendf(nil, "bench item %d", i+1)
		r := pool.f.Received(tb, id, fmt.Sprintf("JS/%d", i+1), "CASE-1", blob)
		pool.recs = append(pool.recs, r)
		pool.envs = append(pool.envs, r.Envelope)
	}
	return pool.recs[:n], pool.envs[:n]
}

func TestRecordsAreValidAndSameSize(t *testing.T) {
	recs, envs := records(t, 64)
	for i, r := range recs {
		if r.Statement.Predicate.Seq != 1 || r.Statement.Predicate.Exhibit.Ref != fmt.Sprintf("JS/%d", i+1) {
			t.Fatalf("record %d: seq %d ref %q", i, r.Statement.Predicate.Seq, r.Statement.Predicate.Exhibit.Ref)
		}
		if &envs[i][0] != &r.Envelope[0] {
			t.Fatalf("Tessera entry %d is not the record's envelope", i)
		}
		if got := chain.Sum(envs[i]); got != r.Hash {
			t.Fatalf("record %d: hash %s, envelope hashes to %s", i, r.Hash, got)
		}
	}
}

// TestHarness appends a few hundred entries through every runner and load,
// so that `go test` proves the harness works (the runners check the final
// tree size themselves) without measuring anything.
func TestHarness(t *testing.T) {
	ctx := context.Background()
	recs, envs := records(t, 600)
	for _, l := range loads {
		t.Run(l.String(), func(t *testing.T) {
			if _, err := RunTessera(ctx, t.TempDir(), envs, l, DefaultTesseraOptions); err != nil {
				t.Fatal(err)
			}
			if _, err := RunExhibit(ctx, filepath.Join(t.TempDir(), "x.db"), recs, l); err != nil {
				t.Fatal(err)
			}
			if _, err := RunRawSQLite(ctx, filepath.Join(t.TempDir(), "raw.db"), recs, l); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// ---- benchmarks ----

// Each benchmark iteration is one complete run: a fresh, empty log, then
// -entries entries appended under one load. A fixed count per iteration
// (rather than b.N entries) keeps every iteration the same work — the log
// grows from 0 to the same size, so later iterations do not run on a bigger
// tree or B-tree — and lets the signed records be made once and reused.
// Setting up and tearing down the log is not timed. Reported: entries/s
// (entries of all iterations / timed wall time), ns/entry, and ns/op
// overridden to the timed duration of one run.
//
// Use -benchtime=Nx to choose the number of runs: -benchtime=3x -count=1.

func report(b *testing.B, results []Result) {
	var entries int
	var elapsed time.Duration
	for _, r := range results {
		entries += r.Entries
		elapsed += r.Elapsed
	}
	b.ReportMetric(float64(entries)/elapsed.Seconds(), "entries/s")
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(entries), "ns/entry")
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(len(results)), "ns/op")
}

func bench(b *testing.B, applies func(Load) bool, run func(ctx context.Context, dir string, l Load, n int) (Result, error)) {
	ctx := context.Background()
	records(b, *nFlag) // sign outside any timing
	for _, l := range loads {
		if !applies(l) {
			continue
		}
		b.Run(l.String(), func(b *testing.B) {
			var results []Result
			for b.Loop() {
				r, err := run(ctx, b.TempDir(), l, entriesFor(l))
				if err != nil {
					b.Fatal(err)
				}
				results = append(results, r)
			}
			report(b, results)
		})
	}
}

func always(Load) bool { return true }

func BenchmarkTesseraPOSIX(b *testing.B) {
	_, envs := records(b, *nFlag)
	bench(b, always, func(ctx context.Context, dir string, l Load, n int) (Result, error) {
		return RunTessera(ctx, dir, envs[:n], l, DefaultTesseraOptions)
	})
}

func BenchmarkExhibitSQLite(b *testing.B) {
	recs, _ := records(b, *nFlag)
	bench(b, always, func(ctx context.Context, dir string, l Load, n int) (Result, error) {
		return RunExhibit(ctx, filepath.Join(dir, "exhibit.db"), recs[:n], l)
	})
}

func BenchmarkRawSQLite(b *testing.B) {
	recs, _ := records(b, *nFlag)
	bench(b, rawApplies, func(ctx context.Context, dir string, l Load, n int) (Result, error) {
		return RunRawSQLite(ctx, filepath.Join(dir, "raw.db"), recs[:n], l)
	})
}

// ---- TestCompare ----

// A contestant is one way of appending, measured in TestCompare.
type contestant struct {
	name    string
	applies func(Load) bool
	run     func(ctx context.Context, dir string, l Load, n int) (Result, error)
}

func contestants(tb testing.TB) []contestant {
	recs, envs := records(tb, *nFlag)
	cs := []contestant{
		{"tessera-posix", always, func(ctx context.Context, dir string, l Load, n int) (Result, error) {
			return RunTessera(ctx, dir, envs[:n], l, DefaultTesseraOptions)
		}},
		{"exhibit-sqlite", always, func(ctx context.Context, dir string, l Load, n int) (Result, error) {
			return RunExhibit(ctx, filepath.Join(dir, "exhibit.db"), recs[:n], l)
		}},
		{"raw-sqlite", rawApplies, func(ctx context.Context, dir string, l Load, n int) (Result, error) {
			return RunRawSQLite(ctx, filepath.Join(dir, "raw.db"), recs[:n], l)
		}},
	}
	return cs
}

// TestCompare runs every contestant alternately, -runs rounds per load in
// one process, and prints every rate, the medians and each contestant's
// ratio to Tessera (the median of the per-round ratios). It asserts nothing
// about speed: the machine is shared and noisy, and the figures are for
// people to read.
//
//	go test -run TestCompare -compare -runs 5 -entries 32768 -count=1 .
func TestCompare(t *testing.T) {
	if !*compareFlag {
		t.Skip("pass -compare to run the comparison")
	}
	ctx := context.Background()
	cs := contestants(t)
	var chosen []Load
	for _, l := range loads {
		if *loadsFlag == "all" || slices.Contains(strings.Split(*loadsFlag, ","), l.String()) {
			chosen = append(chosen, l)
		}
	}
	if len(chosen) == 0 {
		t.Fatalf("-loads %q names none of the loads", *loadsFlag)
	}
	_, envs := records(t, *nFlag)
	fmt.Printf("envelope (= Tessera entry) bytes: %d..%d; %d rounds; rates in entries/s\n", minLen(envs), maxLen(envs), *runsFlag)
	const base = "tessera-posix"
	for _, l := range chosen {
		n := entriesFor(l)
		fmt.Printf("== load %v (%d writers, %d entries per call), %d entries per run\n", l, l.Writers, l.Chunk, n)
		rates := map[string][]float64{}
		ratios := map[string][]float64{} // per round, to Tessera
		for round := range *runsFlag {
			order := slices.Clone(cs)
			if round%2 == 1 { // alternate the order so drift hits both sides
				slices.Reverse(order)
			}
			got := map[string]float64{}
			for _, c := range order {
				if !c.applies(l) {
					continue
				}
				r, err := c.run(ctx, t.TempDir(), l, n)
				if err != nil {
					t.Fatalf("%s %v round %d: %v", c.name, l, round+1, err)
				}
				got[c.name] = r.Rate()
				rates[c.name] = append(rates[c.name], r.Rate())
			}
			var line []string
			for _, c := range cs {
				if rate, ok := got[c.name]; ok {
					line = append(line, fmt.Sprintf("%s %.0f", c.name, rate))
					ratios[c.name] = append(ratios[c.name], rate/got[base])
				}
			}
			fmt.Printf("round %d: %s\n", round+1, strings.Join(line, ", "))
		}
		for _, c := range cs {
			if !c.applies(l) {
				continue
			}
			fmt.Printf("  median %-50s %8.0f/s  x%.2f of %s\n", c.name, median(rates[c.name]), median(ratios[c.name]), base)
		}
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func minLen(xs [][]byte) int {
	m := 0
	for i, x := range xs {
		if i == 0 || len(x) < m {
			m = len(x)
		}
	}
	return m
}

func maxLen(xs [][]byte) int {
	m := 0
	for _, x := range xs {
		m = max(m, len(x))
	}
	return m
}
