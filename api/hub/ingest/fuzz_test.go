package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"

	"github.com/exhibit-forensics/exhibit/api/hub/ingest"
	blobmem "github.com/exhibit-forensics/exhibit/chain/blobstore/memstore"
)

// FuzzAppend feeds Append whatever bytes come, split at newlines into a
// batch's envelopes, on a mirror holding the agent's first 3 records: once
// from index 3 (new records) and once from index 0 (held ones). Nothing
// may be accepted but the agent's own records at their indices, and every
// refusal must be one of the documented errors.
func FuzzAppend(f *testing.F) {
	// One agent's log, made once per fuzzing process: 10 records whose
	// blobs are all on the hub.
	a := newAgent(f)
	a.importN(f, 2)
	a.custody(f, 7)
	blobs := blobmem.New()
	a.upload(f, blobs)
	if a.size(f) != 10 {
		f.Fatalf("the fuzz agent's log has %d records", a.size(f))
	}
	envs := a.envelopes(f, 0, 10)
	for _, s := range appendSeeds(f) {
		f.Add(s.data)
	}
	// And this run's agent's own records, at their indices and not.
	f.Add(bytes.Join(envs[3:6], []byte("\n")))
	f.Add(bytes.Join(envs[0:4], []byte("\n")))
	f.Add(envs[3][:len(envs[3])-1])
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

type seed struct {
	name string
	data []byte
}

// appendSeeds are FuzzAppend's committed seeds: testdata/foreign.log holds
// three records of a device that is not the fuzz agent (its key
// enrolment, an import, a custody record), one per line; the seeds are
// those records and damaged copies of them.
func appendSeeds(t testing.TB) []seed {
	t.Helper()
	log, err := os.ReadFile("testdata/foreign.log")
	if err != nil {
		t.Fatal(err)
	}
	recs := bytes.Split(bytes.TrimSuffix(log, []byte("\n")), []byte("\n"))
	if len(recs) != 3 {
		t.Fatalf("testdata/foreign.log has %d lines, want 3", len(recs))
	}
	e := recs[2]
	return []seed{
		{"foreign-record", e},
		{"foreign-log", bytes.Join(recs, []byte("\n"))},
		{"foreign-enrolment", recs[0]},
		{"truncated", e[:len(e)/3]},
		{"truncated-by-one", e[:len(e)-1]},
		{"payload-not-base64", bytes.Replace(e, []byte(`"payload":"`), []byte(`"payload":"!`), 1)},
		{"duplicate-member", bytes.Replace(e, []byte(`{"payloadType"`), []byte(`{"payloadType":"x","payloadType"`), 1)},
		{"unknown-member", bytes.Replace(e, []byte(`{"payloadType"`), []byte(`{"extra":1,"payloadType"`), 1)},
		{"signature-garbled", bytes.Replace(recs[0], []byte(`"sig":"`), []byte(`"sig":"AA`), 1)},
		{"no-signatures", []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}`)},
		{"empty-statement", []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"k","sig":"` +
			"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==" + `"}]}`)},
		{"empty", nil},
		{"empty-lines", []byte("\n\n\n")},
		{"json-null", []byte("null")},
		{"json-object", []byte("{}")},
		{"not-json", []byte("\x00\xff\xfe garbage")},
	}
}

// TestWriteCorpus keeps testdata/fuzz/FuzzAppend equal to appendSeeds;
// -write-corpus rewrites it:
//
//	go test ./api/hub/ingest -run TestWriteCorpus -write-corpus
func TestWriteCorpus(t *testing.T) {
	var out []fuzzseed.Seed
	for _, s := range appendSeeds(t) {
		out = append(out, fuzzseed.Seed{Name: s.name, Args: []any{s.data}})
	}
	fuzzseed.Sync(t, "FuzzAppend", out)
}
