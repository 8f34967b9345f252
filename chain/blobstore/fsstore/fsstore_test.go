package fsstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	"github.com/exhibit-forensics/exhibit/chain/blobstore/storetest"
)

// newTestStore opens a store in a fresh directory, optionally through ops,
// and closes it when the test ends.
func newTestStore(t *testing.T, ops fsOps) *Store {
	t.Helper()
	dir := t.TempDir()
	if ops == nil {
		ops = osOps{}
	}
	if r, ok := ops.(*recOps); ok {
		r.root = dir
	}
	s, err := open(t.Context(), dir, ops)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// corruptOnDisk alters blob h's file in place with edit, as a disk fault or
// an intruder would.
func corruptOnDisk(t *testing.T, s *Store, h chain.Hash, edit func(f *os.File) error) {
	t.Helper()
	p := s.path(h)
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	err = edit(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, blobMode); err != nil {
		t.Fatal(err)
	}
}

func flipFirstByte(f *os.File) error {
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, 0); err != nil {
		return err
	}
	b[0] ^= 1
	_, err := f.WriteAt(b, 0)
	return err
}

func TestConformance(t *testing.T) {
	storetest.TestWithOptions(t, func(t *testing.T) blobstore.Store { return newTestStore(t, nil) },
		storetest.Options{Corrupt: func(t *testing.T, s blobstore.Store, h chain.Hash) {
			corruptOnDisk(t, s.(*Store), h, flipFirstByte)
		}})
}

// assertNothingLeft checks that the store holds no blob file and no temp
// file.
func assertNothingLeft(t *testing.T, s *Store) {
	t.Helper()
	if ents, err := os.ReadDir(s.tmpDir); err != nil || len(ents) != 0 {
		t.Fatalf("tmp directory holds %v (err %v), want nothing", ents, err)
	}
	err := filepath.WalkDir(s.blobDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			t.Errorf("blob tree holds %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := s.Enumerate(t.Context(), chain.Hash{}, func(blobstore.Info) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("Enumerate visited %d blobs (err %v), want 0", n, err)
	}
}

func TestLayout(t *testing.T) {
	s := newTestStore(t, nil)
	b := []byte("hello")
	h := chain.Sum(b)
	if _, err := s.Receive(t.Context(), h, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(s.Dir(), "sha256", "2c", "f2", "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
	fi, err := os.Stat(want)
	if err != nil {
		t.Fatalf("blob not at %s: %v", want, err)
	}
	if fi.Mode().Perm() != 0o444 {
		t.Errorf("blob mode = %v, want 0444", fi.Mode().Perm())
	}
	got, err := os.ReadFile(want)
	if err != nil || !bytes.Equal(got, b) {
		t.Fatalf("blob file = %q, %v", got, err)
	}
}

// TestNeverOverwrites checks that storing bytes already present leaves the
// original file (same inode) in place, and that a Receive of a stored blob
// writes nothing at all.
func TestNeverOverwrites(t *testing.T) {
	ops := &recOps{base: osOps{}}
	s := newTestStore(t, ops)
	b := bytes.Repeat([]byte("x"), 3<<20)
	h := chain.Sum(b)
	if _, err := s.Ingest(t.Context(), bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(s.path(h))
	if err != nil {
		t.Fatal(err)
	}

	n := len(ops.steps())
	if _, err := s.Receive(t.Context(), h, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	if got, want := ops.steps()[n:], []string{"fsyncdir sha256/" + h.Hex()[:2] + "/" + h.Hex()[2:4]}; !slices.Equal(got, want) {
		t.Errorf("Receive of a stored blob did %q, want only %q", got, want)
	}

	if _, err := s.Ingest(t.Context(), bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(s.path(h))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Fatal("storing the blob again replaced its file")
	}
	if ents, _ := os.ReadDir(s.tmpDir); len(ents) != 0 {
		t.Fatalf("temp files left after a duplicate Ingest: %v", ents)
	}
}

func TestStaleTempCleanup(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	b := []byte("kept")
	info, err := s.Ingest(t.Context(), bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// What a crash mid-write leaves behind.
	tmp := filepath.Join(dir, "tmp")
	if err := os.WriteFile(filepath.Join(tmp, "blob-123.tmp"), []byte("partial"), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(tmp, "odd", "deeper"), 0o750); err != nil {
		t.Fatal(err)
	}

	s, err = Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ents, err := os.ReadDir(tmp); err != nil || len(ents) != 0 {
		t.Fatalf("after Open, tmp holds %v (err %v)", ents, err)
	}
	if got, err := s.Stat(t.Context(), info.Hash); err != nil || got != info {
		t.Fatalf("blob lost across reopen: %v, %v", got, err)
	}
}

func TestLockAndClose(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	// A second Store on the same directory (another process, in effect)
	// opens, shares it, and does not sweep the first one's temp files.
	live := filepath.Join(dir, tmpDir, "live-writer.tmp")
	if err := os.WriteFile(live, []byte("in progress"), 0o600); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatalf("second Open of a directory in use: %v", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Fatalf("second Open swept a live writer's temp file: %v", err)
	}
	info, err := s2.Ingest(t.Context(), bytes.NewReader([]byte("shared")))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Stat(t.Context(), info.Hash); err != nil || got != info {
		t.Fatalf("blob written by the second Store not seen by the first: %v %v", got, err)
	}
	s2.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Alone again, a new Store sweeps the (now stale) temp file.
	s3, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(live); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stale temp file not swept by a lone Open: %v", err)
	}
	s3.Close()
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
	h := chain.Sum(nil)
	if _, err := s.Stat(t.Context(), h); !errors.Is(err, ErrClosed) {
		t.Fatalf("Stat after Close = %v, want ErrClosed", err)
	}
	if _, err := s.Ingest(t.Context(), bytes.NewReader(nil)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Ingest after Close = %v, want ErrClosed", err)
	}
	s4, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatalf("Open after Close = %v", err)
	}
	s4.Close()
}

// TestEnumerateIgnoresStrays puts files that do not follow the layout in
// the blob tree: Enumerate lists only the real blob.
func TestEnumerateIgnoresStrays(t *testing.T) {
	s := newTestStore(t, nil)
	b := []byte("hello")
	info, err := s.Ingest(t.Context(), bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	other := chain.Sum([]byte("other")).Hex()
	strays := []string{
		"zz/00/file",
		"2c/zz/file",
		"2c/f2/" + strings.ToUpper(info.Hash.Hex()[:10]) + info.Hash.Hex()[10:],
		"2c/f2/" + other,      // valid name, wrong shard
		"2c/f2/short",         // not a hash
		"2c/f2/.hidden",       // not a hash
		"2c/f2c/" + other,     // shard name too long
		"README",              // file at the top
		other[:2] + "/" + "x", // not a shard directory
	}
	for _, p := range strays {
		full := filepath.Join(s.blobDir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("stray"), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	dirBlob := chain.Sum([]byte("a directory")).Hex()
	if err := os.MkdirAll(filepath.Join(s.blobDir, dirBlob[:2], dirBlob[2:4], dirBlob), 0o750); err != nil {
		t.Fatal(err)
	}
	var got []blobstore.Info
	if err := s.Enumerate(t.Context(), chain.Hash{}, func(in blobstore.Info) error {
		got = append(got, in)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []blobstore.Info{info}) {
		t.Fatalf("Enumerate = %v, want only %v", got, info)
	}
}

// TestCheckOnDisk alters blob files behind the store's back in several
// ways; blobstore.Check catches each.
func TestCheckOnDisk(t *testing.T) {
	edits := []struct {
		name string
		edit func(f *os.File) error
	}{
		{"flip first byte", flipFirstByte},
		{"flip last byte", func(f *os.File) error {
			b := make([]byte, 1)
			off := int64(2<<20 + 10)
			if _, err := f.ReadAt(b, off); err != nil {
				return err
			}
			b[0] ^= 0x80
			_, err := f.WriteAt(b, off)
			return err
		}},
		{"truncate", func(f *os.File) error { return f.Truncate(1000) }},
		{"append", func(f *os.File) error {
			_, err := f.WriteAt([]byte("!"), 2<<20+11)
			return err
		}},
		{"emptied", func(f *os.File) error { return f.Truncate(0) }},
	}
	for _, tt := range edits {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t, nil)
			b := bytes.Repeat([]byte("evidence"), (2<<20+11)/8+1)[:2<<20+11]
			info, err := s.Ingest(t.Context(), bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if err := blobstore.Check(t.Context(), s, info.Hash); err != nil {
				t.Fatalf("Check before the edit = %v", err)
			}
			corruptOnDisk(t, s, info.Hash, tt.edit)
			if err := blobstore.Check(t.Context(), s, info.Hash); !errors.Is(err, blobstore.ErrCorrupt) {
				t.Fatalf("Check after %s = %v, want ErrCorrupt", tt.name, err)
			}
		})
	}
}

// patternReader yields n bytes of a cheap repeating pattern without holding
// them in memory.
type patternReader struct{ n, off int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	if rem := p.n - p.off; int64(len(b)) > rem {
		b = b[:rem]
	}
	for i := range b {
		b[i] = byte((p.off + int64(i)) * 131 >> 3)
	}
	p.off += int64(len(b))
	return len(b), nil
}

// TestIngestStreams checks that an ingest allocates a bounded amount of
// memory whatever its size: storing 64 MiB must allocate well under the
// 64 MiB a whole-file buffer would need.
func TestIngestStreams(t *testing.T) {
	s := newTestStore(t, nil)
	const size = 64 << 20
	const budget = bufCount*bufSize + 4<<20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	info, err := s.Ingest(t.Context(), &patternReader{n: size})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != size {
		t.Fatalf("Ingest stored %d bytes, want %d", info.Size, size)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > budget {
		t.Fatalf("ingesting %d MiB allocated %d bytes, budget %d", size>>20, alloc, budget)
	}
	if err := blobstore.Check(t.Context(), s, info.Hash); err != nil {
		t.Fatal(err)
	}
}

func TestRenameNoReplace(t *testing.T) {
	for name, rename := range map[string]func(string, string) error{
		"renameNoReplace": renameNoReplace,
		"linkRename":      linkRename,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			a, b, c := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")
			for p, content := range map[string]string{a: "A", c: "C"} {
				if err := os.WriteFile(p, []byte(content), 0o444); err != nil {
					t.Fatal(err)
				}
			}
			if err := rename(a, b); err != nil {
				t.Fatalf("rename to a free name = %v", err)
			}
			if _, err := os.Stat(a); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("source still present after rename: %v", err)
			}
			if err := rename(b, c); !errors.Is(err, fs.ErrExist) {
				t.Fatalf("rename onto an existing name = %v, want fs.ErrExist", err)
			}
			if got, _ := os.ReadFile(c); string(got) != "C" {
				t.Fatalf("existing target was replaced: %q", got)
			}
			if got, _ := os.ReadFile(b); string(got) != "A" {
				t.Fatalf("source lost after a refused rename: %q", got)
			}
		})
	}
}

func TestCancelledOpen(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Open(ctx, t.TempDir()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Open with a cancelled context = %v", err)
	}
}
