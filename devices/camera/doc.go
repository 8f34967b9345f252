// Package camera is the small interface every Exhibit camera driver
// implements, and the types they share: the settings a capture asks for
// (Settings), what the device reports it applied, and the frames it
// returns (Frame, Meta).
//
// The interface is deliberately narrow — configure, capture, close — so
// that the capture session in imaging/ can drive a UVC camera through
// OpenCV (devices/camera/v4l2), a network camera speaking the snapshot
// protocol of firmware-notes/netcam.md (devices/camera/netcam), or the
// simulated rig (devices/camera/camsim behind netcam) with the same code.
//
// Concepts:
//
//   - Settings are absolute. Configure returns what the device reports it
//     applied, which may differ (exposure quantised to the sensor's line
//     time, gain clamped to its range); a driver never reports the value it
//     asked for when it could read back the one in force.
//   - Frames are 16-bit. A device that delivers 16-bit samples
//     (Meta.BitDepth up to 16) has them copied unchanged; an 8-bit device
//     has each sample widened to 16 bits (v × 257, so 255 → 65535) and says
//     so (Meta.Widened, Meta.BitDepth = 8). Nothing else is done to the
//     samples: no gamma, no colour conversion, no scaling.
//   - Cameras and lights are independent devices. The capture code
//     sequences them: after changing the light it calls LightChanged so
//     that a camera which buffers frames discards those exposed under the
//     old light, and it waits for the light to settle before capturing.
//   - Halt (devices.Resource) abandons a capture in progress; there is
//     nothing else unsafe about a camera. Close releases the device.
//     Identity and a one-line status (devices.Describer) are what
//     `exhibit devices check` prints.
//
// Errors are sentinels to test with errors.Is: ErrTimeout (the device did
// not deliver a frame in time; retrying is reasonable), ErrBusy, ErrClosed,
// ErrHalted, ErrUnsupported, ErrProtocol (a reply that does not follow the
// protocol) and ErrIntegrity (a frame whose digest does not match).
package camera
