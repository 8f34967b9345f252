package s3store

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	"github.com/exhibit-forensics/exhibit/chain/blobstore/storetest"
)

// TestConformance runs the blobstore suite against versitygw, tampering
// through the S3 API: the object is overwritten with other bytes of the
// same length, as someone holding the bucket's credentials could.
func TestConformance(t *testing.T) {
	srv := startServer(t)
	storetest.TestWithOptions(t, func(t *testing.T) blobstore.Store { return srv.newStore(t) }, storetest.Options{
		Corrupt: func(t *testing.T, bs blobstore.Store, h chain.Hash) {
			s := bs.(*Store)
			b := readAll(t, s, h)
			b[len(b)/2] ^= 1
			if _, err := srv.client.PutObject(t.Context(), &s3.PutObjectInput{
				Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.Key(h)), Body: bytes.NewReader(b),
			}); err != nil {
				t.Fatalf("overwriting %s: %v", h, err)
			}
		},
	})
}

// TestConformanceOnDisk runs the suite again with a prefix in the URL,
// tampering with the posix backend's file on disk: bit rot, or an
// administrator editing the gateway's directory.
func TestConformanceOnDisk(t *testing.T) {
	srv := startServer(t)
	storetest.TestWithOptions(t, func(t *testing.T) blobstore.Store {
		bucket := srv.newBucket(t)
		st, err := New(t.Context(), mustParse(t, "s3://"+bucket+"/cases/2026?endpoint="+srv.endpoint), Options{Getenv: srv.getenv})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}, storetest.Options{
		Corrupt: func(t *testing.T, bs blobstore.Store, h chain.Hash) {
			s := bs.(*Store)
			p := srv.objectPath(s.cfg.Bucket, s.Key(h))
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatalf("reading the object's file: %v", err)
			}
			b[0] ^= 0x40
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		},
	})
}

func mustParse(t testing.TB, raw string) Config {
	t.Helper()
	c, err := ParseURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// readAll reads a blob through Open without the verifying reader's check.
func readAll(t testing.TB, s *Store, h chain.Hash) []byte {
	t.Helper()
	rc, _, err := s.Open(t.Context(), h)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc.(*verifier).rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTamperDetectedOnRead reads a tampered blob to the end: the reader
// reports ErrCorrupt instead of io.EOF, so a caller streaming it out (an
// export, a sync) learns the bytes were not the ones stored.
func TestTamperDetectedOnRead(t *testing.T) {
	srv := startServer(t)
	s := srv.newStore(t)
	ctx := t.Context()
	b := bytes.Repeat([]byte("exhibit "), 100000)
	h := chain.Sum(b)
	if _, err := s.Receive(ctx, h, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		tamper func([]byte) []byte
	}{
		{"flipped", func(b []byte) []byte { c := bytes.Clone(b); c[12345] ^= 1; return c }},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }},
		{"extended", func(b []byte) []byte { return append(bytes.Clone(b), '!') }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(srv.objectPath(s.cfg.Bucket, s.Key(h)), tc.tamper(b), 0o644); err != nil {
				t.Fatal(err)
			}
			rc, _, err := s.Open(ctx, h)
			if err != nil {
				t.Fatal(err)
			}
			_, err = io.ReadAll(rc)
			rc.Close()
			if !errors.Is(err, blobstore.ErrCorrupt) {
				t.Fatalf("reading a %s blob to the end = %v, want ErrCorrupt", tc.name, err)
			}
			if err := blobstore.Check(ctx, s, h); !errors.Is(err, blobstore.ErrCorrupt) {
				t.Fatalf("Check of a %s blob = %v, want ErrCorrupt", tc.name, err)
			}
		})
	}
}
