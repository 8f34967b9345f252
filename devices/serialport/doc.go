// Package serialport is the one place in Exhibit that talks to serial
// hardware. It wraps go.bug.st/serial behind a small Conn interface so that
// device drivers (devices/light, lab analysers) never import the serial
// library themselves and can be run against a recorded transcript
// (serialport/serialtest.Playback) or against a simulator that sits on the far
// end of a pseudo-terminal (devices/serialport/pty).
//
// Concepts, in the style of periph.io's conn package:
//
//   - A Conn is a byte stream with a read timeout. Read never blocks longer
//     than the timeout set with SetReadTimeout and reports an expired timeout
//     as ErrTimeout (go.bug.st/serial reports it as a zero-length read, which
//     io.Reader callers easily mistake for progress).
//   - A link that fails underneath the driver (a USB-serial adapter pulled
//     out, the master side of a pseudo-terminal closed) is reported as
//     ErrDisconnected. Drivers react by closing the Conn and opening the same
//     path again; they should open a stable path such as
//     /dev/serial/by-id/usb-FTDI_..., which udev re-creates when the adapter
//     comes back, rather than /dev/ttyUSB0, whose number may change. Tests do
//     the same with a symlink that the simulator re-points at each new
//     pseudo-terminal (pty.Link).
//   - Closing a Conn is not the same as making a device safe: drivers provide
//     a separate Halt verb for that.
//
// Only this package imports go.bug.st/serial; an import-rule test elsewhere in
// the tree enforces it.
package serialport
