package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/exhibit-forensics/exhibit/api/hub/ingest"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	blobmem "github.com/exhibit-forensics/exhibit/chain/blobstore/memstore"
)

// fuzzAgent is one agent's log, made once for the fuzz target: 10 records
// whose blobs are all on the hub.
var fuzzAgent = sync.OnceValues(func() (*agent, blobstore.Statter) {
	t := &testing.T{}
	a := newAgent(t)
	a.importN(t, 2)
	a.custody(t, 7)
	blobs := blobmem.New()
	a.upload(t, blobs)
	return a, blobs
})

// FuzzAppend feeds Append whatever bytes come, split at newlines into a
// batch's envelopes, on a mirror holding the agent's first 3 records: once
// from index 3 (new records) and once from index 0 (held ones). Nothing
// may be accepted but the agent's own records at their indices, and every
// refusal must be one of the documented errors.
func FuzzAppend(f *testing.F) {
	a, blobs := fuzzAgent()
	if a.size(f) != 10 {
		f.Fatalf("the fuzz agent's log has %d records", a.size(f))
	}
	envs := a.envelopes(f, 0, 10)
	f.Add(bytes.Join(envs[3:6], []byte("\n")))
	f.Add(bytes.Join(envs[0:4], []byte("\n")))
	f.Add(envs[3][:len(envs[3])-1])
	f.Add([]byte("{}"))
	f.Add([]byte(""))
	f.Add(bytes.Replace(envs[4], []byte(`"sig":"`), []byte(`"sig":"A`), 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		batch := bytes.Split(data, []byte("\n"))
		for _, from := range []uint64{3, 0} {
			in, err := ingest.New(ingest.Config{Mirrors: ingest.NewMemMirrors(), Blobs: blobs})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := in.Append(ctx, a.dev, 0, envs[:3]); err != nil {
				t.Fatal(err)
			}
			s, err := in.Append(ctx, a.dev, from, batch)
			var re *ingest.RecordError
			var fe *ingest.ForkError
			switch {
			case errors.As(err, &fe):
				// Only the device's own records, sent at other indices, can
				// be a fork: the fuzzer cannot sign.
				if e := batch[fe.Index-from]; !genuine(envs, e) {
					t.Fatalf("from %d: fork with %q", from, e)
				}
			case err == nil:
				for i, e := range batch {
					if j := from + uint64(i); j >= 10 || !bytes.Equal(e, envs[j]) {
						t.Fatalf("from %d: accepted %q at index %d", from, e, j)
					}
				}
				if want := max(3, from+uint64(len(batch))); s.Size != want || s.Root != a.root(t, want) {
					t.Fatalf("from %d: state %+v after an accepted batch", from, s)
				}
			case errors.As(err, &re), errors.Is(err, ingest.ErrBatch):
			default:
				t.Fatalf("from %d: undocumented error %v", from, err)
			}
			in.Close()
		}
	})
}

func genuine(envs [][]byte, e []byte) bool {
	for _, g := range envs {
		if bytes.Equal(g, e) {
			return true
		}
	}
	return false
}
