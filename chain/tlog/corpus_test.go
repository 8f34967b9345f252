package tlog_test

import (
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// TestWriteCorpus keeps testdata/fuzz/<Fuzzer>/ equal to the seeds the
// fuzzers add from the tables and testdata/vectors.txtar
// (internal/fuzzseed); -write-corpus rewrites them:
//
//	go test ./chain/tlog -run TestWriteCorpus -write-corpus
func TestWriteCorpus(t *testing.T) {
	for fuzzer, seeds := range map[string][]seed{
		"FuzzParseCheckpoint": checkpointSeeds(),
		"FuzzParseProof":      proofSeeds(t),
		"FuzzOpenCheckpoint":  openSeeds(t),
	} {
		var out []fuzzseed.Seed
		names := map[string]bool{}
		for _, s := range seeds {
			name := corpusName(s.name)
			if names[name] {
				t.Fatalf("%s: two seeds are named %s", fuzzer, name)
			}
			names[name] = true
			out = append(out, fuzzseed.Seed{Name: name, Args: []any{s.data}})
		}
		fuzzseed.Sync(t, fuzzer, out)
	}
}
