// Package blobstore defines Exhibit's content-addressed blob storage: the
// small interfaces every backend implements, the contracts they keep, and the
// errors callers test for.
//
// A blob is an immutable sequence of bytes named by its SHA-256 digest
// (a chain.Hash). Integrity is checked once, at the boundary where bytes
// enter a store: Receiver.Receive refuses bytes that do not hash to the name
// they were sent under, and Ingester.Ingest names bytes by the digest it
// computes while storing them. A store therefore never holds a blob whose name
// does not match its bytes, unless something alters it behind the store's
// back; Check re-reads a blob to find that out (the basis of fsck).
//
// The storage API is composed of one-method interfaces, following perkeep's
// blobserver: a consumer declares the subset it needs (a verifier needs only
// a Fetcher, a sync loop an Enumerator and a Receiver). Store combines them
// all. Backends live in subpackages:
//
//   - fsstore: files in a directory tree, the embedded default;
//   - memstore: an in-memory store for tests and demos;
//   - storetest: the conformance suite every backend passes.
//
// # Contracts
//
// The words MUST and MUST NOT in the interface docs are requirements on
// every implementation; storetest.Test checks those that can be observed
// through the API (durability needs each backend's own tests). In summary:
//
//   - A write (Receive, Ingest) is all or nothing. When it returns an error
//     the store MUST NOT hold the blob because of that call, and MUST NOT
//     leave partial data that Stat, Open or Enumerate could see.
//   - When a write returns nil, the blob MUST be durable: it survives a
//     crash or power loss of the machine that reported success.
//   - Blobs are never overwritten. Receiving bytes already present is not an
//     error, but the bytes MUST still be verified.
//   - Errors are tested with errors.Is: ErrNotFound for an absent blob,
//     ErrCorrupt for bytes that do not match their name, syscall.ENOSPC
//     (also spelt ErrNoSpace) when the backing storage is full, and the
//     context's error when the context ends first. A reader's error is
//     wrapped, so errors.Is finds it too.
//
// Contexts are checked between chunks of I/O, not inside a blocked Read: a
// caller streaming from a network connection should close the connection
// when its context ends.
package blobstore
