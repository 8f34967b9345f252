// Package chain holds Exhibit's evidence model: content hashes, exhibits,
// signed records and the custody chain that links them.
//
// Everything here is pure: no storage, no network, no clock of its own.
// Storage lives in chain/blobstore (bytes) and chain/store (records, custody,
// log); the Merkle log in chain/tlog; bundles in chain/bagit and
// chain/bundle. The formats are specified in docs/records.md, docs/log.md and
// docs/bundle.md, written so that a verifier can be built from them alone.
//
// A Hash is a SHA-256 digest. Blobs are named by the Hash of their bytes and
// records by the Hash of their exact signed envelope bytes; both are checked
// once, where bytes enter a store, and never re-serialised afterwards.
package chain
