// Package astm connects clinical analysers that speak ASTM E1381 / E1394
// (CLSI LIS1-A / LIS2-A2) to the laboratory system, in either role: as the
// host (LIS) receiving results and answering queries, or as the instrument
// (for simulators) sending results and asking for orders.
//
// The work is split into small packages, in the manner of golang.org/x/mod:
//
//   - lab/astm/frame: frames, checksums, the byte-stream scanner, packing
//     records into frames;
//   - lab/astm/link: the E1381 state machine over any byte stream, with an
//     injected clock;
//   - lab/astm/record: E1394 records and messages, delimiters, escapes.
//
// Their tests share internal/streamtest (transcripts, the <STX> notation, a
// scripted peer, pseudo-terminal pairs) and internal/clock's fake clock.
//
// What ASTM shares with HL7 lives at lab level: lab/value (measurement
// values, censored values kept censored), lab/testcode (per-analyser
// test-code maps) and lab/charset (strict decoding of the wire charset).
//
// This package joins them. A Dialect is an instrument family's departures
// from the standard, as data (dialects/*.dialect, "astm-dialect v1" files;
// the standard is "lis2a2"). A Conn runs one connection: frames coming in
// are assembled into messages, and each complete message is handed to the
// Handler before the frame that completed it is acknowledged.
//
// # The acknowledgement guarantee
//
// A result is acknowledged to the instrument only after the Handler has
// returned nil for the message holding it. Handler.Accept (or Reject, for
// malformed input) runs while the last frame of the message waits for its
// ACK; if it fails, that frame is answered NAK and the instrument sends it
// again (and, after six refusals, aborts and resends the message later).
// Each message carries an ID, the SHA-256 of its records exactly as
// received with the framing removed, so a message that arrives twice — a
// retransmission after a lost ACK or a refused frame — has the same ID and
// the storage layer can keep it once. Accept must therefore be idempotent
// by ID.
//
// Nothing is dropped silently: a message that does not parse, records that
// arrive outside an H…L message, and transfers that end before their L
// record are all passed to Handler.Reject with the raw bytes and the reason,
// for the caller's quarantine.
//
// # Bounded memory
//
// A Conn holds at most the dialect's max-message (Dialect.MaxMessage,
// 4 MiB by default) of the input in progress plus one frame. Input that
// goes over is written to a spool file (Config.Spool), handed to
// Handler.Reject from there (Rejected.Body) with ErrTooLarge, and refused:
// the frame that crossed the limit and every later frame of the transfer
// are answered NAK.
//
// # Refusals
//
// Every NAK is logged with the frame number, the reason and the frame's
// byte offset in the stream, and counted (Conn.Stats). A message the
// instrument abandons after refusals is quarantined with that reason. A
// Handler that keeps input in quarantine and refuses it for good returns
// an error wrapping ErrRefused: the frame is refused for the rest of the
// transfer without the Handler being asked again. Results whose test code the analyser's code
// map does not know are delivered with the code flagged, never guessed.
package astm
