// Package streamtest holds the test tools for byte-stream protocols (ASTM
// E1381, HL7 over MLLP, the light engine's serial protocol): transcripts of
// sessions, the <STX> notation they are written in, a scripted Peer for the
// far end of a stream, and PTY, a pseudo-terminal pair for a test.
//
// A Transcript is a txtar archive (golang.org/x/tools/txtar) specified in
// firmware-notes/transcripts.md:
//
//	# notes
//	device=light-engine
//	firmware=1.4.2
//	baud=115200
//	-- session --
//	H: 01 ID*7E6D<LF>
//	I: 01 OK MODEL=LE6 SN=000421*D0B8<LF>
//	-- codes --
//	(any other file: data the test needs, such as a test-code map)
//
// The header (the archive comment) holds key=value lines, device=,
// firmware= and baud= required; the "session" file holds one write per
// line, "H: " for the host and "I: " for the instrument, in the <STX>
// notation (Encode, Decode). ParseTranscript reads one and Format writes
// one; Play plays one side of it over a stream against the code under test.
// devices/serialport/serialtest records and replays transcripts as a
// serialport.Conn.
package streamtest
