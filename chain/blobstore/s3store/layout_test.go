package s3store

import (
	"bytes"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

var keyCases = []string{
	"sha256/e3/b0/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"cases/2026/sha256/e3/b0/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"sha256/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"sha256/e3/b0/E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
	"sha256/e3/b1/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"sha256/e3/b0/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
	"sha256/e3/b0/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8zz",
	"tmp/1796507988-98ec0dc9ad8ec65304b7e708",
	"",
}

func TestKeyLayout(t *testing.T) {
	s := &Store{cfg: Config{Prefix: "cases/2026/"}}
	h := chain.Sum(nil)
	k := s.Key(h)
	if k != keyCases[1] {
		t.Fatalf("Key = %q, want %q", k, keyCases[1])
	}
	for i, key := range keyCases {
		got, ok := s.parseKey(key)
		if want := i == 1; ok != want || (ok && got != h) {
			t.Errorf("parseKey(%q) = %s, %v; want ok=%v", key, got, ok, want)
		}
	}
	// Keys sort like the hashes they name.
	a, b := chain.Sum([]byte("a")), chain.Sum([]byte("b"))
	if (bytes.Compare(a[:], b[:]) < 0) != (s.Key(a) < s.Key(b)) {
		t.Fatalf("key order differs from hash order for %s, %s", a, b)
	}
}

// FuzzParseKey checks that parseKey, which reads keys listed by the
// server, accepts exactly the keys Key produces.
func FuzzParseKey(f *testing.F) {
	s := &Store{cfg: Config{Prefix: "cases/2026/"}}
	plain := &Store{}
	f.Fuzz(func(t *testing.T, key string) {
		for _, st := range []*Store{s, plain} {
			if h, ok := st.parseKey(key); ok && st.Key(h) != key {
				t.Fatalf("parseKey(%q) = %s, whose key is %q", key, h, st.Key(h))
			}
		}
	})
}

func TestWriteKeyCorpus(t *testing.T) {
	var seeds [][]any
	for _, k := range keyCases {
		seeds = append(seeds, []any{k})
	}
	fuzzseed.Write(t, "FuzzParseKey", seeds)
}

func TestPartSize(t *testing.T) {
	var total int64
	for i := 1; i <= maxParts; i++ {
		p := partSize(DefaultPartSize, i)
		if p < MinPartSize || p > MaxPartSize {
			t.Fatalf("part %d is %d bytes", i, p)
		}
		total += p
	}
	if partSize(DefaultPartSize, 1000) != DefaultPartSize || partSize(DefaultPartSize, 1001) != 2*DefaultPartSize {
		t.Fatalf("parts do not double after %d", partGrowEvery)
	}
	// 10,000 parts from 8 MiB: 1000 each of 8, 16, … 4096 MiB, and 5 GiB.
	if total < 4<<40 {
		t.Fatalf("largest blob %d bytes, want at least 4 TiB", total)
	}
	t.Logf("largest blob with %d MiB first parts: %.1f TiB", DefaultPartSize>>20, float64(total)/(1<<40))
}

// TestPartBoundaries stores blobs around the part size, where the write
// switches from one PutObject to a multipart upload, and a multipart
// upload may end with an empty read.
func TestPartBoundaries(t *testing.T) {
	srv := startServer(t)
	s := srv.newStore(t)
	for i, n := range []int{DefaultPartSize - 1, DefaultPartSize, DefaultPartSize + 1, 2 * DefaultPartSize} {
		b := randomBytes(uint64(500+i), n)
		h := chain.Sum(b)
		if info, err := s.Receive(t.Context(), h, bytes.NewReader(b)); err != nil || info.Size != int64(n) {
			t.Fatalf("Receive(%d bytes) = %v, %v", n, info, err)
		}
		b2 := randomBytes(uint64(600+i), n)
		if info, err := s.Ingest(t.Context(), bytes.NewReader(b2)); err != nil || info.Hash != chain.Sum(b2) {
			t.Fatalf("Ingest(%d bytes) = %v, %v", n, info, err)
		}
		for _, x := range []chain.Hash{h, chain.Sum(b2)} {
			if err := blobstore.Check(t.Context(), s, x); err != nil {
				t.Fatalf("%d bytes: %v", n, err)
			}
		}
	}
	if keys := objects(t, srv, s.cfg.Bucket); len(keys) != 8 {
		t.Fatalf("bucket holds %d objects, want 8: %v", len(keys), keys)
	}
	if p := pendingUploads(t, srv, s.cfg.Bucket); p != 0 {
		t.Fatalf("%d uploads pending", p)
	}
}
