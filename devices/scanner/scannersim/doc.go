// Package scannersim simulates a 2D barcode imager in serial mode, speaking
// the protocol of firmware-notes/barcode-scanner.md over a pseudo-terminal
// (devices/serialport/pty), so that devices/scanner and `exhibit sim
// scanner` exercise the real driver on a real serial line.
//
// The simulated scanner "reads" labels given to Sim.Scan and transmits
// them formatted as configured: an optional prefix, the AIM symbology
// identifier or not, FNC1 as GS (0x1D) or as a substitute text, and a CR, LF
// or CR LF suffix. With ACK/NAK on it waits for the host's ACK after each
// line and sends the line again on NAK; in manual trigger mode it reads a
// label only after the host's SYN T CR. Faults are chosen per reading: a
// duplicated read, noise inside the line, a line cut mid-way, a reset
// mid-line (the cut followed by power-up noise), and an unplug mid-line;
// power-up noise can be sent each time the scanner is plugged in.
package scannersim
