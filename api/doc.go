// Package api is the home of Exhibit's HTTP services: the agent's and the
// hub's APIs (gin), the server-rendered pages for kiosks, lab benches and
// case officers, the OpenAPI document, and the downstream adapters (case
// system, ProBES, risk). Today it holds only api/auth, the user accounts
// that people authenticate against, which custody handovers already need.
// The evidence, lab and imaging cores never import gin (internal/repotest
// enforces that).
package api
