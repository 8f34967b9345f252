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
//     set aside with its reason.
//  7. Seal (Capture.Finish), then the exhibit references.
//
// # Nothing is lost by a reload
//
// The journey's state lives on the server: a draft (case, consent, site,
// profile) and a capture job, both kept by the Kiosk in memory and named in
// the signed-in session's UI state (web.Server.SetState). A reload, or a
// browser closed and opened again within the idle time-out, comes back to the
// same step, and a capture carries on while no browser is looking. Every
// picture is made durable by imaging/seal as soon as it is taken, so what a
// stopped agent loses is the journey's place, never a picture.
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
// Not offered. The network camera protocol (firmware-notes/netcam.md,
// section 2.3) has only an optional MJPEG stream of about five quarter-size
// frames a second, short of the ten frames a second at 1280 × 720 that the
// issue asks for, and the driver does not expose it; the kiosk does not
// invent a stream of its own.
package kiosk
