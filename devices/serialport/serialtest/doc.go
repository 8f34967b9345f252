// Package serialtest holds test tools for serial drivers, in the spirit of
// periph.io's conntest: Record wraps a real serialport.Conn and captures every
// byte written and read into a Transcript; Playback replays a Transcript as a
// serialport.Conn and fails when the driver deviates from it or leaves
// exchanges unused. (The pseudo-terminal pairs on which a simulator plays the
// device for the real driver are in devices/serialport/pty.)
//
// # Transcript format
//
// A transcript is a txtar archive (golang.org/x/tools/txtar; the copy in
// github.com/rogpeppe/go-internal v1.16.0 panics on a final "-- --" line
// without a newline, found by FuzzParseTranscript).
// The archive comment is a header of key=value lines; device=, firmware= and
// baud= are required, other keys are free. Lines starting with '#' are notes
// and blank lines are ignored. Each file in the archive is one exchange, in
// order:
//
//	-- -> --          bytes the host wrote to the device
//	-- <- --          bytes the host read from the device
//
// The data of a plain section is the exact bytes; it is used when the bytes
// are printable ASCII lines ending in '\n' and no line starts with "--".
// Anything else is written as "-- -> quoted --" (or "<- quoted"): one Go
// double-quoted string per line, the bytes being their concatenation. Record
// merges consecutive writes into one -> section and consecutive reads into
// one <- section, so a transcript does not depend on how the kernel split the
// bytes between read calls.
//
// Example:
//
//	device=light-engine
//	firmware=1.4.2
//	baud=115200
//	-- -> --
//	01 ID*7E6D
//	-- <- --
//	01 OK MODEL=LE6 SN=000421*D0B8
//
// The light engine's use of the format is documented in
// firmware-notes/light-engine.md.
package serialtest
