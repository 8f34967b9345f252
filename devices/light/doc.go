// Package light drives Exhibit's alternate-light source (the "light
// engine"): LEDs at 365, 415, 450, 535 and 850 nm plus white and
// cross-polarised white, a barrier-filter wheel for the camera (none, yellow,
// orange, red, IR-pass), a level of 0–100 % and an eye-safety interlock.
//
// The wire protocol — ASCII lines carrying a sequence number and a CRC-8 — is
// specified in firmware-notes/light-engine.md; ParseFrame and Frame.Append
// implement its framing and are shared with the simulator in
// devices/light/lightsim.
//
// Dev is the driver. It talks through a serialport.Conn, so the same code
// runs against the USB-serial adapter, against lightsim behind a
// pseudo-terminal, and against a recorded transcript
// (serialtest.Playback). What it does for the caller:
//
//   - every command is acknowledged by a reply with the same sequence
//     number; a reply that fails its checksum, a device E01 (the device saw a
//     bad checksum) and a missing reply are retried with a fresh sequence
//     number, and late replies to earlier attempts are recognised by their
//     sequence number and dropped. All commands are absolute ("level 40",
//     never "brighter"), so sending one twice is harmless.
//   - replies to set commands echo the value the device applied, and the
//     driver checks the echo.
//   - when the adapter disappears, the driver closes the port and re-opens
//     the same path until it comes back (use a /dev/serial/by-id/ path), then
//     checks that the model and serial number are those it first saw.
//   - a refusal to emit UV/violet light with the safety interlock open comes
//     back as *InterlockError (errors.Is(err, ErrInterlockOpen)); other
//     numbered device errors as *DeviceError.
//   - Halt (devices.Resource) switches the light off. It is separate from
//     Close (which halts and then releases the port), it runs when a
//     command's context is cancelled, and HaltOnCancel ties it to a session
//     context; a program that ties it to signal.NotifyContext switches the
//     light off on SIGINT/SIGTERM.
package light
