package upload

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	"github.com/exhibit-forensics/exhibit/chain/blobstore/memstore"
	"github.com/exhibit-forensics/exhibit/internal/faultproxy"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// pki is a throwaway CA with a server certificate for 127.0.0.1 and
// client certificates named by device.
type pki struct {
	pool   *x509.CertPool
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	server tls.Certificate
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &pki{pool: x509.NewCertPool(), caCert: ca, caKey: key}
	p.pool.AddCert(ca)
	p.server = p.issue(t, "hub", x509.ExtKeyUsageServerAuth)
	return p
}

func (p *pki) issue(t testing.TB, name string, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// deviceOf is the Owner of the tests: the client certificate's name.
func deviceOf(r *http.Request) string {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return ""
	}
	return r.TLS.PeerCertificates[0].Subject.CommonName
}

// env is a hub (the Server mounted in gin, over TLS) behind a fault proxy.
type env struct {
	t      testing.TB
	pki    *pki
	blobs  *countingBlobs
	srv    *Server
	ts     *httptest.Server
	proxy  *faultproxy.Proxy
	dir    string
	mutual bool
}

type envOpt struct {
	maxSize int64
	blobs   Blobs // memstore if nil
	noMTLS  bool  // server TLS only, no client certificate
	idle    time.Duration
	now     func() time.Time
	// loseAnswer, if it returns true for a request, lets the hub handle
	// it and then closes the connection instead of answering.
	loseAnswer func(*http.Request) bool
}

// countingBlobs wraps a blob store; fail, if set, fails a Receive.
type countingBlobs struct {
	Blobs
	fail func() error
}

func (c *countingBlobs) Receive(ctx context.Context, want chain.Hash, r io.Reader) (i blobstore.Info, err error) {
	if c.fail != nil {
		if err := c.fail(); err != nil {
			io.Copy(io.Discard, r)
			return i, err
		}
	}
	return c.Blobs.Receive(ctx, want, r)
}

func newEnv(t testing.TB, o envOpt) *env {
	t.Helper()
	e := &env{t: t, pki: newPKI(t), dir: filepath.Join(t.TempDir(), "uploads"), mutual: !o.noMTLS}
	if o.blobs == nil {
		o.blobs = memstore.New()
	}
	e.blobs = &countingBlobs{Blobs: o.blobs}
	srv, err := NewServer(Config{Dir: e.dir, Blobs: e.blobs, MaxSize: o.maxSize, Owner: deviceOf, Now: o.now, IdleTimeout: o.idle,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	g := gin.New()
	if o.loseAnswer != nil {
		g.Use(func(c *gin.Context) {
			if !o.loseAnswer(c.Request) {
				return
			}
			srv.ServeHTTP(httptest.NewRecorder(), c.Request)
			conn, _, err := c.Writer.Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			conn.Close()
			c.Abort()
		})
	}
	g.Any(DefaultBasePath+"*id", gin.WrapH(srv))
	g.GET(BlobsPath+":hash", gin.WrapF(srv.BlobStatus))
	g.HEAD(BlobsPath+":hash", gin.WrapF(srv.BlobStatus))
	g.PUT("/put/:hash", plainPut(e.blobs))
	e.ts = httptest.NewUnstartedServer(g)
	e.ts.TLS = &tls.Config{Certificates: []tls.Certificate{e.pki.server}, ClientCAs: e.pki.pool, MinVersion: tls.VersionTLS13}
	if e.mutual {
		e.ts.TLS.ClientAuth = tls.RequireAndVerifyClientCert
	}
	e.ts.StartTLS()
	t.Cleanup(e.ts.Close)
	e.proxy, err = faultproxy.New(e.ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.proxy.Close() })
	return e
}

// plainPut is the benchmarks' baseline: one PUT of the whole blob.
func plainPut(b Blobs) gin.HandlerFunc {
	return func(c *gin.Context) {
		h, err := chain.ParseHash(c.Param("hash"))
		if err != nil {
			c.String(http.StatusBadRequest, err.Error())
			return
		}
		if _, err := b.Receive(c.Request.Context(), h, c.Request.Body); err != nil {
			c.String(http.StatusUnprocessableEntity, err.Error())
			return
		}
		c.Status(http.StatusNoContent)
	}
}

// httpClient returns a client of device name over the proxy (or direct).
func (e *env) httpClient(name string) *http.Client {
	cfg := &tls.Config{RootCAs: e.pki.pool, MinVersion: tls.VersionTLS13}
	if name != "" {
		cfg.Certificates = []tls.Certificate{e.pki.issue(e.t, name, x509.ExtKeyUsageClientAuth)}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, MaxIdleConnsPerHost: 4}}
}

func (e *env) base(direct bool) *url.URL {
	addr := e.proxy.Addr()
	if direct {
		addr = e.ts.Listener.Addr().String()
	}
	return &url.URL{Scheme: "https", Host: addr}
}

// client returns an upload client of device name over the fault proxy,
// retrying without waiting.
func (e *env) client(name string, chunk int64) *Client {
	return &Client{HTTP: e.httpClient(name), Base: e.base(false), ChunkSize: chunk,
		Backoff: func(int) time.Duration { return 0 }}
}

// partials lists the upload directory's data and info files.
func (e *env) partials() []string {
	ents, _ := os.ReadDir(e.dir)
	var out []string
	for _, d := range ents {
		if !strings.Contains(d.Name(), ".lock") && !strings.HasSuffix(d.Name(), ".stop") {
			out = append(out, d.Name())
		}
	}
	return out
}

// mustHold checks the hub holds exactly data under its hash.
func (e *env) mustHold(data []byte) {
	e.t.Helper()
	h := hashOf(data)
	f, ok := e.blobs.Blobs.(interface {
		Open(context.Context, chain.Hash) (io.ReadCloser, int64, error)
	})
	if !ok {
		e.t.Fatal("blob store cannot be read")
	}
	rc, _, err := f.Open(context.Background(), h)
	if err != nil {
		e.t.Fatalf("hub does not hold %s: %v", h, err)
	}
	defer rc.Close()
	got, _ := io.ReadAll(rc)
	if !bytes.Equal(got, data) {
		e.t.Fatalf("hub holds %d bytes under %s, want the %d sent", len(got), h, len(data))
	}
}

func hashOf(b []byte) chain.Hash {
	hh := chain.NewHasher()
	hh.Write(b)
	return chain.HashOf(hh)
}

// blob returns n deterministic bytes differing by seed.
func blob(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func opener(b []byte) func(int64) (io.ReadCloser, error) {
	return func(off int64) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b[off:])), nil }
}
