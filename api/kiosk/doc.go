// Package kiosk is the photographer's kiosk: the web pages a forensic
// photographer uses, at a touch screen beside the camera, to photograph a
// victim's injuries under alternate light and seal the pictures as evidence.
//
// # The journey
//
// A photographer (or a supervisor) signs in (api/web: sessions, roles, CSRF,
// the shared layout) and walks through one server-rendered page per step,
// each with large buttons:
//
//  1. Case: one of the recent cases found in the ledger, or a new case
//     reference (chain.ValidCaseRef).
//  2. Consent: photographs of the injuries, and their use in court, each
//     given or refused, and by whom (the person photographed, a parent or
//     guardian, an appropriate adult), with the time (chain.Consent). A
//     refusal of photographs ends the journey calmly: nothing is taken.
//  3. Body site: a body map (front and back) whose regions are links, a free
//     text refinement ("left forearm, outer"), and the restricted-media and
//     biometric-mark flags.
//  4. Profile: the latest version of each built-in capture profile
//     (imaging/profile), with its description and shots.
//  5. Capture: imaging/capture Begin and Shoot run in a goroutine owned by
//     the server, not by the request, and the page shows each shot's
//     progress. A failed shot (the interlock open, the camera unplugged)
//     shows session.ShotError.Advice and a "Try again" button that resumes
//     from the shot that failed.
//  6. Review: every shot side by side as an 8-bit thumbnail, each with a
//     Retake button that asks for a reason; a retaken frame stays, marked
//     set aside with its reason. Thumbnails are made here from the 16-bit
//     samples with a fixed window (the whole range, gamma 1/2.2, the same for
//     every band, so a dim band looks dim), shrunk with
//     github.com/disintegration/imaging and encoded with image/png; they are
//     never evidence.
//     Once every shot is taken (and again after each retake), the kiosk
//     makes the enhanced view (Capture.Develop: the bands registered, the
//     derivatives made in memory, nothing recorded) and shows it under the
//     bands: the bruise outline drawn on the blue band with each bruise's
//     area and axes in millimetres, the contrast-enhanced bands and the
//     composite, shrunk for the screen with disintegration/imaging. If it
//     cannot be made (the bands will not line up), the review says why and
//     which band to retake.
//  7. Accept and seal (Capture.Finish: records the very derivatives the
//     photographer saw, then seals the set), then the exhibit references.
//
// # Nothing is lost by a reload
//
// The journey's state lives on the server: a draft (case, consent, site,
// profile) and a capture job, both kept by the Kiosk in memory and named in
// the signed-in session's UI state (web.Server.SetState). A reload, or a
// browser closed and opened again within the idle time-out, comes back to the
// same step, and a capture carries on while no browser is looking. A new
// sign-in (after the idle time-out, or in another browser) resumes the
// user's capture that was started and not sealed, so that a time-out never
// strands pictures unsealed; a paused capture that cannot be fixed can be
// stopped, leaving its pictures recorded and the set unsealed. Every picture
// is made durable by imaging/seal as soon as it is taken, so what a stopped
// agent loses is the journey's place (drafts and jobs are in memory), never
// a picture.
//
// # Serving
//
// Serve runs the kiosk on a listener until its context ends (the agent ties
// it to SIGINT and SIGTERM), then cancels a capture in progress and halts
// both devices: the light is off however the agent stops.
//
// # Device status
//
// Every page shows the light engine (on or off, band, filter, interlock) and
// the camera (ready or not). Pages never wait on a device: status is read in
// the background, at most every two seconds, and a page shows the latest
// reading (or, on the very first page, waits for it at most a second). The
// reads carry no deadline of their own — the drivers bound them — because
// the light driver switches the light off when a command's context is
// cancelled, and a status read must never halt a capture in progress.
//
// # Live preview
//
// The ready page (the step before "Start capture") shows the camera's live
// view in a plain <img src="/preview.mjpg">: MJPEG, which browsers display
// without script. GET /preview.mjpg relays the camera's stream
// (firmware-notes/netcam.md, section 2.3, through netcam's OpenPreview and
// its strict part reader) to the browser, so the browser never needs to
// reach the camera; each part is re-framed (Content-Type, Content-Length,
// then at once the closing delimiter, so that the browser shows a frame
// without waiting for the next). The kiosk asks for 1280 × 720 at 15 frames
// a second — the centred 16:9 crop of the sensor — or, from a sensor
// smaller than that, the largest 16:9 size it holds.
//
// The preview needs light. While it is open the kiosk lights the scene as
// the profile's locator shot does (white light, no filter, the locator's
// level; white light needs no closed enclosure), and it halts the light
// engine however the stream ends: the browser leaves the page or goes
// away, a capture starts, the Kiosk is closed or the server shuts down, or
// PreviewLimit (two minutes, on the injected clock) passes, so that a kiosk
// left on the ready page does not keep the light on; a browser that stops
// reading ends it too (a write deadline). The light is put out in the
// handler's deferred Halt, before the preview counts as ended.
//
// One preview at a time: the camera and the light are one. A second preview
// (another tab) ends the first. The devices belong to a capture before any
// preview: every capture operation (shoot, try again, retake, seal) first
// ends an open preview and waits until its light is out, and while one runs
// a preview is refused (409). The preview is offered only while the journey
// is at the ready step (a profile chosen, no capture started). It is never
// evidence and nothing of it is kept.
package kiosk
