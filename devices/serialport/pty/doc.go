// Package pty opens pseudo-terminal pairs that stand in for serial lines,
// and the stable links that stand in for /dev/serial/by-id/ paths.
//
// A simulator (lightsim behind `exhibit sim rig`, labsim behind `exhibit sim
// analyser`) serves the master end of a Pair; the real driver opens the
// terminal end, /dev/pts/N, through go.bug.st/serial exactly as it would open
// a USB-serial adapter. Closing the Pair is how a simulator pulls the adapter
// out: the driver's next read or write fails. A Link is a symbolic link that
// is pointed at whichever pseudo-terminal currently plays the device, as
// udev points a by-id link at whichever ttyUSBn the adapter got.
//
// The terminal end is put in raw mode (cfmakeraw(3), by golang.org/x/term):
// no echo, no line editing, no CR/LF translation and no signal characters,
// so that every byte — ASTM's ETX (^C), EOT (^D), NAK (^U), ETB (^W)
// included — passes unchanged, as on a serial line set to 8N1 raw. Both
// ends are pollable, so Close interrupts a Read blocked on either.
//
// Pseudo-terminals are opened with github.com/creack/pty; on systems it does
// not support (Windows, js/wasm) Open returns ErrUnsupported.
//
// The shipped simulators use this package, which is why it is not a test
// package; test helpers build on it (internal/streamtest.PTY).
package pty
