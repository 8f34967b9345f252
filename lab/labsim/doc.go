// Package labsim simulates a laboratory analyser, so that the receiving
// side (lab/receive, `exhibit lab receive`) can be run and tested without
// an instrument.
//
// A Sim holds the racks of a Scenario — patient specimens and QC controls,
// each with the results the analyser will report — and runs them in order,
// sending each tube's results as one message over the real protocol code:
// lab/astm in the instrument role, or an ORU^R01 over MLLP (lab/hl7,
// lab/hl7/mllp). In
// host-query mode it first asks the host for each tube's orders (an ASTM Q
// record) and runs only the tests ordered; in order download mode it waits
// for the host to send each tube's orders unasked (ASTM: on the same line;
// HL7: OML^O33 or ORM^O01 on the analyser's order port, ServeOrders, a
// connection of its own, answered ORL^O34 / ORR^O02 and kept by placer
// order number, so that an order sent again is the same order) and
// likewise runs only those; it also answers the host's own
// queries with the results of tubes it has run.
//
// Transports are those of lab/transport (the simulator can listen or
// connect over TCP) plus PTYLine, which puts the simulator on the master
// side of a pseudo-terminal behind a stable path, so the receiver opens
// the slave with the real serial driver.
//
// Faults are injected on the line (Faults): corrupted bytes in either
// direction, NAK storms, busy answers, line contention, dead lines that
// make timers run out, connections dropped mid-message, and garbage
// between messages. A message that is not acknowledged is sent again byte
// for byte, so its message id does not change and the receiver can
// recognise it; Acked lists what the host acknowledged, which is what the
// fault and crash tests hold the receiver to.
//
// The scenario format and the simulator's behaviour are documented in
// firmware-notes/analyser-simulator.md.
package labsim
