package sample

import (
	"sort"
	"strings"

	"github.com/exhibit-forensics/exhibit/lab/panel"
)

// Windows are the detection windows of p's drug classes: each class's
// window is the longest of its analytes', so that a warning means even the
// longest-lasting drug of the class is likely gone. A class is named by its
// id and, for a class of three analytes or fewer, their names.
func Windows(p *panel.Panel) []Window {
	longest := map[string]int{}
	names := map[string][]string{}
	var order []string
	for _, a := range p.Analytes {
		if _, ok := longest[a.Class]; !ok {
			order = append(order, a.Class)
		}
		longest[a.Class] = max(longest[a.Class], a.WindowHours)
		names[a.Class] = append(names[a.Class], a.Name)
	}
	sort.Strings(order)
	var out []Window
	for _, c := range order {
		label := c
		if n := names[c]; len(n) <= 3 {
			label += " (" + strings.Join(n, ", ") + ")"
		}
		out = append(out, Window{Class: label, Hours: float64(longest[c])})
	}
	return out
}
