// Package repotest holds tests about the repository as a whole: every package
// has a doc comment, and imports follow the layering rules of DESIGN.md
// (evidence, lab and imaging cores never import the web framework; only
// device adapters touch serial ports; OpenCV stays in the camera driver and
// the imaging operations that need it; each storage engine's driver stays in
// its own store package).
package repotest
