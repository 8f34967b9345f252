package qc

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

func evaluateVector(t testing.TB, in string) []Evaluation {
	t.Helper()
	rs, err := parseVector(in)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := Evaluate(testMaterials, rs)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestVectors(t *testing.T) {
	for _, tc := range vectors {
		t.Run(tc.name, func(t *testing.T) {
			evs := evaluateVector(t, tc.in)
			last := evs[len(evs)-1]
			var got []string
			for _, f := range last.Findings {
				s := string(f.Rule)
				if f.Rule != RuleR4s {
					s += " " + f.Scope.String()
				}
				got = append(got, s)
			}
			if last.State != tc.state || !slices.Equal(got, tc.findings) {
				t.Errorf("run %s: %v %q, want %v %q\n%s", last.Run, last.State, got, tc.state, tc.findings, last.Reason())
			}
			if want := strings.Count(tc.in, "|") + 1; len(evs) != want {
				t.Errorf("%d evaluations, want one per run (%d)", len(evs), want)
			}
		})
	}
}

// TestFindingText checks the words a technician reads.
func TestFindingText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"2:+3.2", "control HIGH-1 lot 2231 at 3.2 SD above the mean (value 112.8 mg/L; target 100 mg/L, SD 4 mg/L): 1-3s, run rejected"},
		{"1:-2.5", "control LOW-1 lot 2230 at 2.5 SD below the mean (value 7.5 mg/L; target 10 mg/L, SD 1 mg/L): 1-2s, warning"},
		{"1:+2.25 2:+2.5", "in run R1 controls LOW-1 lot 2230 (2.25 SD) and HIGH-1 lot 2231 (2.5 SD) are all more than 2 SD above the mean: 2-2s within the run across levels, run rejected"},
		{"1:+2.25 2:-2.5", "in run R1 control LOW-1 lot 2230 is 2.25 SD above the mean and control HIGH-1 lot 2231 2.5 SD below the mean, more than 4 SD apart: R-4s, run rejected"},
		{"2:+2.25 | 2:+2.5", "2 consecutive results of control HIGH-1 lot 2231 are more than 2 SD above the mean (run R1: +2.25 SD; run R2: +2.5 SD): 2-2s across runs, run rejected"},
		{"1:-1.25 2:-1.5 | 1:-1.75 2:-1.25", "4 consecutive control results of all levels are more than 1 SD below the mean (run R1 LOW-1 lot 2230: −1.25 SD; run R1 HIGH-1 lot 2231: −1.5 SD; run R2 LOW-1 lot 2230: −1.75 SD; run R2 HIGH-1 lot 2231: −1.25 SD): 4-1s across runs and levels, run rejected"},
		{repeat("2:+0.5", 6) + " | " + repeat("2/2240:+0.25", 4), "10 consecutive results of control level 2 are above the mean (runs R1 to R10, from +0.25 to +0.5 SD): 10x across runs, run rejected"},
		{"1:+2.001", "control LOW-1 lot 2230 at 2.001 SD above the mean (value 12.001 mg/L; target 10 mg/L, SD 1 mg/L): 1-2s, warning"},
	} {
		evs := evaluateVector(t, tc.in)
		last := evs[len(evs)-1]
		if len(last.Findings) == 0 || last.Findings[0].String() != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.in, last.Findings, tc.want)
		}
	}
}

func TestEvaluateRefuses(t *testing.T) {
	good := Material{Name: "LOW-1", Analyte: "GHB", Lot: "1", Level: 1, Mean: 10, SD: 1}
	with := func(f func(*Material)) []Material {
		m := good
		f(&m)
		return []Material{m}
	}
	r := Result{Run: "R1", Time: vectorBase, Level: 1, Lot: "1", Value: 10}
	for _, tc := range []struct {
		name      string
		materials []Material
		results   []Result
	}{
		{"no materials", nil, []Result{r}},
		{"no name", with(func(m *Material) { m.Name = "" }), []Result{r}},
		{"no analyte", with(func(m *Material) { m.Analyte = "" }), []Result{r}},
		{"zero SD", with(func(m *Material) { m.SD = 0 }), []Result{r}},
		{"negative SD", with(func(m *Material) { m.SD = -1 }), []Result{r}},
		{"NaN SD", with(func(m *Material) { m.SD = math.NaN() }), []Result{r}},
		{"infinite SD", with(func(m *Material) { m.SD = math.Inf(1) }), []Result{r}},
		{"NaN mean", with(func(m *Material) { m.Mean = math.NaN() }), []Result{r}},
		{"two analytes", append(with(func(*Material) {}), Material{Name: "X", Analyte: "THC-COOH", Lot: "9", Level: 2, Mean: 1, SD: 1}), []Result{r}},
		{"duplicate material", append(with(func(*Material) {}), good), []Result{r}},
		{"unknown material", []Material{good}, []Result{{Run: "R1", Level: 2, Lot: "1", Value: 10}}},
		{"no run", []Material{good}, []Result{{Level: 1, Lot: "1", Value: 10}}},
		{"NaN value", []Material{good}, []Result{{Run: "R1", Level: 1, Lot: "1", Value: math.NaN()}}},
		{"infinite value", []Material{good}, []Result{{Run: "R1", Level: 1, Lot: "1", Value: math.Inf(-1)}}},
		{"z overflows", with(func(m *Material) { m.Mean, m.SD = -1e308, 1e-300 }), []Result{{Run: "R1", Level: 1, Lot: "1", Value: 1e308}}},
	} {
		evs, err := Evaluate(tc.materials, tc.results)
		if !errors.Is(err, ErrInvalid) || evs != nil {
			t.Errorf("%s: %v, %v; want ErrInvalid and nothing", tc.name, evs, err)
		}
	}
	if evs, err := Evaluate([]Material{good}, nil); err != nil || len(evs) != 0 {
		t.Errorf("no results: %v, %v; want no evaluations", evs, err)
	}
}

// TestRunOrder: runs are ordered by their first result's time, whatever
// the input order or run IDs, and a run's results by time.
func TestRunOrder(t *testing.T) {
	m := testMaterials[:2]
	at := func(h, min int) time.Time {
		return vectorBase.Add(time.Duration(h)*time.Hour + time.Duration(min)*time.Minute)
	}
	rs := []Result{
		{Run: "A", Time: at(2, 0), Level: 1, Lot: "2230", Value: 12.5},
		{Run: "Z", Time: at(1, 5), Level: 2, Lot: "2231", Value: 100},
		{Run: "Z", Time: at(1, 0), Level: 1, Lot: "2230", Value: 12.5},
	}
	evs, err := Evaluate(m, rs)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Run != "Z" || evs[1].Run != "A" {
		t.Fatalf("runs %v, want Z then A", evs)
	}
	if evs[0].Points[0].Level != 1 {
		t.Errorf("run Z's results are not in time order: %v", evs[0].Points)
	}
	if evs[1].State != Reject || evs[1].Findings[0].Rule != Rule22s || evs[1].Findings[0].Points[0].Run != "Z" {
		t.Errorf("run A: %s; want 2-2s with run Z's LOW-1", evs[1].Reason())
	}
}

// TestWriteCorpus keeps the FuzzEvaluate seed corpus equal to vectors;
// -write-corpus rewrites it:
//
//	go test ./lab/qc -run TestWriteCorpus -write-corpus
func TestWriteCorpus(t *testing.T) {
	var seeds []fuzzseed.Seed
	for _, tc := range vectors {
		seeds = append(seeds, fuzzseed.Seed{Name: tc.name, Args: []any{tc.in}})
	}
	fuzzseed.Sync(t, "FuzzEvaluate", seeds)
}
