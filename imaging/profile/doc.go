// Package profile holds capture profiles: what a kiosk photographs, in which
// order, under which light, and with which camera settings.
//
// A capture of an injury under alternate light is a fixed sequence of shots.
// Each shot names a light-engine band and a barrier filter (the tokens of
// firmware-notes/light-engine.md: "415" and "YEL", never a free-text
// colour), a light level, and the exposure and gain that give a well-exposed
// frame through that filter. Barrier-filtered bands are dim — only the skin's
// fluorescence passes the filter — so they need tens of times the exposure
// of white light, as time, gain or both; a profile is where those numbers
// are measured once and written down, instead of being guessed at the kiosk.
//
// Profiles are data, not code: text files in the "exhibit-profile v1"
// format (docs/profiles.md specifies it), embedded in the binary from
// profiles/. A profile is never edited in place. A changed profile is a new
// file with a higher version, and the old one stays, so that a sealed capture
// that says "injury-standard@1" can always be matched to exactly the settings
// it was taken with; Profile.Digest (the SHA-256 of the file) pins the bytes.
// A test in this package fails if a released file changes.
//
// Gain is in the camera's own units (camera.Settings), so a profile is
// written for one camera model (Profile.Camera). The profiles shipped here
// are for the network camera model "NC12M", which the simulated rig
// (devices/camera/camsim) reports, and their exposures were measured
// against it (TestExposure; the figures are in docs/profiles.md).
//
// Use All to list the built-in profiles, Lookup to fetch one by name (the
// latest version) or by "name@version", and Parse to read a profile file;
// Parse returns only profiles that pass Validate. Every error names the
// field it is about (and, from Parse, the line), as a *FieldError that
// wraps ErrInvalid.
package profile
