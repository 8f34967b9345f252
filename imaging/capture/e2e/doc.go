// Package e2e holds the end-to-end accuracy test of a capture against the
// simulated rig's ground truth (TestAccuracyEndToEnd). It is a package of
// its own so that `make test` runs it without the race detector: it starts
// no goroutines of its own, and at full speed it takes about 30 s rather
// than several minutes (imaging/capture's own tests run under the race
// detector).
package e2e
