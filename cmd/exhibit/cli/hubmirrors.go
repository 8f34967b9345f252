package cli

import (
	"errors"

	"github.com/exhibit-forensics/exhibit/api/hub/hubexport"
)

// openHubMirrors opens what `exhibit hub export` reads of a hub data
// directory: the agents' mirrors, the hub's blob store, its own log and
// its witness key.
//
// PROVISIONAL: the mirrors are being built in parallel (api/hub/ingest);
// this placeholder is to be replaced by the function that opens them. Until
// then it refuses, saying why, so that nothing is exported from a half-read
// hub.
func openHubMirrors(e *env, data string) (hubexport.Source, func(), error) {
	return hubexport.Source{}, func() {}, errors.New("this build cannot open a hub's mirrors yet: hub export needs the hub's ingest (api/hub/ingest), not wired in")
}
