// Package s3store is a blobstore.Store in an S3-compatible bucket (AWS S3,
// versitygw, MinIO, Ceph RGW, …), for the hub, where several processes on
// several machines share one blob store. It keeps the contracts of package
// blobstore and passes its conformance suite (storetest) against a real
// server: the tests start versitygw themselves.
//
// It uses github.com/aws/aws-sdk-go-v2/service/s3 with static credentials,
// SigV4, and the SDK's optional CRC checksums turned off (the store computes
// SHA-256 itself, and SigV4 already signs each request body's SHA-256).
//
// # URL
//
//	s3://BUCKET[/PREFIX][?OPTION=VALUE&...]
//
// BUCKET follows the S3 naming rules (3–63 characters of a–z, 0–9, '.' and
// '-', beginning and ending with a letter or digit, no "..", not an IP
// address). PREFIX, if given, is one or more '/'-separated segments of
// letters, digits, '.', '-' and '_' (not "." or ".."); every key the store
// uses begins with PREFIX + "/", so several stores can share a bucket.
// Options, each at most once and never empty:
//
//	endpoint=http[s]://HOST[:PORT]  the server; omit for AWS S3 itself. The
//	                                value may be query-escaped or not.
//	region=NAME                     signing region, default us-east-1
//	path_style=true|false           bucket in the path (true) or the host
//	                                name (false); default true with an
//	                                endpoint, false without
//	credentials_env=PREFIX          read the credentials from PREFIX_ACCESS_KEY_ID,
//	                                PREFIX_SECRET_ACCESS_KEY and (optional)
//	                                PREFIX_SESSION_TOKEN; default AWS, i.e. the
//	                                standard AWS_ACCESS_KEY_ID etc.
//	part_size=BYTES                 first multipart part size, decimal, 5 MiB
//	                                to 5 GiB; default 8 MiB
//
// For example
//
//	s3://evidence?endpoint=http://127.0.0.1:7070&region=eu-west-2
//	s3://force-blobs/hub-1?credentials_env=EXHIBIT_S3
//
// Anything else is an error matching ErrBadURL: unknown or repeated
// options, a port on the bucket, a fragment, an endpoint with a path or
// query, and above all credentials in the URL (s3://KEY:SECRET@bucket),
// which would end up in logs, shell history and process lists; the error
// names the environment variables to set instead. Only the name of the
// variables can go in the URL. Config.String gives the canonical URL;
// ParseURL(c.String()) == c.
//
// Open parses the URL, reads the credentials and sends HeadBucket, so a
// wrong endpoint, bucket or key fails at once rather than at the first
// write.
//
// # Key layout
//
// Within PREFIX:
//
//	sha256/ab/cd/abcd…(64 hex)   one object per blob, its exact bytes
//	tmp/<unix-seconds>-<24 hex>  Ingest's uploads before their digest is known
//
// A blob's key ends in the 64 lowercase hex digits of its SHA-256 digest,
// under two shard levels named by the first and second pairs of those
// digits: the same layout as fsstore's directory tree. Objects carry no
// metadata the store relies on; the size is the object's length.
//
// Why this layout: every component is a fixed-length function of the hex
// digest, so the keys' byte order is the hashes' order, and Enumerate is
// one ListObjectsV2 walk with StartAfter = the key of the hash to start
// after (S3 lists in UTF-8 binary key order). Keys that do not fit the
// layout exactly (wrong length, upper case, wrong shard) are skipped, and a
// key not strictly greater than the last visited is ignored, so no blob is
// visited twice even from a misbehaving server. The shards matter on
// filesystem-backed servers (versitygw's posix backend makes each '/' a
// directory: a flat sha256/ would be one directory of millions of
// entries) and spread keys over S3's per-prefix request-rate partitions.
// The tmp/ keys sort outside sha256/ and are never listed as blobs.
//
// Rejected alternatives: a flat sha256/<hex> (one huge directory on
// posix-backed gateways); "sha256:<hex>" keys (a colon needs escaping in
// some tools and is not portable to filesystem backends); base64 or
// binary names (base64's order is not the byte order, and '/' and '+' are
// awkward in keys); the digest in object metadata under arbitrary names
// (a lookup would need an index).
//
// # Writes
//
// The store never makes an object visible under a blob's key unless its
// bytes have been hashed by the writer and found to match. It relies on
// two S3 properties: a PutObject whose body is cut short is not stored
// (the server checks Content-Length and the signed payload hash), and a
// multipart upload is invisible until CompleteMultipartUpload. A write:
//
//  1. Receive(want): HeadObject the blob's key. If it exists, read the
//     input to EOF, hashing it, and return ErrCorrupt if it does not hash
//     to want; nothing is sent. The blob is then checked still to be there
//     (a Remove may have raced), else the Receive fails.
//  2. Read up to one part (8 MiB by default), hashing as it goes, with
//     the context checked every 1 MiB.
//  3. If the input ended within that part, its digest is known: Receive
//     returns ErrCorrupt on mismatch; Ingest returns at once if the blob
//     exists. Otherwise one PutObject sends it to the blob's key with
//     If-None-Match: *, and 412 Precondition Failed (stored meanwhile by
//     another writer) counts as success.
//  4. Otherwise it is a multipart upload, to the blob's key for Receive
//     (the name is known) and to a fresh tmp/ key for Ingest. Parts are
//     read, hashed and sent one at a time, so memory is one part buffer
//     whatever the blob's size. (Reading the next part while the last goes
//     up, with a second buffer and a goroutine, was tried: on the 2-core
//     development VM, with the gateway on the same cores, four alternating
//     runs of a 64 MiB Receive gave 52–121 MB/s sequential and 63–110 MB/s
//     double-buffered, no clear gain, so the simpler form stays.) Parts are 8 MiB for the first 1000,
//     then double every 1000 parts (up to 5 GiB each), so S3's limit of
//     10,000 parts allows blobs of about 7.8 TiB (TestPartSize).
//  5. At the end of the input the digest is compared: on mismatch (or a
//     context that has ended) the upload is aborted and never completed,
//     so nothing is visible. Receive completes the upload with
//     If-None-Match: * — the commit point.
//  6. Ingest, knowing the digest only now, returns if the blob exists and
//     otherwise completes its tmp/ object and copies it server-side to
//     the blob's key (CopyObject with If-None-Match: *, or UploadPartCopy
//     in 5 GiB ranges above 5 GiB), then deletes the tmp/ object. A
//     caller that knows the digest should use Receive, which needs no
//     copy.
//
// When the request that commits a write (step 3, 5 or 6) fails, the store
// asks HeadObject whether the blob is stored all the same, and if it is,
// at the right length, the write succeeds: a concurrent writer of the same
// bytes got there first, or only the response was lost. (Under
// concurrent conditional PutObjects of one key, versitygw v1.8.0 was seen
// to reset the losing connection: the client got "connection reset by
// peer", not the 412.)
//
// A failed write aborts its upload (with a fresh 30-second context if the
// caller's has ended). If the server cannot be reached, the upload stays
// pending — invisible, but holding storage; Sweep aborts uploads and
// deletes tmp/ objects older than a cutoff. On AWS a lifecycle rule
// (AbortIncompleteMultipartUpload after a day, and expiry of tmp/) does
// the same without a process.
//
// Why not S3's own checksum headers: x-amz-checksum-sha256 on a PutObject
// would have the server verify a claimed digest, but (a) Ingest does not
// know the digest before sending, (b) for multipart uploads S3's SHA-256
// is a checksum of the parts' checksums, not the blob's digest, and
// full-object checksums exist only for CRC algorithms, and (c) support
// differs between S3-compatible servers. Hashing on the client and
// completing only after the check works everywhere and costs nothing
// extra, since the bytes are hashed anyway to name them.
//
// Idempotence: a blob already stored is never re-sent by Receive, and a
// concurrent writer of the same bytes is refused by If-None-Match (or, on a
// server that ignores the header, overwrites the object with identical
// bytes: harmless, as S3 replaces objects atomically). versitygw v1.8.0
// honours the header on PutObject and CompleteMultipartUpload and ignores
// it on CopyObject (TestConditionalWrites records this). Blobs are never
// overwritten with other bytes: the store only ever writes bytes it has
// hashed to the blob's name.
//
// # Reads and checks
//
// Open is a GetObject. Its reader hashes the bytes as they are read and,
// at the end, returns an error matching blobstore.ErrCorrupt instead of
// io.EOF if they do not hash to the blob's name or their number differs
// from the length the server announced: a blob altered on the server
// (by someone with the bucket's keys, or on the gateway's disk) is
// detected by any reader that reads to the end, and by blobstore.Check.
//
// # Durability and errors
//
// A write returns success only after the server acknowledged the PutObject
// or CompleteMultipartUpload (and, for Ingest, the copy); a Remove after
// DeleteObject. Durability is then the server's: AWS S3 stores objects
// redundantly before acknowledging, but versitygw's posix backend (v1.8.0)
// writes through the page cache without fsync, so on that server a machine
// crash can lose acknowledged blobs. Use a server that syncs for evidence.
//
// Errors: a missing key is blobstore.ErrNotFound; the codes
// XMinioStorageFull, StorageFull, InsufficientStorage and QuotaExceeded, and
// HTTP 507, are blobstore.ErrNoSpace (versitygw answers a full disk with
// 507 InsufficientStorage: TestDiskFull, on a 12 MiB tmpfs); the reader's and the context's errors are
// wrapped. Requests are retried by the SDK (3 attempts by default, see
// Options.RetryMaxAttempts); parts are sent from memory, so a retried part
// is re-sent whole.
//
// A Store is safe for concurrent use; any number of Stores and processes
// may share a bucket. There is no cross-process lock: a Remove racing a
// Receive of the same blob may leave it removed just after the Receive
// checked it; evidence stores remove blobs only under a recorded disposal.
package s3store
