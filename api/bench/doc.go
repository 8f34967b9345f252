// Package bench serves the lab bench's web UI (`exhibit agent --role lab`):
// server-rendered pages on api/web's sessions, sign-in, CSRF and roles, for
// lab technicians and authorisers.
//
// What it does so far: a barcode box on every page (a keyboard-wedge
// scanner types into it and presses Enter; a kit's barcode, a sample's or
// aliquot's reference jumps to that sample), kit intake (lab/sample.Intake,
// with the detection-window warnings of the built-in panel), and a sample's
// page with its intake form, warnings and custody timeline and the custody
// steps: opening a seal with a reason, the A/B split, a two-party handover
// (giver and receiver both enter their passwords at that moment) and
// disposal.
//
// Samples are found through an index the Bench keeps in memory: built by
// reading the log once, then brought up to date from the records appended
// since, before each page that needs it. The log is the truth; the index
// only finds.
package bench
