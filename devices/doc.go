// Package devices is the small core that every Exhibit device driver
// shares, after periph.io's conn package: the interfaces a program uses to
// handle a device without knowing which one it is, and the identity every
// device reports. The drivers live below it — devices/light (the light
// engine), devices/camera/netcam and devices/camera/v4l2 (cameras) — each
// with its own protocol, types and simulator; this package holds no
// protocol and imports none of them.
//
// # Resource and Halt
//
// Every device is a Resource: it has a name (String: model, serial number
// and where it is attached) and a safe state that Halt puts it in.
//
//   - The light engine's safe state is light off: Halt sends OFF, whatever
//     the light was doing, and abandons the command in progress.
//   - A camera's safe state is not capturing: Halt abandons the capture in
//     progress, which returns camera.ErrHalted. A camera has nothing else
//     that could do harm.
//
// Halt is separate from Close. Halt leaves the device open and usable —
// the next command works — so that a session can stop everything at once
// (on SIGINT, on a cancelled context, on an error elsewhere) and still
// report, retry or close cleanly. Close releases the device; a driver
// whose device can do harm halts it first (light.Dev.Close switches the
// light off). Halt takes no context: it must work after the caller's
// context is gone, so a driver bounds it with its own time-out.
//
// Analysers are not devices in this sense. The lab receiver (lab/) only
// answers them: it never commands an analyser, so there is no state of
// theirs to make safe; an ASTM or HL7 link between messages is idle by
// the protocol.
//
// # Identity and Describer
//
// A device says what it is when it is opened (Identity: model, serial
// number, firmware), and a driver that reconnects checks that it is still
// talking to the same one. A Describer also says how the device is now, in
// one line for people (Describe); `exhibit devices check` opens each device
// it is given and prints both, with the same code for every kind of device.
//
// Each driver checks at compile time that it implements these:
//
//	var _ devices.Describer = (*Dev)(nil)
package devices
