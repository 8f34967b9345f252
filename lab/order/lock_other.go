//go:build !unix

package order

// lockPath: without flock(2), only the in-process mutex excludes writers;
// do not run `exhibit lab order` beside a receiver on such systems.
func lockPath(path string) (func(), error) { return func() {}, nil }
