// Package lightsim simulates the light engine for tests, demos and the rig
// simulator (`exhibit sim light`). It speaks the real protocol of
// firmware-notes/light-engine.md over any byte stream; ServePTY puts it
// behind a real pseudo-terminal, reachable at a stable symlink, so the real
// driver opens it through go.bug.st/serial exactly as it opens the USB-serial
// adapter.
//
// Beyond the protocol it models what a capture depends on:
//
//   - settling: after a band, filter, level or on/off change the output is
//     not stable for a while (LED current ramp, filter wheel travel);
//   - temperature: a first-order thermal model with derating above 60 °C
//     and a cut-off at 75 °C (back on below 70 °C);
//   - the eye-safety interlock: UV/violet bands are refused while it is
//     open, and switched off at once if it opens while they are lit;
//   - faults: byte corruption in both directions, dropped replies, added
//     latency, wire time at a given baud rate, an adapter unplug after N
//     commands, and an open interlock.
//
// The emission history is queryable with EmissionAt ("what was lit at time
// t, and had it settled?") for the camera simulator, which must only see the
// light the engine was really producing during an exposure. All time comes
// from an injected clock (internal/clock), so tests drive settling, latency
// and heating without sleeping.
package lightsim
