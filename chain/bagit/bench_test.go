package bagit

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The validation target: Validate must reach at least 85 % of the
// throughput of BenchmarkSinglePassBaseline, one read of the same payload
// bytes through SHA-256 and SHA-512 (io.MultiWriter, one goroutine).
// Compare the two MB/s figures, or read ratio-% from
// BenchmarkValidateVsBaseline, which alternates the two within each
// iteration so that a shared machine's changing load hits both alike.
// BAGIT_BENCH_MIB sets the payload size (default 256; 1024 for the 1 GiB
// check). The bag is written once per process to a temporary file.

var benchBag struct {
	once sync.Once
	dir  string
	path string
	size int64
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchBag.dir != "" {
		os.RemoveAll(benchBag.dir)
	}
	os.Exit(code)
}

// randReader yields deterministic incompressible bytes.
type randReader struct{ r *rand.ChaCha8 }

func (r randReader) Read(p []byte) (int, error) { return r.r.Read(p) }

// openBenchBag writes (once) a bag of four stored payload files totalling
// BAGIT_BENCH_MIB MiB to a temporary file and opens it.
func openBenchBag(b *testing.B) (*Bag, *os.File, int64) {
	benchBag.once.Do(func() {
		mib := 256
		if s := os.Getenv("BAGIT_BENCH_MIB"); s != "" {
			if n, err := strconv.Atoi(s); err == nil && n > 0 {
				mib = n
			}
		}
		benchBag.size = int64(mib) << 20
		benchBag.dir, benchBag.err = os.MkdirTemp("", "bagit-bench-")
		if benchBag.err != nil {
			return
		}
		benchBag.path = filepath.Join(benchBag.dir, "bench.zip")
		f, err := os.Create(benchBag.path)
		if err != nil {
			benchBag.err = err
			return
		}
		defer f.Close()
		bw := bufio.NewWriterSize(f, 1<<20)
		w := NewZipWriter(bw, "bench", Options{Time: testTime})
		for i := range 4 {
			var seed [32]byte
			seed[0] = byte(i)
			r := io.LimitReader(randReader{rand.NewChaCha8(seed)}, benchBag.size/4)
			if _, err := w.AddPayload(context.Background(), fmt.Sprintf("data/originals/img-%d.tiff", i), r, false); err != nil {
				benchBag.err = err
				return
			}
		}
		if err := w.Close(); err != nil {
			benchBag.err = err
			return
		}
		benchBag.err = bw.Flush()
	})
	if benchBag.err != nil {
		b.Fatal(benchBag.err)
	}
	f, err := os.Open(benchBag.path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		b.Fatal(err)
	}
	bag, err := OpenZip(f, st.Size(), Limits{})
	if err != nil {
		b.Fatal(err)
	}
	return bag, f, benchBag.size
}

func BenchmarkValidate(b *testing.B) {
	bag, _, size := openBenchBag(b)
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		rep, err := bag.Validate(context.Background())
		if err != nil || !rep.Valid() {
			b.Fatalf("Validate: %v %v", err, rep.Err())
		}
	}
}

// BenchmarkSinglePassBaseline reads each payload file's bytes once from
// the same file and feeds them to SHA-256 and SHA-512 in turn.
func BenchmarkSinglePassBaseline(b *testing.B) {
	bag, f, size := openBenchBag(b)
	buf := make([]byte, chunkSize)
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		baselinePass(b, bag, f, buf)
	}
}

func baselinePass(b *testing.B, bag *Bag, f *os.File, buf []byte) {
	for _, bf := range bag.files {
		if bf.path[:5] != "data/" {
			continue
		}
		off, err := bf.zf.DataOffset()
		if err != nil {
			b.Fatal(err)
		}
		h256, h512 := sha256.New(), sha512.New()
		sr := io.NewSectionReader(f, off, int64(bf.zf.UncompressedSize64))
		if _, err := io.CopyBuffer(io.MultiWriter(h256, h512), sr, buf); err != nil {
			b.Fatal(err)
		}
		h256.Sum(nil)
		h512.Sum(nil)
	}
}

// BenchmarkValidateVsBaseline alternates one Validate and one baseline
// pass per iteration, so that both see the same machine load, and reports
// both throughputs and their ratio (the target is ≥ 85 %).
func BenchmarkValidateVsBaseline(b *testing.B) {
	bag, f, size := openBenchBag(b)
	buf := make([]byte, chunkSize)
	var tv, tb time.Duration
	for b.Loop() {
		start := time.Now()
		rep, err := bag.Validate(context.Background())
		if err != nil || !rep.Valid() {
			b.Fatalf("Validate: %v %v", err, rep.Err())
		}
		mid := time.Now()
		baselinePass(b, bag, f, buf)
		tv += mid.Sub(start)
		tb += time.Since(mid)
	}
	mb := float64(size) * float64(b.N) / 1e6
	b.ReportMetric(mb/tv.Seconds(), "validate-MB/s")
	b.ReportMetric(mb/tb.Seconds(), "baseline-MB/s")
	b.ReportMetric(100*tb.Seconds()/tv.Seconds(), "ratio-%")
}

// BenchmarkWrite measures AddPayload of 64 MiB (stored) to io.Discard.
func BenchmarkWrite(b *testing.B) {
	const size = 64 << 20
	b.SetBytes(size)
	for b.Loop() {
		w := NewZipWriter(io.Discard, "bench", Options{Time: testTime})
		var seed [32]byte
		r := io.LimitReader(randReader{rand.NewChaCha8(seed)}, size)
		if _, err := w.AddPayload(context.Background(), "data/x.tiff", r, false); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
