package upload

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore/fsstore"
)

// benchItems are n blobs of size bytes that share all but their first 8
// bytes, so that a 2 GiB backlog does not need 2 GiB of memory.
type benchItems struct {
	base   []byte
	hashes []chain.Hash
}

func newBenchItems(n, size int) *benchItems {
	r := rand.New(rand.NewPCG(1, 2))
	it := &benchItems{base: make([]byte, size)}
	for i := range it.base {
		it.base[i] = byte(r.Uint32())
	}
	for i := range n {
		hh := chain.NewHasher()
		rc, _ := it.open(i, 0)
		io.Copy(hh, rc)
		it.hashes = append(it.hashes, chain.HashOf(hh))
	}
	return it
}

func (it *benchItems) open(i int, off int64) (io.ReadCloser, error) {
	var head [8]byte
	binary.BigEndian.PutUint64(head[:], uint64(i))
	if off < 8 {
		return io.NopCloser(io.MultiReader(bytes.NewReader(head[off:]), bytes.NewReader(it.base[8:]))), nil
	}
	return io.NopCloser(bytes.NewReader(it.base[off:])), nil
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkUpload sends the same backlog (EXHIBIT_UPLOAD_BENCH_ITEMS
// blobs, default 64, of EXHIBIT_UPLOAD_BENCH_SIZE bytes, default 4 MiB;
// 200 × 10737418 is the issue's 2 GiB) to one hub process: through the
// Client over mutual TLS, through the Client over HTTPS without a client
// certificate, and as one plain PUT per blob over HTTPS (the baseline
// without resumability). The blob store is fsstore; blobs are removed
// after each way, outside the timer. It reports each way's throughput and
// the throughput ratios of mutual TLS to HTTPS and to the plain PUT.
func BenchmarkUpload(b *testing.B) {
	n := envInt("EXHIBIT_UPLOAD_BENCH_ITEMS", 64)
	size := envInt("EXHIBIT_UPLOAD_BENCH_SIZE", 4<<20)
	items := newBenchItems(n, size)

	st, err := fsstore.Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	p := newPKI(b)
	srv, err := NewServer(Config{Dir: b.TempDir(), Blobs: st, Owner: deviceOf})
	if err != nil {
		b.Fatal(err)
	}
	g := gin.New()
	g.Any(DefaultBasePath+"*id", gin.WrapH(srv))
	g.HEAD(BlobsPath+":hash", gin.WrapF(srv.BlobStatus))
	g.PUT("/put/:hash", plainPut(st))
	serve := func(mutual bool) *httptest.Server {
		ts := httptest.NewUnstartedServer(g)
		ts.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool, MinVersion: tls.VersionTLS13}
		if mutual {
			ts.TLS.ClientAuth = tls.RequireAndVerifyClientCert
		}
		ts.StartTLS()
		b.Cleanup(ts.Close)
		return ts
	}
	mtls, plain := serve(true), serve(false)
	clientOf := func(ts *httptest.Server, cert bool) (*http.Client, *url.URL) {
		cfg := &tls.Config{RootCAs: p.pool, MinVersion: tls.VersionTLS13}
		if cert {
			cfg.Certificates = []tls.Certificate{p.issue(b, "dev-a", x509.ExtKeyUsageClientAuth)}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}, &url.URL{Scheme: "https", Host: ts.Listener.Addr().String()}
	}
	removeAll := func(b *testing.B) {
		b.StopTimer()
		for _, h := range items.hashes {
			if err := st.Remove(context.Background(), h); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
	}
	type way struct {
		name string
		send func(b *testing.B)
		took time.Duration
	}
	tusWay := func(ts *httptest.Server, cert bool) func(b *testing.B) {
		hc, base := clientOf(ts, cert)
		return func(b *testing.B) {
			c := &Client{HTTP: hc, Base: base}
			for i, h := range items.hashes {
				err := c.Put(context.Background(), h, int64(size), func(off int64) (io.ReadCloser, error) { return items.open(i, off) }, nil)
				if err != nil {
					b.Fatal(err)
				}
			}
			if c.Sent() != int64(n)*int64(size) {
				b.Fatalf("sent %d bytes", c.Sent())
			}
		}
	}
	putHC, putBase := clientOf(plain, false)
	ways := []*way{
		{name: "tus-mtls", send: tusWay(mtls, true)},
		{name: "tus-https", send: tusWay(plain, false)},
		{name: "put-https", send: func(b *testing.B) {
			for i, h := range items.hashes {
				rc, _ := items.open(i, 0)
				req, _ := http.NewRequest(http.MethodPut, putBase.String()+"/put/"+h.String(), rc)
				req.ContentLength = int64(size)
				resp, err := putHC.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusNoContent {
					b.Fatalf("PUT: %d", resp.StatusCode)
				}
			}
		}},
	}
	// Each iteration sends the backlog once each way, in a rotating order,
	// so that the ways share the machine's moods; the ratios are of the
	// same run.
	round := 0
	for b.Loop() {
		for k := range ways {
			w := ways[(k+round)%len(ways)]
			t0 := time.Now()
			w.send(b)
			w.took += time.Since(t0)
			removeAll(b)
		}
		round++
	}
	total := float64(n) * float64(size) * float64(round)
	for _, w := range ways {
		b.ReportMetric(total/w.took.Seconds()/1e6, w.name+"-MB/s")
	}
	b.ReportMetric(ways[1].took.Seconds()/ways[0].took.Seconds(), "mtls/https")
	b.ReportMetric(ways[2].took.Seconds()/ways[0].took.Seconds(), "mtls/put")
}
