// Package upload moves blobs from agents to the hub with resumable uploads:
// the tus 1.0 protocol (core, creation and termination), served on the hub
// by github.com/tus/tusd/v2, with one addition of Exhibit's own, the
// confirmation by hash. docs/upload.md is the protocol as used, enough for
// a second implementation.
//
// The hub side is a Server: an http.Handler for the uploads (under
// Config.BasePath, default /v1/uploads/) and BlobStatus for the
// confirmation (GET|HEAD /v1/blobs/sha256:<hex>). An upload must name the
// blob it carries (Upload-Metadata key "sha256"); when its last byte
// arrives, the server streams it through the blob store's Receive, which
// checks the SHA-256, before it answers the request that completed it. Bytes
// that do not match are answered 460 and dropped; nothing is stored.
//
// The agent side is a Client: Put sends one blob, in chunks, and returns
// nil only once the hub confirms it holds the blob's hash. After a fault it
// asks the hub how much it has and continues from there, so a fault costs
// at most one chunk sent again. A Resume (DirResume) keeps the upload URL
// of each blob in flight across restarts of the agent.
package upload
