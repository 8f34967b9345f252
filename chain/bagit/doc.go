// Package bagit writes and validates zipped BagIt 1.0 bags (RFC 8493).
//
// Exhibit exports evidence bundles as bags: originals, records, proofs, keys,
// the custody timeline and a report under data/, with SHA-256 and SHA-512
// payload and tag manifests. A bag can be checked by any BagIt validator
// after unzipping, and by coreutils: every manifest line is
// "<lowercase hex>  <path>", which `sha256sum -c` accepts.
//
// The exact profile — what ZipWriter produces, what OpenZip and Validate
// accept and reject, and why — is specified in docs/bagit-profile.md.
//
// Writing is streaming: ZipWriter.AddPayload copies a reader into the zip
// once, computing SHA-256 and SHA-512 on two goroutines while it writes.
// Output is deterministic for the same sequence of calls and Options.
//
// Reading treats the zip as hostile. OpenZip checks the whole archive
// structure before any content is read: every byte of the file must belong
// to exactly one entry, the central directory or the end records (no
// prepended, appended, hidden or overlapping data); names must be clean
// relative UTF-8 paths under one top-level directory, distinct even when
// compared case-insensitively and after Unicode normalisation; entries must
// be regular files, unencrypted, stored or deflated, within Limits. Errors
// are *EntryError values wrapping a sentinel (ErrUnsafePath, ErrDuplicate,
// …) so callers can use errors.Is.
//
// Bag.Validate then reads every file once, computing both digests
// concurrently, and reports every problem it finds — not just the first —
// as a Problem naming the file and, for manifest problems, the manifest and
// line. The Report also carries the SHA-256 of every payload file so that
// signed digests can be checked without reading the payload again.
package bagit
