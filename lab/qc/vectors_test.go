package qc

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// testMaterials are the controls the vectors use. Their SDs are powers of
// two so that a z written in a vector as 2 or 3 is exactly on the limit.
var testMaterials = []Material{
	{Name: "LOW-1", Analyte: "GHB", Lot: "2230", Level: 1, Mean: 10, SD: 1, Unit: "mg/L"},
	{Name: "HIGH-1", Analyte: "GHB", Lot: "2231", Level: 2, Mean: 100, SD: 4, Unit: "mg/L"},
	{Name: "HIGH-1", Analyte: "GHB", Lot: "2240", Level: 2, Mean: 104, SD: 4, Unit: "mg/L"},
	{Name: "MID-1", Analyte: "GHB", Lot: "2232", Level: 3, Mean: 40, SD: 2, Unit: "mg/L"},
}

var vectorBase = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

// parseVector reads the vector notation: runs R1, R2, … separated by "|",
// each a list of results LEVEL[/LOT]:Z separated by spaces (Z in SDs from
// the level's mean; LOT defaults to the level's first lot). Run k starts
// at 08:00 + k hours; its results are a minute apart in the order written.
func parseVector(s string) ([]Result, error) {
	var out []Result
	for r, run := range strings.Split(s, "|") {
		for i, tok := range strings.Fields(run) {
			lvl, z, ok := strings.Cut(tok, ":")
			if !ok {
				return nil, fmt.Errorf("token %q: want LEVEL[/LOT]:Z", tok)
			}
			lvl, lot, hasLot := strings.Cut(lvl, "/")
			level, err := strconv.Atoi(lvl)
			if err != nil {
				return nil, fmt.Errorf("token %q: %v", tok, err)
			}
			zf, err := strconv.ParseFloat(z, 64)
			if err != nil {
				return nil, fmt.Errorf("token %q: %v", tok, err)
			}
			m, found := Material{}, false
			for _, c := range testMaterials {
				if c.Level == level && (!hasLot || c.Lot == lot) {
					m, found = c, true
					break
				}
			}
			if !found {
				// Left to Evaluate to refuse: no such material.
				m = Material{Level: level, Lot: lot, SD: 1}
			}
			out = append(out, Result{
				Run:   "R" + strconv.Itoa(r+1),
				Time:  vectorBase.Add(time.Duration(r)*time.Hour + time.Duration(i)*time.Minute),
				Level: level,
				Lot:   m.Lot,
				Value: m.Mean + zf*m.SD,
			})
		}
	}
	return out, nil
}

func repeat(run string, n int) string {
	return strings.TrimSuffix(strings.Repeat(run+" | ", n), " | ")
}

// vectors: for each rule, cases that violate it and cases just short of
// it, within a run and across runs and levels. want is the state of the
// last run and its findings as "RULE SCOPE", in the order Evaluate gives
// them. The table is also the seed corpus of FuzzEvaluate.
var vectors = []struct {
	name, in string
	state    State
	findings []string
}{
	{"accept_in_control", "1:+0.4 2:-1.5 3:+1.9", Accept, nil},

	{"12s_above", "1:+2.01", Warn, []string{"1-2s single result"}},
	{"12s_below", "2:-2.5 1:+0.3", Warn, []string{"1-2s single result"}},
	{"12s_at_limit", "1:+2 2:-2", Accept, nil},

	{"13s_above", "2:+3.01", Reject, []string{"1-3s single result"}},
	{"13s_below_other_level_fine", "1:-3.5 2:+0.5", Reject, []string{"1-3s single result"}},
	{"13s_at_limit", "2:+3", Warn, []string{"1-2s single result"}},
	{"13s_only_earlier_run", "1:+3.5 | 1:+0.2", Accept, nil},

	{"22s_within_run_across_levels", "1:+2.1 2:+2.2", Reject, []string{"2-2s within the run across levels", "1-2s single result", "1-2s single result"}},
	{"22s_within_run_below", "1:-2.1 2:-2.2", Reject, []string{"2-2s within the run across levels", "1-2s single result", "1-2s single result"}},
	{"22s_within_run_one_at_limit", "1:+2.1 2:+2", Warn, []string{"1-2s single result"}},
	{"22s_within_run_opposite_sides", "1:+2.1 2:-0.5", Warn, []string{"1-2s single result"}},
	{"22s_within_run_three_levels", "1:+2.1 2:+0.3 3:+2.4", Reject, []string{"2-2s within the run across levels", "1-2s single result", "1-2s single result"}},
	{"22s_across_runs_one_level", "1:+2.1 2:+0.2 | 1:+2.3 2:-0.4", Reject, []string{"2-2s across runs", "1-2s single result"}},
	{"22s_across_runs_below", "2:-2.1 | 2:-2.05", Reject, []string{"2-2s across runs", "1-2s single result"}},
	{"22s_across_runs_at_limit", "1:+2.1 | 1:+2", Accept, nil},
	{"22s_across_runs_opposite_sides", "1:+2.1 | 1:-2.3", Warn, []string{"1-2s single result"}},
	{"22s_across_runs_broken", "1:+2.1 | 1:+1.9 | 1:+2.2", Warn, []string{"1-2s single result"}},
	{"22s_not_across_runs_and_levels", "2:+2.1 | 1:+2.2", Warn, []string{"1-2s single result"}},
	{"22s_replicates_one_level", "1:+2.1 1:+2.2", Reject, []string{"2-2s across runs", "1-2s single result", "1-2s single result"}},

	{"r4s_within_run", "1:+2.1 2:-2.1", Reject, []string{"R-4s", "1-2s single result", "1-2s single result"}},
	{"r4s_at_limit", "1:+2.1 2:-2", Warn, []string{"1-2s single result"}},
	{"r4s_range_alone_not_enough", "1:+1.5 2:-2.6", Warn, []string{"1-2s single result"}},
	{"r4s_not_across_runs", "1:+2.5 | 1:-2.5", Warn, []string{"1-2s single result"}},

	{"41s_one_level", "1:+1.1 | 1:+1.2 | 1:+1.5 | 1:+1.1", Reject, []string{"4-1s across runs"}},
	{"41s_one_level_below", "2:-1.1 | 2:-1.2 | 2:-1.5 | 2:-1.1", Reject, []string{"4-1s across runs"}},
	{"41s_one_level_at_limit", "1:+1.1 | 1:+1.2 | 1:+1.5 | 1:+1", Accept, nil},
	{"41s_three_only", "1:+1.1 | 1:+1.2 | 1:+1.5", Accept, nil},
	{"41s_mixed_sides", "1:+1.1 | 1:-1.2 | 1:+1.5 | 1:+1.1", Accept, nil},
	{"41s_across_levels", "1:+1.1 2:+1.2 | 1:+1.5 2:+1.1", Reject, []string{"4-1s across runs and levels"}},
	{"41s_across_levels_at_limit", "1:+1.1 2:+1.2 | 1:+1.5 2:+1", Accept, nil},
	{"41s_across_levels_window_of_one_level", "2:+1.5 1:+1.5 1:+1.5 1:+1.5 | 1:+1.5", Reject, []string{"4-1s across runs"}},
	{"41s_streak_before_this_run", "1:+1.1 | 1:+1.2 | 1:+1.5 | 1:+1.1 | 1:+0.2", Accept, nil},
	{"41s_both_ways", "1:+1.1 2:+1.3 | 1:+1.2 2:+1.4 | 1:+1.5 2:+1.6 | 1:+1.1 2:+1.7", Reject, []string{"4-1s across runs", "4-1s across runs", "4-1s across runs and levels"}},

	{"10x_one_level", repeat("1:+0.5", 10), Reject, []string{"10x across runs"}},
	{"10x_one_level_below", repeat("2:-0.1", 10), Reject, []string{"10x across runs"}},
	{"10x_nine", repeat("1:+0.5", 9), Accept, nil},
	{"10x_on_the_mean_breaks", repeat("1:+0.5", 5) + " | 1:0 | " + repeat("1:+0.5", 5), Accept, nil},
	{"10x_across_levels", repeat("1:+0.5 2:+0.3", 5), Reject, []string{"10x across runs and levels"}},
	{"10x_across_levels_nine", repeat("1:-0.5 2:-0.3", 4) + " | 1:-0.5 2:+0.1", Accept, nil},
	{"10x_across_lots", repeat("2:+0.5", 5) + " | " + repeat("2/2240:+0.5", 5), Reject, []string{"10x across runs"}},
}
