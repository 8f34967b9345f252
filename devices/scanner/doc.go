// Package scanner reads kit barcodes from a 2D imager in serial mode (RS-232,
// or a USB scanner set to its virtual COM port / USB-CDC interface), the
// serial-mode counterpart of a keyboard-wedge scanner. The wire protocol —
// lines of barcode data ended by CR, LF or CR LF, an optional prefix, AIM
// symbology identifiers, GS for FNC1, optional ACK/NAK acknowledgement and
// Honeywell's serial trigger commands — is specified in
// firmware-notes/barcode-scanner.md.
//
// Framer cuts the byte stream into lines; it is pure (no I/O, the time is
// passed in) and fuzzed. Dev is the driver: it reads through a
// serialport.Conn, so the same code runs against the real port, against
// devices/scanner/scannersim behind a pseudo-terminal, and against a
// recorded transcript (serialport/serialtest.Playback). Dev.Next returns
// the next scan: the line's bytes as received and the Parser's reading of
// its data (or the Parser's error). The Parser is the caller's: for kit
// intake it is lab/sample.ParseScan, the same reader keyboard-wedge input
// goes through (scanner.Open(ctx, cfg, sample.ParseScan)); the driver does
// not import it, because device drivers never depend on the lab
// (internal/repotest). What the driver does for the caller:
//
//   - leading noise (a scanner powering up puts NULs and framing-error bytes
//     on the line) is dropped; a line with noise inside it, or longer than
//     MaxLine, is damaged and never delivered (in ACK/NAK mode it is NAKed,
//     and the scanner sends it again);
//   - a line whose bytes stop for longer than Config.LineGap before its
//     terminator — a scanner reset or a cable pulled mid-line — is discarded,
//     and with a prefix configured a line is resynchronised at its last
//     prefix, so that the tail of a cut line is never glued to the next;
//   - the same data read again within Config.DupWindow of its previous
//     reading (on the injected clock) is suppressed: a presentation-mode
//     imager re-reads a label left in its field;
//   - when the port goes away (USB unplugged) Next closes it and re-opens the
//     same path until it comes back or Config.ReconnectTimeout passes;
//   - every wait takes a context: Next reads in short slices and returns
//     when its context ends.
//
// Dev starts no goroutines of its own; Next, Trigger and Untrigger may be called from
// different goroutines (they share the port a read slice at a time).
package scanner
