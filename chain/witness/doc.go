// Package witness is the hub's witness of the agents' logs, following
// C2SP tlog-witness (https://c2sp.org/tlog-witness) and tlog-cosignature
// (https://c2sp.org/tlog-cosignature).
//
// Every agent keeps its own evidence log. When it syncs, it asks the hub
// to witness its newest checkpoint: it sends the size of the last
// checkpoint the hub co-signed, a consistency proof from that size, and
// the new checkpoint signed with the agent's key (Request, the
// add-checkpoint body). The Witness checks the signature against the key
// enrolled for the log's origin, checks the proof against the checkpoint
// it co-signed before (State), stores the new one and returns its
// cosignature: a signed-note signature line whose signature is a
// timestamped Ed25519 signature over "cosignature/v1", the time, and the
// checkpoint body (NewCosigner; NewCosignatureVerifier checks one). Added
// to the agent's checkpoint, it lets anyone holding the hub's public key
// check offline that the hub saw that log state and that it was consistent
// with everything the hub saw before.
//
// A history that was rewritten — a checkpoint of the size the hub already
// co-signed but another root, or one the consistency proof does not join
// to the co-signed one — is refused, and the Witness raises an Alarm with
// the evidence (both checkpoints and the proof). Nothing is co-signed after
// a fork: the log's state stays at the last consistent checkpoint.
//
// docs/witness.md says where this follows tlog-witness and where it does
// not (the hub authenticates agents by their TLS client certificates; the
// first checkpoint of a newly enrolled log is taken on trust).
package witness
