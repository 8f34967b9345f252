//go:build !unix

package fsstore

// peakRSSMiB is not measured on this system.
func peakRSSMiB() float64 { return 0 }
