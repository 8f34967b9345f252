package qc

import (
	"cmp"
	"slices"
	"strings"
)

// A State is the QC verdict on a run.
type State int

// The states, in increasing severity. The zero State is Unevaluated, so
// that a run nobody judged is never taken for an accepted one.
const (
	Unevaluated State = iota
	Accept
	Warn
	Reject
)

func (s State) String() string {
	switch s {
	case Accept:
		return "accept"
	case Warn:
		return "warn"
	case Reject:
		return "reject"
	}
	return "unevaluated"
}

// A Rule is one Westgard control rule, written as the bench writes it.
type Rule string

// The rules of the multirule procedure.
const (
	Rule12s Rule = "1-2s"
	Rule13s Rule = "1-3s"
	Rule22s Rule = "2-2s"
	RuleR4s Rule = "R-4s"
	Rule41s Rule = "4-1s"
	Rule10x Rule = "10x"
)

// Rejects reports whether a violation of r rejects the run; 1-2s only warns.
func (r Rule) Rejects() bool { return r != Rule12s }

// rank orders findings: rejections by rule, then warnings.
func (r Rule) rank() int {
	switch r {
	case Rule13s:
		return 0
	case Rule22s:
		return 1
	case RuleR4s:
		return 2
	case Rule41s:
		return 3
	case Rule10x:
		return 4
	}
	return 5
}

// A Scope says which results a finding looked at.
type Scope int

// The scopes.
const (
	// Single: one result of the run (1-2s, 1-3s).
	Single Scope = iota + 1
	// WithinRun: the results of the run, across its levels (2-2s, R-4s).
	WithinRun
	// AcrossRuns: consecutive results of one level, the run's and those of
	// the runs before it (2-2s, 4-1s, 10x).
	AcrossRuns
	// AcrossRunsAndLevels: consecutive results of all levels together, the
	// run's and those before it, from two levels at least (4-1s, 10x).
	AcrossRunsAndLevels
)

func (s Scope) String() string {
	switch s {
	case Single:
		return "single result"
	case WithinRun:
		return "within the run across levels"
	case AcrossRuns:
		return "across runs"
	case AcrossRunsAndLevels:
		return "across runs and levels"
	}
	return "unknown scope"
}

// A Finding is one rule violated by a run.
type Finding struct {
	Rule  Rule
	Scope Scope
	// Run is the run judged; Points may include results of earlier runs.
	Run string
	// Side is +1 for results above the mean, −1 below, 0 for R-4s (both).
	Side int
	// Points are the results that triggered the rule, in sequence order.
	Points []Point
}

// An Evaluation is the verdict on one run for one analyte.
type Evaluation struct {
	Analyte string
	Run     string
	State   State
	// Points are the run's own control results, in sequence order.
	Points []Point
	// Findings are the rules violated: rejections first (1-3s, 2-2s, R-4s,
	// 4-1s, 10x), then 1-2s warnings.
	Findings []Finding
}

// Evaluate judges every run that has control results, in run order (the
// time of each run's first result, then run ID). materials are the control
// materials of one analyte; every result must name one of them by level and
// lot. Each run is judged on its own results and those of the runs before
// it, never on later ones. The order of results does not matter.
func Evaluate(materials []Material, results []Result) ([]Evaluation, error) {
	pts, err := points(materials, results)
	if err != nil {
		return nil, err
	}
	runs := runOrder(pts)
	slices.SortFunc(pts, func(a, b Point) int {
		return cmp.Or(
			cmp.Compare(runs[a.Run], runs[b.Run]),
			a.Time.Compare(b.Time),
			cmp.Compare(a.Level, b.Level),
			strings.Compare(a.Lot, b.Lot),
			cmp.Compare(a.Value, b.Value),
		)
	})
	// Each level's results in sequence order, and how many of them came
	// before the run being judged.
	levels := map[int]*levelSeries{}
	for _, p := range pts {
		ls := levels[p.Level]
		if ls == nil {
			ls = &levelSeries{}
			levels[p.Level] = ls
		}
		ls.pts = append(ls.pts, p)
	}
	var evs []Evaluation
	for start := 0; start < len(pts); {
		end := start + 1
		for end < len(pts) && pts[end].Run == pts[start].Run {
			end++
		}
		for _, p := range pts[start:end] {
			levels[p.Level].upto++
		}
		evs = append(evs, evaluateRun(pts[:end], start, levels))
		for _, ls := range levels {
			ls.before = ls.upto
		}
		start = end
	}
	return evs, nil
}

// ForRun returns the evaluation of run, or the zero Evaluation (state
// Unevaluated) if evs has none.
func ForRun(evs []Evaluation, run string) Evaluation {
	for _, e := range evs {
		if e.Run == run {
			return e
		}
	}
	return Evaluation{}
}

// runOrder numbers the runs by their first result's time, then ID.
func runOrder(pts []Point) map[string]int {
	first := map[string]Point{}
	for _, p := range pts {
		if f, ok := first[p.Run]; !ok || p.Time.Before(f.Time) {
			first[p.Run] = p
		}
	}
	ids := make([]string, 0, len(first))
	for id := range first {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int {
		return cmp.Or(first[a].Time.Compare(first[b].Time), strings.Compare(a, b))
	})
	order := make(map[string]int, len(ids))
	for i, id := range ids {
		order[id] = i
	}
	return order
}

// A levelSeries is one level's results in sequence order: pts[:before]
// precede the run being judged, pts[before:upto] are its own.
type levelSeries struct {
	pts          []Point
	before, upto int
}

// evaluateRun judges the run whose results are seq[start:], with the
// results of earlier runs in seq[:start].
func evaluateRun(seq []Point, start int, bylevel map[int]*levelSeries) Evaluation {
	cur := seq[start:]
	run := cur[0].Run
	e := Evaluation{Analyte: cur[0].Material.Analyte, Run: run, Points: slices.Clone(cur)}
	add := func(f Finding) {
		f.Run = run
		e.Findings = append(e.Findings, f)
	}
	// One result at a time: 1-3s, else 1-2s.
	for _, p := range cur {
		switch {
		case abs(p.Z) > 3:
			add(Finding{Rule: Rule13s, Scope: Single, Side: sign(p.Z), Points: []Point{p}})
		case abs(p.Z) > 2:
			add(Finding{Rule: Rule12s, Scope: Single, Side: sign(p.Z), Points: []Point{p}})
		}
	}
	// Within the run: 2-2s across levels, R-4s.
	for _, side := range []int{+1, -1} {
		var beyond []Point
		levels := map[int]bool{}
		for _, p := range cur {
			if float64(side)*p.Z > 2 {
				beyond = append(beyond, p)
				levels[p.Level] = true
			}
		}
		if len(levels) >= 2 {
			add(Finding{Rule: Rule22s, Scope: WithinRun, Side: side, Points: beyond})
		}
	}
	hi, lo := -1, -1
	for i, p := range cur {
		if p.Z > 2 && (hi < 0 || p.Z > cur[hi].Z) {
			hi = i
		}
		if p.Z < -2 && (lo < 0 || p.Z < cur[lo].Z) {
			lo = i
		}
	}
	if hi >= 0 && lo >= 0 {
		pair := []Point{cur[min(hi, lo)], cur[max(hi, lo)]}
		add(Finding{Rule: RuleR4s, Scope: WithinRun, Points: pair})
	}
	// Across runs: each level of the run on its own, then all levels.
	var levels []int
	for _, p := range cur {
		if !slices.Contains(levels, p.Level) {
			levels = append(levels, p.Level)
		}
	}
	slices.Sort(levels)
	for _, lv := range levels {
		ls := bylevel[lv]
		series, curFrom := ls.pts[:ls.upto], ls.before
		for _, r := range []struct {
			rule  Rule
			limit float64
			n     int
		}{{Rule22s, 2, 2}, {Rule41s, 1, 4}, {Rule10x, 0, 10}} {
			for _, f := range streaks(series, curFrom, r.limit, r.n, nil) {
				f.Rule, f.Scope = r.rule, AcrossRuns
				add(f)
			}
		}
	}
	for _, r := range []struct {
		rule  Rule
		limit float64
		n     int
	}{{Rule41s, 1, 4}, {Rule10x, 0, 10}} {
		// Only windows with two levels or more: a window of one level is
		// the level series' business.
		for _, f := range streaks(seq, start, r.limit, r.n, manyLevels) {
			f.Rule, f.Scope = r.rule, AcrossRunsAndLevels
			add(f)
		}
	}
	slices.SortStableFunc(e.Findings, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Rule.rank(), b.Rule.rank()), cmp.Compare(a.Scope, b.Scope))
	})
	e.State = Accept
	for _, f := range e.Findings {
		if f.Rule.Rejects() {
			e.State = Reject
			break
		}
		e.State = Warn
	}
	return e
}

// streaks returns the maximal runs of at least n consecutive points of s
// beyond the same limit (side × z > limit, limit ≥ 0) that include a point
// at or after index cur (the run being judged), in the order of s. If ok is
// not nil, a streak counts only if ok accepts one of its windows of n
// consecutive points that reaches the run.
func streaks(s []Point, cur int, limit float64, n int, ok func([]Point) bool) []Finding {
	// A streak that begins before the run and reaches it contains s[cur],
	// so it lies on s[cur]'s side: walk back only while the points do.
	// Nothing earlier needs looking at, which keeps judging a long history
	// linear in its length.
	from := cur
	if cur < len(s) {
		side := float64(sign(s[cur].Z))
		for from > 0 && side*s[from-1].Z > limit && side*s[cur].Z > limit {
			from--
		}
	}
	var out []Finding
	for i := from; i < len(s); {
		side := 0
		switch {
		case s[i].Z > limit:
			side = +1
		case s[i].Z < -limit:
			side = -1
		}
		if side == 0 {
			i++
			continue
		}
		j := i + 1
		for j < len(s) && float64(side)*s[j].Z > limit {
			j++
		}
		if j-i >= n && j > cur && windowOK(s[i:j], cur-i, n, ok) {
			out = append(out, Finding{Side: side, Points: slices.Clone(s[i:j])})
		}
		i = j
	}
	return out
}

// windowOK reports whether ok accepts a window of n consecutive points of
// streak that includes a point at or after index cur.
func windowOK(streak []Point, cur, n int, ok func([]Point) bool) bool {
	if ok == nil {
		return true
	}
	for w := max(0, cur-n+1); w+n <= len(streak); w++ {
		if ok(streak[w : w+n]) {
			return true
		}
	}
	return false
}

func manyLevels(pts []Point) bool {
	for _, p := range pts {
		if p.Level != pts[0].Level {
			return true
		}
	}
	return false
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func sign(x float64) int {
	if x < 0 {
		return -1
	}
	return +1
}
