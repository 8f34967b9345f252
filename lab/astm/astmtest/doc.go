// Package astmtest holds test doubles for the ASTM packages: a scripted Peer
// for the far end of a byte stream, and a Transcript player for txtar
// protocol transcripts. (The fake clock is internal/clock's Fake.)
//
// Transcripts are txtar archives. The comment section holds key=value
// headers (device=, firmware=, dialect=, source=); the "session" file holds
// the exchange, one write per line, "I:" for the instrument and "H:" for the
// host, with control characters written as in the standard (<STX>, <ETX>,
// <ETB>, <EOT>, <ENQ>, <ACK>, <NAK>, <CR>, <LF>) and any other byte as
// <xHH>. Lines starting with # are comments.
package astmtest
