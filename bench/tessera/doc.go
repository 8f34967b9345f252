// Package tesserabench compares Exhibit's durable log appends with the
// Tessera POSIX driver. It lives in its own module so that Tessera never
// becomes a dependency of Exhibit; see README.md.
package tesserabench
