// Package enrol is the core of the hub's device enrolment: a small
// certificate authority kept in the hub's data directory, one-time
// enrolment codes, the registry of enrolled devices, and the agent's side
// of enrolment. It does not import gin; api/hub serves it over HTTPS.
//
// The hub's data directory (Init, Open):
//
//	DIR/hub.json      the hub's id and witness name (exhibit-hub v1); written last by Init
//	DIR/ca.key        the CA's Ed25519 key, PKCS#8 PEM, mode 0600
//	DIR/ca.crt        the CA's self-signed certificate, PEM
//	DIR/witness.key   the key the hub co-signs agents' checkpoints with, PKCS#8 PEM, mode 0600
//	DIR/hub.db        the registry (SQLite): codes (as hashes), devices, certificates, witnessed checkpoints
//
// or, for a hub initialised with Options.DB (exhibit hub init --db
// postgres://…), the registry in that PostgreSQL database (PGRegistry),
// shared by every hub process given the same directory and database, and
// no hub.db. hub.json then records the database's URL without its password.
//
// The agent's data directory gains (SaveAgent, LoadAgent):
//
//	DIR/hub/ca.crt      the hub's CA certificate, PEM: the only root the agent trusts for the hub
//	DIR/hub/device.crt  the device's client certificate, PEM, for the key at DIR/keys/device.key
//	DIR/hub/hub.json    the hub's URL, the device id and origin, the hub's witness key (exhibit-hub-enrolment v1)
//
// An enrolment code (Code) carries a prefix of the SHA-256 of the CA's
// SubjectPublicKeyInfo, so that the agent authenticates the hub on first
// contact from the code alone, and a random secret the hub keeps only as a
// hash, usable once before it expires. docs/hub-enrolment.md is the
// protocol, precise enough for a second implementation of the agent.
package enrol
