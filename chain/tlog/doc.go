// Package tlog is Exhibit's append-only Merkle log of signed records.
//
// The log follows RFC 6962 (Certificate Transparency), section 2.1, and the
// C2SP formats built on it. docs/log.md specifies everything here precisely
// enough to write an independent verifier; this comment is a summary.
//
// # Leaves
//
// Leaf i of a log is record i, in the order the records were stored. The leaf
// data is the 32 raw bytes of the record's chain.Hash (SHA-256 of the exact
// DSSE envelope bytes), so the leaf hash is SHA-256(0x00 || recordHash) and an
// interior node is SHA-256(0x01 || left || right). Tree hashing is done by
// github.com/transparency-dev/merkle (the rfc6962 hasher, compact ranges and
// proof node lists); this package only wires it to storage and formats.
//
// # Storage
//
// Every complete subtree node is readable from the store, keyed by
// golang.org/x/mod/sumdb/tlog.StoredHashIndex(level, index). The numbering is
// dense and grows with the log, so the nodes completed by one append are
// consecutive. A store implements the one-method [HashReader]; [Tree.Append]
// returns the nodes completed, and the caller must write the interior ones
// in the same transaction as the records they commit to. A leaf hash may be
// stored too or derived from its record's hash when read ([LeafHash]): the
// SQLite store derives leaves, the in-memory one stores them. Proofs and old
// roots are computed from stored nodes with one ReadHashes call each.
//
// # Checkpoints and proofs
//
// A [Checkpoint] is the body of a C2SP tlog-checkpoint
// (https://c2sp.org/tlog-checkpoint): origin, size and root, signed as a
// golang.org/x/mod/sumdb/note signed note with Ed25519 ([NewSigner],
// [NewVerifier]). A [Proof] is a C2SP tlog-proof
// (https://c2sp.org/tlog-proof): an inclusion proof together with the signed
// checkpoint it leads to, verifiable offline with [VerifyProof].
//
// # Checking a whole log
//
// [Fsck] re-derives the tree from the record hashes, compares every stored
// node and checks every checkpoint the log ever issued.
package tlog
