// Package ingest is the hub's intake of agents' records: it keeps a mirror
// of each enrolled device's evidence log — the same records, byte for
// byte, at the same log indices, in a chain/store.Store of the device's
// own — and appends to it only records it has verified: strict decoding,
// the sending device, the log's first record enrolling the device's
// enrolled key, signatures against the keys valid at each index, custody
// links (the store's), and the presence of every blob a record names in
// the hub's blob store. Records the mirror already holds are compared by
// hash: the same record is confirmed again, a different one signed by the
// device is a fork, refused with an alarm kept beside the mirrors.
//
// After appending up to size N, the mirror's Merkle root is the agent's
// root at N, so the agent's checkpoint can be checked against it
// (CheckCheckpoint) and kept, co-signed by the hub's witness, in the
// mirror (Witnessed).
//
// docs/ingest.md gives the checks in order, the errors, and why mirrors.
package ingest
