// Package sample receives spiking sample kits into evidence and keeps their
// custody: a kit scanned in by its barcode, its seal numbers checked, the
// time from the reported incident to collection judged against each drug
// class's detection window, and the sample recorded as an exhibit whose
// subject is the intake form (docs/samples.md).
//
// Barcodes come from a keyboard-wedge scanner (typed into a page or a
// terminal) or a serial scanner; ParseScan is liberal in what it takes
// from them — the symbology identifiers scanners prefix, GS1 element
// strings with the group separator sent as the control character, as
// text such as "<GS>" or "^]", or with the human-readable parentheses, and
// stray line endings — and strict in what it returns.
package sample
