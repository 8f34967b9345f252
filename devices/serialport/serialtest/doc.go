// Package serialtest holds test tools for serial drivers, in the spirit of
// periph.io's conntest: Record wraps a real serialport.Conn and captures every
// byte written and read into a transcript; Playback replays a transcript as a
// serialport.Conn and fails when the driver deviates from it or leaves
// exchanges unused.
//
// Transcripts are internal/streamtest's (the format is specified in
// firmware-notes/transcripts.md): the driver is the host, so what it writes
// is an "H: " line and what it reads an "I: " line. The pseudo-terminal
// pairs on which a simulator plays the device for the real driver are in
// devices/serialport/pty. The light engine's use of both is documented in
// firmware-notes/light-engine.md.
package serialtest
