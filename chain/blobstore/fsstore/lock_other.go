//go:build !unix

package fsstore

import "os"

// lockFile cannot tell whether another Store has the directory open where
// flock(2) is not available, so it never sweeps temp files there: stale
// ones stay until removed by hand.
func lockFile(f *os.File, sweep func() error) error { return nil }
