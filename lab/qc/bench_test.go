package qc

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkEvaluate judges histories of 100 and 1,000 runs of two levels.
// Judging every run is linear in the history (each run looks back only as
// far as a streak reaches), so the 1,000-run case should take about ten
// times the 100-run one: compare the two, measured in the same run.
func BenchmarkEvaluate(b *testing.B) {
	for _, n := range []int{100, 1000} {
		var runs []string
		for i := range n {
			z := float64((i*37)%50-25) / 10
			runs = append(runs, fmt.Sprintf("1:%+.2f 2:%+.2f", z/2, z))
		}
		rs, err := parseVector(strings.Join(runs, " | "))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("runs=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := Evaluate(testMaterials, rs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
