// Package camsim simulates the kiosk's network camera: it serves the
// snapshot protocol of firmware-notes/netcam.md over HTTP, so the real
// netcam driver (devices/camera/netcam) runs against it unchanged, and it
// renders each frame from a scene (devices/rigsim/scene) as lit by the light
// engine at the moment of the exposure.
//
// The camera does not know what the light engine was told; it asks the
// light simulator what it was emitting (lightsim's EmissionAt, through the
// Emitter interface) at 32 instants spread over the exposure, both sharing
// one Clock. A frame exposed while the light was settling therefore shows
// the transition: a ramp from the previous band, filter and level to the
// new one across the settle time. The capture code has to wait for the
// light to settle, as it must with a real LED.
//
// Sensor model (Sensor): a 16-bit monochrome sensor with a full well of
// 20,000 e⁻, read noise 2.5 e⁻, dark current 5 e⁻/s at 25 °C doubling
// every 6.5 °C, exposure quantised to a 14.8 µs line time and gain to
// 1/16 steps (the applied values are reported with every frame), shot
// noise √(signal + dark + read²). Dim, barrier-filtered bands need long
// exposures or high gain, and their frames are noisier accordingly. Hand
// motion moves the scene by a whole number of pixels (at most
// Sensor.MaxMotion) between frames.
//
// Rendering is deterministic: a frame's pixels are a function of the seed,
// the frame counter, the exposure, the gain and the light history during
// the exposure. Per frame the renderer only scales a precomputed layer,
// adds noise drawn from a table of normal deviates at a per-row random
// offset (cheap and reproducible, though not independent between rows),
// and shifts by the motion offset: about 4 ns per pixel on one core (46 ms
// for 12 MP), so that a benchmark of an imaging pipeline does not measure
// the simulator. Each band/filter layer is built once, on first use
// (devices/rigsim builds it while the light settles).
//
// The live preview (GET /stream.mjpg, preview.go) renders the asked size
// from the centred crop of the sensor with the asked aspect ratio, reading
// the lit band's scene layer directly at the nearest pixels, with automatic
// exposure and a precomputed gamma table, then image/jpeg; it is black
// while the light is off, and paced on the clock.
//
// Faults (Faults): captures that never answer (a hung sensor: the request
// is held until the client gives up), added latency, and the HTTP server
// itself can be stopped by the caller.
package camsim
