// Package session runs a capture: for each shot of a profile, in order, it
// sets the light engine's band, barrier filter and level, switches the light
// on, waits for the engine to report its output settled, sets the camera's
// exposure and gain, and takes one frame. It drives the real drivers
// (devices/light, devices/camera/netcam) through the small interfaces Light
// and Camera that it declares, so tests run it against the simulated rig.
//
// Safety. Any error, a cancelled context, or the enclosure's interlock
// refusing a violet or UV band stops the capture and puts both devices in
// their safe state (Halt: light off, capture abandoned). A capture that ends
// well switches the light off. The error a capture returns is a *ShotError
// naming the shot and the step that failed, with Advice: one calm sentence
// a photographer can act on.
//
// Nothing taken is ever dropped. Every frame the camera returned stays in the
// session, in the order taken, whatever happens after it: a retake of a shot
// marks the frame it replaces rejected, with the photographer's reason, and
// appends the new one (Retake). A frame the light was not on for to the
// end — the interlock cut a violet band as the enclosure opened, or the
// engine switched off by itself; the engine is asked once the frame is
// back — is kept already rejected with the reason, and the capture stops
// there (ErrLightWentOff). Frames() lists every frame, rejected ones
// included; Accepted() the one current frame per shot. Config.Keep, if set,
// is called with each frame as soon as it is taken and before the next shot
// begins, so that the caller can make it durable at once (a capture whose
// Keep fails stops there, devices halted): a kiosk that loses power
// mid-capture has lost at most the frame being exposed.
//
// Timing. Each frame records how long the light took to settle and how long
// the exposure and transfer took, on Config.Clock, for the capture's timing
// breakdown.
package session
