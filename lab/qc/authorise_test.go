package qc

import (
	"errors"
	"strings"
	"testing"
)

func TestAuthorisable(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       string // a vector; its last run is asked about
		run      string // ask about this run instead, if set
		want     error
		contains []string
	}{
		{name: "accepted", in: "1:+0.5 2:-0.5"},
		{name: "warning only", in: "1:+2.5 2:-0.5"},
		{name: "1-3s", in: "1:+0.5 2:+3.2", want: ErrRunRejected, contains: []string{"run R1, GHB", "HIGH-1 lot 2231 at 3.2 SD above the mean", "1-3s, run rejected"}},
		{name: "2-2s across runs", in: "2:+2.5 | 2:+2.25", want: ErrRunRejected, contains: []string{"run R2", "2-2s across runs"}},
		{name: "R-4s, 1-2s left out", in: "1:+2.5 2:-2.5", want: ErrRunRejected, contains: []string{"R-4s"}},
		{name: "10x", in: repeat("1:-0.5", 10), want: ErrRunRejected, contains: []string{"10x across runs"}},
		{name: "earlier run still fine", in: "1:+2.5 | 1:+2.25", run: "R1"},
		{name: "run without control results", in: "1:+0.5", run: "R9", want: ErrNotEvaluated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs := evaluateVector(t, tc.in)
			e := evs[len(evs)-1]
			if tc.run != "" {
				e = ForRun(evs, tc.run)
			}
			err := Authorisable(e)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Authorisable: %v, want %v", err, tc.want)
			}
			for _, s := range tc.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q does not say %q", err, s)
				}
			}
			if tc.want == ErrRunRejected && strings.Contains(err.Error(), "1-2s") {
				t.Errorf("%q lists a warning as a reason to hold the run", err)
			}
		})
	}
	if err := Authorisable(Evaluation{}); !errors.Is(err, ErrNotEvaluated) {
		t.Errorf("zero Evaluation: %v, want ErrNotEvaluated", err)
	}
	if err := Authorisable(Evaluation{Run: "R3"}); !errors.Is(err, ErrNotEvaluated) || !strings.Contains(err.Error(), "R3") {
		t.Errorf("unevaluated run R3: %v", err)
	}
}
