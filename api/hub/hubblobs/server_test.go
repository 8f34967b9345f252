package hubblobs

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

// The root credentials the test's versitygw is started with.
const (
	testAccess = "exhibithubaccess"
	testSecret = "exhibit-hub-test-secret-0123456789"
)

// gateway is a versitygw process serving a posix directory.
type gateway struct {
	endpoint string     // http://127.0.0.1:PORT
	client   *s3.Client // with the root credentials
}

// versitygwBin finds versitygw on PATH or in $(go env GOPATH)/bin, where
// scripts/setup installs it; without it the test is skipped.
func versitygwBin(t testing.TB) string {
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

// startVersitygw starts versitygw on a free loopback port over a fresh
// directory, waits until it answers ListBuckets (or exits, or a minute
// passes), and kills it when the test ends.
func startVersitygw(t *testing.T) *gateway {
	t.Helper()
	bin := versitygwBin(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // another process could take the port: startup then fails visibly

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--port", addr, "--quiet", "posix", t.TempDir())
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+testAccess, "ROOT_SECRET_KEY="+testSecret)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting versitygw: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-exited
	})
	g := &gateway{endpoint: "http://" + addr}
	g.client = s3.New(s3.Options{
		Region:                     "us-east-1",
		Credentials:                credentials.NewStaticCredentialsProvider(testAccess, testSecret, ""),
		BaseEndpoint:               aws.String(g.endpoint),
		UsePathStyle:               true,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := g.client.ListBuckets(rctx, &s3.ListBucketsInput{})
		rcancel()
		if err == nil {
			return g
		}
		select {
		case werr := <-exited:
			exited <- werr
			t.Fatalf("versitygw exited before it was ready: %v\n%s", werr, out.String())
		case <-deadline.C:
			t.Fatalf("versitygw not ready after a minute: %v\n%s", err, out.String())
		case <-tick.C:
		}
	}
}

var bucketSeq atomic.Int64

// newBucket creates an empty bucket and returns its name.
func (g *gateway) newBucket(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("hub-blobs-%d-%d", os.Getpid(), bucketSeq.Add(1))
	if _, err := g.client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("CreateBucket %s: %v", name, err)
	}
	return name
}

// lockedBuffer collects the process's output from two pipes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
