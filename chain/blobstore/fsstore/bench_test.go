package fsstore

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
)

// Benchmarks of a blob write from a file, against the sequential baseline
// the issue names (hash and write in one io.Copy through a MultiWriter, then
// fsync). Both read the same source file, which is in the page cache after
// the first iteration, and write to the same filesystem, so the difference
// is the pipeline. Run, for example:
//
//	go test -run '^$' -bench 'Ingest|Receive|Baseline' -benchtime 5x -count 5 ./chain/blobstore/fsstore/
//
// Each benchmark reports MB/s and the process's peak RSS so far
// (peak-RSS-MiB; run a single benchmark to attribute it).

var benchSizes = []int64{256 << 20, 1 << 30}

// benchDir holds the source files; TestMain removes it.
var benchDir string

// sources caches one source file per size.
var sources = map[int64]string{}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// benchSource returns a file of size pseudo-random bytes, written in
// 1 MiB pieces so making it does not itself need the memory.
func benchSource(b *testing.B, size int64) string {
	b.Helper()
	if p, ok := sources[size]; ok {
		return p
	}
	if benchDir == "" {
		d, err := os.MkdirTemp("", "fsstore-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchDir = d
	}
	p := filepath.Join(benchDir, fmt.Sprintf("src-%d", size))
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.NewChaCha8([32]byte{'b', 'e', 'n', 'c', 'h'})
	buf := make([]byte, 1<<20)
	for left := size; left > 0; left -= int64(len(buf)) {
		rng.Read(buf)
		if _, err := f.Write(buf[:min(left, int64(len(buf)))]); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	sources[size] = p
	return p
}

func sizeName(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%dGiB", n>>30)
	}
	return fmt.Sprintf("%dMiB", n>>20)
}

// benchWrite runs write on the source file each iteration and removes the
// result (untimed) so every iteration stores a new blob.
func benchWrite(b *testing.B, write func(s *Store, src *os.File, want chain.Hash) (chain.Hash, error)) {
	for _, size := range benchSizes {
		b.Run(sizeName(size), func(b *testing.B) {
			path := benchSource(b, size)
			s, err := Open(b.Context(), b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			want := fileHash(b, path)
			b.SetBytes(size)
			b.ResetTimer()
			for b.Loop() {
				src, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				got, err := write(s, src, want)
				src.Close()
				if err != nil {
					b.Fatal(err)
				}
				if got != want {
					b.Fatalf("stored as %s, want %s", got, want)
				}
				b.StopTimer()
				if err := s.Remove(b.Context(), got); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
		})
	}
}

func fileHash(b *testing.B, path string) chain.Hash {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	h := chain.NewHasher()
	if _, err := io.Copy(h, f); err != nil {
		b.Fatal(err)
	}
	return chain.HashOf(h)
}

func BenchmarkIngest(b *testing.B) {
	benchWrite(b, func(s *Store, src *os.File, _ chain.Hash) (chain.Hash, error) {
		info, err := s.Ingest(b.Context(), src)
		return info.Hash, err
	})
}

func BenchmarkReceive(b *testing.B) {
	benchWrite(b, func(s *Store, src *os.File, want chain.Hash) (chain.Hash, error) {
		info, err := s.Receive(b.Context(), want, src)
		return info.Hash, err
	})
}

// BenchmarkBaselineSequential hashes and writes in one sequential
// io.Copy through an io.MultiWriter, then fsyncs: no rename, no directory
// fsync, so it does less than a store write.
func BenchmarkBaselineSequential(b *testing.B) {
	benchWrite(b, func(s *Store, src *os.File, _ chain.Hash) (chain.Hash, error) {
		f, err := os.CreateTemp(s.tmpDir, "baseline-*")
		if err != nil {
			return chain.Hash{}, err
		}
		defer os.Remove(f.Name())
		h := chain.NewHasher()
		if _, err := io.Copy(io.MultiWriter(h, f), src); err != nil {
			f.Close()
			return chain.Hash{}, err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return chain.Hash{}, err
		}
		return chain.HashOf(h), f.Close()
	})
}

// BenchmarkNoSync isolates the CPU side, where overlapping pays: the same
// source file is hashed and written to a temp file without fsync (page
// cache only, removed after each iteration), once through pump and once
// through the sequential io.Copy(io.MultiWriter(hash, file)).
func BenchmarkNoSync(b *testing.B) {
	const size = 256 << 20
	copies := map[string]func(src io.Reader, f *os.File) (chain.Hash, error){
		"Pipelined": func(src io.Reader, f *os.File) (chain.Hash, error) {
			h, _, err := pump(b.Context(), src, f)
			return h, err
		},
		"Sequential": func(src io.Reader, f *os.File) (chain.Hash, error) {
			h := chain.NewHasher()
			_, err := io.Copy(io.MultiWriter(h, f), src)
			return chain.HashOf(h), err
		},
	}
	for _, name := range []string{"Pipelined", "Sequential"} {
		b.Run(name, func(b *testing.B) {
			path := benchSource(b, size)
			dir := b.TempDir()
			b.SetBytes(size)
			for b.Loop() {
				src, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				f, err := os.CreateTemp(dir, "nosync-*")
				if err != nil {
					b.Fatal(err)
				}
				_, err = copies[name](src, f)
				src.Close()
				f.Close()
				os.Remove(f.Name())
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// copySink stands in for the page cache: it copies what it is given.
type copySink struct{ buf []byte }

func (s *copySink) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		p = p[copy(s.buf, p):]
	}
	return n, nil
}

// BenchmarkCPU takes the filesystem out entirely: 64 MiB from memory,
// hashed and copied into a sink, pipelined versus sequential. With SHA-256
// in hardware (SHA-NI, about 1.6–2 GB/s) the hash dominates, so overlap can
// hide only the copy, and only when a second core is free.
func BenchmarkCPU(b *testing.B) {
	src := make([]byte, 64<<20)
	rand.NewChaCha8([32]byte{}).Read(src)
	b.Run("Pipelined", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			if _, _, err := pump(b.Context(), bytes.NewReader(src), &copySink{buf: make([]byte, 1<<20)}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Sequential", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			h := chain.NewHasher()
			if _, err := io.Copy(io.MultiWriter(h, &copySink{buf: make([]byte, 1<<20)}), bytes.NewReader(src)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
