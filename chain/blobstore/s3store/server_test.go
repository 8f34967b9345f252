package s3store

import (
	"bytes"
	"context"
	"fmt"
	"go/build"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// A server is a versitygw process serving a posix directory.
type server struct {
	endpoint string // http://127.0.0.1:PORT
	dir      string // the posix root: one directory per bucket
	access   string
	secret   string
	client   *s3.Client // a plain client with the root credentials
}

const (
	testAccess = "exhibittestaccess"
	testSecret = "exhibit-test-secret-key-0123456789"
)

// versitygw finds the versitygw binary on PATH or in $(go env GOPATH)/bin,
// where scripts/setup installs it; it skips the test if there is none.
func versitygw(t testing.TB) string {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	for _, gp := range filepath.SplitList(build.Default.GOPATH) {
		p := filepath.Join(gp, "bin", "versitygw")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	t.Skip("versitygw not found on PATH or in $(go env GOPATH)/bin: run scripts/setup " +
		"(go install github.com/versity/versitygw/cmd/versitygw@v1.8.0) to run the S3 tests")
	return ""
}

// startServer starts versitygw on a free loopback port with a fresh posix
// root, waits until it answers S3 requests, and kills it in t.Cleanup.
func startServer(t testing.TB) *server {
	t.Helper()
	return startServerIn(t, "")
}

// startServerIn is startServer serving dir ("" for a fresh temporary one).
func startServerIn(t testing.TB, dir string) *server {
	t.Helper()
	bin := versitygw(t)
	if dir == "" {
		dir = t.TempDir()
	}
	// Ask the kernel for a free port, then give it to versitygw. Another
	// process could take it in between; startup then fails visibly below.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--port", addr, "--quiet", "posix", dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+testAccess, "ROOT_SECRET_KEY="+testSecret)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting versitygw: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel() // SIGKILL
		<-exited
	})

	s := &server{endpoint: "http://" + addr, dir: dir, access: testAccess, secret: testSecret}
	s.client = s3.New(s3.Options{
		Region:                     DefaultRegion,
		Credentials:                credentials.NewStaticCredentialsProvider(testAccess, testSecret, ""),
		BaseEndpoint:               aws.String(s.endpoint),
		UsePathStyle:               true,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	// Wait for readiness: retry ListBuckets on each tick until it succeeds,
	// the process exits, or the deadline passes.
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := s.client.ListBuckets(rctx, &s3.ListBucketsInput{})
		rcancel()
		if err == nil {
			return s
		}
		select {
		case werr := <-exited:
			exited <- werr
			t.Fatalf("versitygw exited before it was ready: %v\n%s", werr, out.String())
		case <-deadline.C:
			t.Fatalf("versitygw not ready after 60s: %v\n%s", err, out.String())
		case <-tick.C:
		}
	}
}

var bucketSeq atomic.Int64

// newBucket creates an empty bucket and returns its name.
func (s *server) newBucket(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("blobs-%d-%d", os.Getpid(), bucketSeq.Add(1))
	if _, err := s.client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("CreateBucket %s: %v", name, err)
	}
	return name
}

// url returns the store URL of bucket on this server (or on endpoint, if
// not empty: a proxy in front of it).
func (s *server) url(bucket, endpoint string) string {
	if endpoint == "" {
		endpoint = s.endpoint
	}
	return "s3://" + bucket + "?endpoint=" + endpoint
}

// getenv serves the server's root credentials as AWS_*.
func (s *server) getenv(k string) string {
	switch k {
	case "AWS_ACCESS_KEY_ID":
		return s.access
	case "AWS_SECRET_ACCESS_KEY":
		return s.secret
	}
	return ""
}

// open opens a Store on bucket through endpoint ("" for the server itself).
func (s *server) open(t testing.TB, bucket, endpoint string) *Store {
	t.Helper()
	cfg, err := ParseURL(s.url(bucket, endpoint))
	if err != nil {
		t.Fatal(err)
	}
	st, err := New(t.Context(), cfg, Options{Getenv: s.getenv})
	if err != nil {
		t.Fatalf("New(%s) = %v", cfg, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newStore returns a Store on a fresh bucket.
func (s *server) newStore(t testing.TB) *Store {
	return s.open(t, s.newBucket(t), "")
}

// objectPath is where the posix backend keeps an object's bytes.
func (s *server) objectPath(bucket, key string) string {
	return filepath.Join(s.dir, bucket, filepath.FromSlash(key))
}

// syncBuffer is a bytes.Buffer safe for the process's two output pipes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
