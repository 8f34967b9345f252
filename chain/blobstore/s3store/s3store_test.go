package s3store

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
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
		t.Cleanup(func() { st.Close() })
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

// TestConditionalWrites checks the server honours If-None-Match: *, on
// which the store relies to never replace a stored blob: a write of other
// bytes to a blob's key is refused with 412, and the store's own write
// path treats that refusal as "already stored" without touching the
// object.
func TestConditionalWrites(t *testing.T) {
	srv := startServer(t)
	s := srv.newStore(t)
	ctx := t.Context()
	b := []byte("stored first")
	h := chain.Sum(b)
	if _, err := s.Receive(ctx, h, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	_, err := srv.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.Key(h)),
		Body: bytes.NewReader([]byte("other bytes!")), IfNoneMatch: aws.String("*"),
	})
	if !isPrecondition(err) {
		t.Fatalf("conditional PutObject over a stored blob = %v, want 412 Precondition Failed", err)
	}
	// A Receive's multipart upload completing onto a blob stored
	// meanwhile (here with other bytes, to see whether it replaced them):
	// complete reports success and leaves the stored object alone.
	out, err := srv.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.Key(h)),
	})
	if err != nil {
		t.Fatal(err)
	}
	up := &multipart{key: s.Key(h), id: aws.ToString(out.UploadId)}
	if err := s.uploadPart(ctx, up, []byte("other bytes!")); err != nil {
		t.Fatal(err)
	}
	if err := s.complete(ctx, up, true); err != nil {
		t.Fatalf("complete onto a stored blob = %v, want nil (refused as already stored)", err)
	}
	if err := blobstore.Check(ctx, s, h); err != nil {
		t.Fatalf("stored blob after a refused completion: %v", err)
	}
	if p := pendingUploads(t, srv, s.cfg.Bucket); p != 0 {
		t.Fatalf("%d uploads pending after a refused completion", p)
	}

	// versitygw v1.8.0 ignores If-None-Match on CopyObject, so Ingest's
	// copy may replace a blob stored meanwhile; the store never copies
	// bytes other than the blob's own (verified) ones, so that replaces
	// it with identical bytes. Record what this server does.
	tmp := s.tmpKey()
	if _, err := srv.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.cfg.Bucket), Key: aws.String(tmp), Body: bytes.NewReader(b),
	}); err != nil {
		t.Fatal(err)
	}
	_, err = srv.client.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.Key(h)),
		CopySource: aws.String(s.cfg.Bucket + "/" + tmp), IfNoneMatch: aws.String("*"),
	})
	t.Logf("conditional CopyObject onto a stored blob: %v (412 if honoured, nil if ignored)", err)
	if err := blobstore.Check(ctx, s, h); err != nil {
		t.Fatal(err)
	}
}

// TestEnumerateSkipsForeignKeys puts objects that do not follow the layout
// under the store's prefix: Enumerate lists only the blob.
func TestEnumerateSkipsForeignKeys(t *testing.T) {
	srv := startServer(t)
	s := srv.newStore(t)
	ctx := t.Context()
	b := []byte("the only blob")
	h := chain.Sum(b)
	if _, err := s.Receive(ctx, h, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	x := h.Hex()
	other := chain.Sum([]byte("x")).Hex()
	for _, k := range []string{
		"sha256/" + x, // flat
		"sha256/" + x[:2] + "/" + x[2:4] + "/" + x[:63], // short
		"sha256/" + x[:2] + "/" + x[2:4] + "/" + strings.ToUpper(x),
		"sha256/" + x[:2] + "/" + x[2:4] + "/" + other, // wrong shard
		"sha256/" + x[:2] + "/" + x[2:4] + "/" + x + ".bak",
		"tmp/123-abc",
	} {
		if _, err := srv.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(s.cfg.Bucket), Key: aws.String(k), Body: bytes.NewReader(b),
		}); err != nil {
			t.Fatalf("PutObject %s: %v", k, err)
		}
	}
	var got []blobstore.Info
	if err := s.Enumerate(ctx, chain.Hash{}, func(in blobstore.Info) error { got = append(got, in); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != (blobstore.Info{Hash: h, Size: int64(len(b))}) {
		t.Fatalf("Enumerate = %v, want just %s", got, h)
	}
}
