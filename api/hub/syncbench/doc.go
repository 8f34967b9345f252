// Package syncbench holds the agent-to-hub sync benchmark (issue 12): a
// backlog synced through a real hub over mutual TLS — resumable uploads,
// records verified into the hub's mirror, the checkpoint co-signed —
// against a plain HTTPS upload of the same bytes to the same hub process.
// It has no code of its own; see bench_test.go and docs/BENCHMARKS.md.
package syncbench
