package syncbench

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/exhibit-forensics/exhibit/api/hub"
	"github.com/exhibit-forensics/exhibit/api/hub/agentsync"
	"github.com/exhibit-forensics/exhibit/api/hub/enrol"
	"github.com/exhibit-forensics/exhibit/api/hub/hublog"
	"github.com/exhibit-forensics/exhibit/api/hub/ingest"
	"github.com/exhibit-forensics/exhibit/api/hub/upload"
	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore/fsstore"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/witness"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// benchHub is a hub process: its HTTPS service with mutual TLS (the real
// routes: uploads, records, witness, over the real ingest and blob store)
// and, in the same process, a plain HTTPS listener with one route, PUT
// /put/sha256:<hex>, into the same blob store: the baseline.
type benchHub struct {
	h          *enrol.Hub
	url, plain string
	stop       func()
}

func startHub(b *testing.B, dir string) *benchHub {
	ctx, cancel := context.WithCancel(context.Background())
	if err := enrol.Init(ctx, dir, "bench", enrol.Options{}); err != nil {
		b.Fatal(err)
	}
	h, err := enrol.Open(ctx, dir, enrol.Options{})
	if err != nil {
		b.Fatal(err)
	}
	blobs, err := fsstore.Open(ctx, filepath.Join(dir, "blobs"))
	if err != nil {
		b.Fatal(err)
	}
	wv, err := witness.ParseVerifierKey(h.WitnessKey)
	if err != nil {
		b.Fatal(err)
	}
	in, err := ingest.New(ingest.Config{Mirrors: ingest.SQLiteMirrors(filepath.Join(dir, "mirrors")), Blobs: blobs, Witness: wv})
	if err != nil {
		b.Fatal(err)
	}
	up, err := upload.NewServer(upload.Config{Dir: filepath.Join(dir, "uploads"), Blobs: blobs, Owner: func(r *http.Request) string {
		if d := hub.DeviceOf(r); d != nil {
			return d.ID
		}
		return ""
	}})
	if err != nil {
		b.Fatal(err)
	}
	hl, err := hublog.OpenDir(ctx, dir, h.Cosigner(), wv, hublog.Options{})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := hub.New(hub.Config{Hub: h, Hosts: enrol.HostsFor("127.0.0.1:0"), Mirrors: hub.IngestMirrors(in),
		Uploads: up, Blobs: http.HandlerFunc(up.BlobStatus), Log: hl})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()

	// The baseline: plain HTTPS (the hub's server certificate, no client
	// certificate) into the same blob store.
	g := gin.New()
	g.PUT("/put/:hash", func(c *gin.Context) {
		hh, err := chain.ParseHash(c.Param("hash"))
		if err != nil {
			c.Status(http.StatusBadRequest)
			return
		}
		if _, err := blobs.Receive(c.Request.Context(), hh, c.Request.Body); err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		c.Status(http.StatusNoContent)
	})
	pcfg := srv.TLSConfig().Clone()
	pcfg.ClientAuth = tls.NoClientCert
	pln, err := tls.Listen("tcp", "127.0.0.1:0", pcfg)
	if err != nil {
		b.Fatal(err)
	}
	psrv := &http.Server{Handler: g}
	go psrv.Serve(pln)
	return &benchHub{h: h, url: "https://" + ln.Addr().String() + "/", plain: "https://" + pln.Addr().String(),
		stop: func() {
			psrv.Close()
			cancel()
			<-done
			hl.Close()
			in.Close()
			blobs.Close()
			h.Close()
		}}
}

// agent is a data directory holding n documents of size random bytes.
type agent struct {
	dir    string
	l      *ledger.Ledger
	blobs  []chain.Hash
	size   int64
	nbytes int64
}

func newAgent(b *testing.B, n, size int) *agent {
	ctx := context.Background()
	dir := b.TempDir()
	l, err := datadir.Init(ctx, dir, "Bench Agent", "BA", datadir.Options{})
	if err != nil {
		b.Fatal(err)
	}
	a := &agent{dir: dir, l: l, size: int64(size)}
	rng := rand.NewChaCha8([32]byte{1})
	buf := make([]byte, size)
	for i := range n {
		rng.Read(buf)
		ex, _, err := l.Import(ctx, ledger.ImportRequest{Case: "BENCH-1", Kind: "document", FileName: fmt.Sprintf("item-%d.bin", i), Body: bytes.NewReader(buf)})
		if err != nil {
			b.Fatal(err)
		}
		for _, br := range ex.Blobs {
			a.blobs = append(a.blobs, br.Hash)
		}
	}
	a.nbytes = int64(n) * int64(size)
	return a
}

// enrol enrols the agent at a fresh hub and returns its syncer.
func (a *agent) enrol(b *testing.B, bh *benchHub) (*agentsync.Syncer, *http.Client) {
	ctx := context.Background()
	os.RemoveAll(filepath.Join(a.dir, "hub"))
	os.Remove(filepath.Join(a.dir, agentsync.StateFile))
	code, _, err := bh.h.NewCode(ctx, enrol.CodeTTL)
	if err != nil {
		b.Fatal(err)
	}
	key, err := datadir.Keys(filepath.Join(a.dir, datadir.KeyFile)).Load()
	if err != nil {
		b.Fatal(err)
	}
	id := a.l.Identity()
	res, err := enrol.Agent{DeviceID: id.DeviceID, Origin: id.Origin, Key: key}.Enrol(ctx, bh.url, code.String())
	if err != nil {
		b.Fatal(err)
	}
	if err := enrol.SaveAgent(a.dir, bh.url, res); err != nil {
		b.Fatal(err)
	}
	en, err := enrol.LoadAgent(a.dir)
	if err != nil {
		b.Fatal(err)
	}
	base, _ := url.Parse(bh.url)
	wv, err := witness.ParseVerifierKey(en.Config.Witness)
	if err != nil {
		b.Fatal(err)
	}
	hc := client(en.TLS)
	s, err := agentsync.New(agentsync.Config{Log: a.l, HTTP: hc, Base: base, Upload: &upload.Client{HTTP: hc, Base: base},
		StateFile: filepath.Join(a.dir, agentsync.StateFile), Witness: wv})
	if err != nil {
		b.Fatal(err)
	}
	return s, hc
}

// client is the HTTP client both ways use: the agent's (HTTP/2 over TLS).
func client(cfg *tls.Config) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	tr.ForceAttemptHTTP2 = true
	return &http.Client{Transport: tr}
}

// putAll uploads the agent's blobs to the baseline route, one PUT each.
func (a *agent) putAll(b *testing.B, bh *benchHub, hc *http.Client) {
	ctx := context.Background()
	for _, h := range a.blobs {
		rc, n, err := a.l.Open(ctx, h)
		if err != nil {
			b.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, bh.plain+"/put/"+h.String(), rc)
		req.ContentLength = n
		resp, err := hc.Do(req)
		rc.Close()
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			b.Fatalf("PUT: %s", resp.Status)
		}
	}
}

// BenchmarkSync is the sync benchmark: an agent's backlog
// (EXHIBIT_SYNC_BENCH_ITEMS documents, default 32, of
// EXHIBIT_SYNC_BENCH_SIZE bytes, default 4 MiB; 200 × 10737418 is the
// issue's 2 GiB) synced to a fresh hub over mutual TLS — every blob
// through the resumable uploads, every record verified into the hub's
// mirror, the checkpoint co-signed and recorded in the hub's log — against
// a plain HTTPS PUT of the same bytes to the same hub process. Each
// iteration runs both, in alternating order, each against a fresh hub;
// it reports the median throughput of each and the median ratio.
func BenchmarkSync(b *testing.B) {
	gin.SetMode(gin.ReleaseMode)
	n := envInt("EXHIBIT_SYNC_BENCH_ITEMS", 32)
	size := envInt("EXHIBIT_SYNC_BENCH_SIZE", 4<<20)
	a := newAgent(b, n, size)
	defer a.l.Close()
	var syncMB, plainMB, ratios []float64
	b.ResetTimer()
	for i := range b.N {
		var tSync, tPlain time.Duration
		for _, way := range [][2]int{{0, 1}, {1, 0}}[i%2] {
			b.StopTimer()
			hubDir, err := os.MkdirTemp("", "syncbench-hub-")
			if err != nil {
				b.Fatal(err)
			}
			bh := startHub(b, hubDir)
			s, _ := a.enrol(b, bh)
			b.StartTimer()
			start := time.Now()
			if way == 0 {
				res, err := s.Once(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				tSync = time.Since(start)
				if res.Bytes != a.nbytes {
					b.Fatalf("synced %d blob bytes, want %d", res.Bytes, a.nbytes)
				}
			} else {
				ecfg, _ := enrol.LoadAgent(a.dir)
				pc := client(&tls.Config{RootCAs: ecfg.TLS.RootCAs, MinVersion: tls.VersionTLS13})
				a.putAll(b, bh, pc)
				tPlain = time.Since(start)
			}
			b.StopTimer()
			bh.stop()
			os.RemoveAll(hubDir) // a 2 GiB backlog per hub: not kept to the end
			b.StartTimer()
		}
		mb := float64(a.nbytes) / 1e6
		syncMB = append(syncMB, mb/tSync.Seconds())
		plainMB = append(plainMB, mb/tPlain.Seconds())
		ratios = append(ratios, tPlain.Seconds()/tSync.Seconds())
	}
	b.ReportMetric(median(syncMB), "sync-MB/s")
	b.ReportMetric(median(plainMB), "plain-MB/s")
	b.ReportMetric(median(ratios), "ratio")
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
