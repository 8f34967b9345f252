package labday

import (
	"context"
	"flag"
	"strings"
	"testing"
	"time"
)

var samples = flag.Int("labday.samples", 60, "kits received in TestDay's day")

// guard bounds a day in a test: far longer than it takes, so that a
// stuck day fails rather than hangs.
const guard = 10 * time.Minute

// runDay runs a day of n samples and checks it.
func runDay(tb testing.TB, n int) *Day {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	d, err := New(ctx, Config{Dir: tb.TempDir(), Samples: n, Seed: 11})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Close() })
	if err := d.Run(ctx); err != nil {
		tb.Fatal(err)
	}
	if err := d.Check(ctx); err != nil {
		tb.Fatal(err)
	}
	return d
}

// TestDay: a short day (-labday.samples, 60 by default) through intake,
// orders, three analysers on pseudo-terminals, QC, review, authorisation
// and reports; Check finds nothing lost or misplaced, and the samples of
// the run that failed QC are held.
func TestDay(t *testing.T) {
	d := runDay(t, *samples)
	kinds := map[string]int{}
	held, reported := 0, 0
	for _, s := range d.Samples {
		kinds[s.Kind]++
		if s.Held {
			held++
		}
		if s.Report != "" {
			reported++
		}
	}
	// The mix: mostly negatives, and positives of more than one kind.
	if kinds[Negative] < len(d.Samples)/2 || kinds[GHBHigh] == 0 || kinds[GHBLow] == 0 || kinds[Negative] == len(d.Samples) {
		t.Errorf("the day's mix: %v", kinds)
	}
	if want := len(d.Samples) / len(d.Analysers); held == 0 || held != want {
		t.Errorf("%d samples held, want the %d of the last analyser", held, want)
	}
	if reported+held != len(d.Samples) {
		t.Errorf("%d reported and %d held of %d", reported, held, len(d.Samples))
	}
	for _, p := range d.Phases {
		t.Logf("%-24s wall %8v cpu %8v", p.Name, p.Wall.Round(time.Millisecond), p.CPU.Round(time.Millisecond))
	}
	t.Logf("mix %v; %d held, %d reported; outcomes %v", kinds, held, reported, d.Outcomes)

	// Check is not blind: a result on the wrong bottle, a held sample
	// taken for authorisable, and a sample's lost report are each found.
	ctx := context.Background()
	var pos, neg, h *Sample
	for _, s := range d.Samples {
		switch {
		case s.Held && h == nil:
			h = s
		case !s.Held && s.Kind == Negative && neg == nil:
			neg = s
		case !s.Held && s.Kind == GHBHigh && pos == nil:
			pos = s
		}
	}
	for _, tc := range []struct {
		name   string
		break_ func()
		want   string
	}{
		{"bottles swapped", func() { pos.A, neg.A = neg.A, pos.A }, "not on its A bottle"},
		{"held taken for authorisable", func() { h.Held = false }, "want the one sealed"},
		{"report lost", func() { pos.Report = "" }, "want the one sealed"},
		{"result not sent", func() { neg.Results = neg.Results[1:] }, "the plan was"},
	} {
		saved := make([]Sample, len(d.Samples))
		for i, s := range d.Samples {
			saved[i] = *s
		}
		tc.break_()
		if err := d.check(ctx, false); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Check said %v, want %q", tc.name, err, tc.want)
		}
		for i := range saved {
			*d.Samples[i] = saved[i]
		}
	}
	if err := d.check(ctx, false); err != nil {
		t.Fatalf("restored: %v", err)
	}
}
