package qc

import (
	"slices"
	"strings"
)

// oracle judges run k of evs again straight from the table in docs/qc.md,
// with fixed-size windows instead of streaks and without the shortcuts
// Evaluate takes, and returns the violated rules as sorted "RULE/SCOPE"
// strings. FuzzEvaluate compares it with Evaluate.
func oracle(evs []Evaluation, k int) []string {
	var seq []Point // the analyte series up to run k
	for _, e := range evs[:k+1] {
		seq = append(seq, e.Points...)
	}
	run := evs[k].Run
	got := map[string]bool{}
	beyond := func(p Point, side int, limit float64) bool { return float64(side)*p.Z > limit }
	// window reports whether some n consecutive points of s, one of them
	// from the run, lie beyond limit on one side (from two levels, if
	// levels).
	window := func(s []Point, n int, limit float64, levels bool) bool {
		for i := 0; i+n <= len(s); i++ {
			w := s[i : i+n]
			if !slices.ContainsFunc(w, func(p Point) bool { return p.Run == run }) {
				continue
			}
			if levels && !manyLevels(w) {
				continue
			}
			for _, side := range []int{+1, -1} {
				if !slices.ContainsFunc(w, func(p Point) bool { return !beyond(p, side, limit) }) {
					return true
				}
			}
		}
		return false
	}
	cur := evs[k].Points
	for _, p := range cur {
		if abs(p.Z) > 3 {
			got["1-3s/single result"] = true
		} else if abs(p.Z) > 2 {
			got["1-2s/single result"] = true
		}
	}
	for _, side := range []int{+1, -1} {
		lv := map[int]bool{}
		for _, p := range cur {
			if beyond(p, side, 2) {
				lv[p.Level] = true
			}
		}
		if len(lv) >= 2 {
			got["2-2s/within the run across levels"] = true
		}
	}
	if slices.ContainsFunc(cur, func(p Point) bool { return p.Z > 2 }) && slices.ContainsFunc(cur, func(p Point) bool { return p.Z < -2 }) {
		got["R-4s/within the run across levels"] = true
	}
	for _, p := range cur {
		var level []Point
		for _, q := range seq {
			if q.Level == p.Level {
				level = append(level, q)
			}
		}
		if window(level, 2, 2, false) {
			got["2-2s/across runs"] = true
		}
		if window(level, 4, 1, false) {
			got["4-1s/across runs"] = true
		}
		if window(level, 10, 0, false) {
			got["10x/across runs"] = true
		}
	}
	if window(seq, 4, 1, true) {
		got["4-1s/across runs and levels"] = true
	}
	if window(seq, 10, 0, true) {
		got["10x/across runs and levels"] = true
	}
	var out []string
	for s := range got {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// violated returns e's findings as sorted, distinct "RULE/SCOPE" strings.
func violated(e Evaluation) []string {
	var out []string
	for _, f := range e.Findings {
		s := string(f.Rule) + "/" + f.Scope.String()
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

func joined(s []string) string { return strings.Join(s, ", ") }
