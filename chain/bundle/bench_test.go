package bundle

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
)

// benchBytes is the size of the bundle's payload: 1 GiB unless
// EXHIBIT_BENCH_BYTES says otherwise.
func benchBytes() int64 {
	if s := os.Getenv("EXHIBIT_BENCH_BYTES"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
	}
	return 1 << 30
}

// bigBundle exports a case holding one original of benchBytes bytes.
func bigBundle(b *testing.B) string {
	ctx := context.Background()
	dir := b.TempDir()
	l, err := datadir.Init(ctx, filepath.Join(dir, "data"), "Bench Mark", "BM", datadir.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	src := io.LimitReader(rand.NewChaCha8([32]byte{3}), benchBytes())
	if _, _, err := l.Import(ctx, ledger.ImportRequest{Case: "BENCH", Kind: chain.ExhibitImage, FileName: "big.raw", Body: src}); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "bundle.zip")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := Export(ctx, l, "BENCH", chain.Person{Name: "Bench"}, f, ExportOptions{}); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// baselinePass reads the file once, computing SHA-256 and SHA-512 together:
// the floor any verifier of a BagIt bag with both manifests must pay.
func baselinePass(b *testing.B, path string) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	h256, h512 := sha256.New(), sha512.New()
	if _, err := io.CopyBuffer(io.MultiWriter(h256, h512), f, make([]byte, 1<<20)); err != nil {
		b.Fatal(err)
	}
}

func verifyFile(b *testing.B, path string) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	res, err := Verify(context.Background(), f, fi.Size(), Options{})
	if err != nil || !res.Valid {
		b.Fatalf("verify: %v %v", err, res.Problems)
	}
}

// BenchmarkVerifyVsHashPass alternates the baseline pass and a full
// verification of the same bundle file (in the page cache after the first
// read) and reports the throughput of both and their ratio:
// ratio = baseline time / verify time (≥ 0.85 is the target).
func BenchmarkVerifyVsHashPass(b *testing.B) {
	path := bigBundle(b)
	fi, _ := os.Stat(path)
	baselinePass(b, path) // warm the page cache
	var tBase, tVerify time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		baselinePass(b, path)
		t1 := time.Now()
		verifyFile(b, path)
		t2 := time.Now()
		tBase += t1.Sub(t0)
		tVerify += t2.Sub(t1)
	}
	mb := float64(fi.Size()) / 1e6 * float64(b.N)
	b.ReportMetric(mb/tBase.Seconds(), "baseline-MB/s")
	b.ReportMetric(mb/tVerify.Seconds(), "verify-MB/s")
	b.ReportMetric(tBase.Seconds()/tVerify.Seconds(), "ratio")
}
