package receive

import "runtime"

// DefaultProcs is how many processors a receiving process should let the Go
// runtime use at once: one.
//
// A receiver's work is a chain of short hand-offs between goroutines (a
// frame arrives, is checked, is acknowledged; a message is stored, then
// acknowledged). With more than one processor the runtime wakes an idle
// thread for each hand-off, which at 115200 baud cost more CPU than the work
// itself (docs/BENCHMARKS.md: 9.0 % of a core with two, 6.2 % with one);
// one processor serves many lines at serial speeds, since almost all of the
// time is spent waiting for the line or the disk.
const DefaultProcs = 1

// UseProcs sets the number of processors the process runs goroutines on at
// once (GOMAXPROCS) to n, for a process whose work is receiving
// (DefaultProcs is the setting to use unless measured otherwise). n ≤ 0
// leaves the setting as it is. It returns the previous setting.
func UseProcs(n int) (previous int) {
	if n <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return runtime.GOMAXPROCS(n)
}
