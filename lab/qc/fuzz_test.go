package qc

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"
)

// FuzzEvaluate feeds the evaluator runs in the vector notation (the seeds
// are the rule vectors) and checks that it never panics and that:
//   - every run with results gets one evaluation, whose state follows from
//     its findings, and whose rules violated are those a plain reading of
//     docs/qc.md finds (oracle_test.go);
//   - the order of the input does not matter;
//   - a run's evaluation does not depend on later runs;
//   - adding a violating result (beyond 3 SD) to a run makes or keeps that
//     run rejected: never a reject turned into an accept;
//   - no evaluation of an earlier run changes when a result is added to a
//     later one;
//   - the Levey-Jennings chart of every material is well-formed XML.
func FuzzEvaluate(f *testing.F) {
	for _, tc := range vectors {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		rs, err := parseVector(in)
		if err != nil || len(rs) > 300 {
			return
		}
		evs, err := Evaluate(testMaterials, rs)
		if err != nil {
			if !errors.Is(err, ErrInvalid) || evs != nil {
				t.Fatalf("error %v with %d evaluations; want ErrInvalid and none", err, len(evs))
			}
			return
		}
		runs := map[string]bool{}
		for _, r := range rs {
			runs[r.Run] = true
		}
		if len(evs) != len(runs) {
			t.Fatalf("%d evaluations for %d runs", len(evs), len(runs))
		}
		if len(evs) == 0 {
			return
		}
		for k, e := range evs {
			if got, want := violated(e), oracle(evs, k); !slices.Equal(got, want) {
				t.Fatalf("run %s: Evaluate found [%s], the oracle [%s]", e.Run, joined(got), joined(want))
			}
			want := Accept
			for _, f := range e.Findings {
				if f.Rule.Rejects() {
					want = Reject
				} else if want == Accept {
					want = Warn
				}
				_ = f.String()
			}
			if e.State != want {
				t.Fatalf("run %s: state %v with findings %v", e.Run, e.State, e.Findings)
			}
			if (Authorisable(e) == nil) != (e.State != Reject) {
				t.Fatalf("run %s: state %v but Authorisable says %v", e.Run, e.State, Authorisable(e))
			}
		}

		reversed := slices.Clone(rs)
		slices.Reverse(reversed)
		if again, err := Evaluate(testMaterials, reversed); err != nil || !reflect.DeepEqual(again, evs) {
			t.Fatalf("the input's order changed the evaluations (%v)", err)
		}

		// Without the last run, the others are judged the same.
		lastRun := evs[len(evs)-1].Run
		var earlier []Result
		for _, r := range rs {
			if r.Run != lastRun {
				earlier = append(earlier, r)
			}
		}
		if len(earlier) > 0 {
			prev, err := Evaluate(testMaterials, earlier)
			if err != nil || !reflect.DeepEqual(prev, evs[:len(evs)-1]) {
				t.Fatalf("removing the last run changed earlier evaluations (%v)", err)
			}
		}

		for _, m := range testMaterials {
			var b bytes.Buffer
			if err := Chart(&b, m, evs); err != nil {
				t.Fatal(err)
			}
			wellFormed(t, b.Bytes())
		}

		// A violating result added to each run in turn.
		for k, e := range evs {
			last := e.Points[len(e.Points)-1]
			m := testMaterials[0]
			bad := Result{Run: e.Run, Time: last.Time.Add(time.Second), Level: m.Level, Lot: m.Lot, Value: m.Mean + 3.5*m.SD}
			more, err := Evaluate(testMaterials, append(slices.Clone(rs), bad))
			if err != nil {
				t.Fatal(err)
			}
			if more[k].Run != e.Run || more[k].State != Reject {
				t.Fatalf("run %s was %v; with a result at +3.5 SD it is %v", e.Run, e.State, more[k].State)
			}
			if !reflect.DeepEqual(more[:k], evs[:k]) {
				t.Fatalf("adding a result to run %s changed the evaluation of an earlier run", e.Run)
			}
		}
	})
}
