// Package netcam drives network cameras that speak the snapshot protocol
// of firmware-notes/netcam.md: GET /status for identity, ranges and
// temperature; POST /capture with {"exposure_us", "gain"} for one frame,
// returned as a 16-bit greyscale PNG whose metadata — the exposure and
// gain actually applied, the sensor temperature, the frame counter, the
// exposure start — travels in Netcam-* response headers and whose bytes
// are covered by a Content-Digest (RFC 9530) that the driver checks before
// anything else reads them.
//
// Dev implements camera.Camera, devices.Resource and devices.Describer. A
// capture that times out (the camera hung, or the network lost the reply)
// or finds the camera busy is retried up to Config.Attempts times; if
// every attempt fails the error matches camera.ErrTimeout or
// camera.ErrBusy. Refusals come back as *DeviceError. The camera triggers
// an exposure per request and buffers nothing, so LightChanged has nothing
// to discard; the capture code must still wait for the light to settle,
// because a frame exposed during the settle time shows the transition.
//
// OpenPreview opens the optional live preview (GET /stream.mjpg, with the
// size and rate asked for in PreviewOptions) and Next returns its JPEG
// parts one by one, each checked by PreviewReader: image/jpeg, a
// Content-Length within the limit and exactly met, a JPEG of the size
// asked for; a stream that sends no part within PartTimeout (on the
// injected clock) is abandoned with camera.ErrTimeout. The preview is never
// evidence.
//
// ParseStatus, ParseFrame, ParseError and PreviewReader are the parsers of everything the
// camera sends; they reject, with an error naming the field, anything the
// protocol does not allow, and never panic (see the fuzz tests).
package netcam
