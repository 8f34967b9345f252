// Package trends counts confirmed substances by drug class per month and
// draws the count as a stacked bar chart in SVG: the question the lab's
// researchers ask of Operation Lester's results (which classes, how often,
// changing how).
//
// A finding is counted once per sample and analyte, whatever how many
// results repeat it (re-runs, both aliquots), in the month the sample was
// collected (UTC). The chart is deterministic: the same findings give the
// same bytes.
package trends
