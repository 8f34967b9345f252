// Package synctest holds the agent→hub sync's fault tests (issue 12,
// "Faults"): a real hub (api/hub.Server over mutual TLS, with the real
// ingest, upload server, blob store, witness and hub log) and a real
// enrolled agent (a chain/datadir ledger, agentsync.Syncer and
// upload.Client) stood up in-process, then broken on purpose — a TCP
// fault proxy cutting, resetting and stalling connections, a full disk,
// a hub down for hours on a fake clock, skewed and expired clocks,
// revoked certificates, replayed, unknown-key and forked records. Each
// test ends by checking that the hub holds exactly the agent's log
// (size, root, witnessed) and every blob it names, verified.
//
// The package has tests only; this file carries its documentation.
package synctest
