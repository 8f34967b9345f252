package fsstore

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
)

// shardOf returns "sha256/ab", "sha256/ab/cd" and "sha256/ab/cd/<hex>"
// for h, as recOps logs them.
func shardOf(h chain.Hash) (d1, d2, file string) {
	x := h.Hex()
	d1 = "sha256/" + x[:2]
	d2 = d1 + "/" + x[2:4]
	return d1, d2, d2 + "/" + x
}

// sibling returns bytes whose hash shares h's two shard directories.
func sibling(t *testing.T, h chain.Hash) []byte {
	t.Helper()
	for i := range 1 << 24 {
		b := []byte("sibling " + strconv.Itoa(i))
		if g := chain.Sum(b); g[0] == h[0] && g[1] == h[1] && g != h {
			return b
		}
	}
	t.Fatal("no sibling found")
	return nil
}

// TestWriteOrder records the filesystem steps of writes and checks their
// order: data fsynced before the rename, the rename before the directory
// fsync, and new shard directories fsynced into their parents first.
func TestWriteOrder(t *testing.T) {
	ops := &recOps{base: osOps{}}
	s := newTestStore(t, ops)
	b := []byte("hello")
	h := chain.Sum(b)
	if _, err := s.Receive(t.Context(), h, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	d1, d2, file := shardOf(h)
	want := []string{
		"create tmp",
		"chmod 444",
		"write",
		"fsync tmp",
		"close tmp",
		"mkdir " + d1,
		"fsyncdir sha256",
		"mkdir " + d2,
		"fsyncdir " + d1,
		"rename tmp " + file,
		"fsyncdir " + d2,
	}
	if got := ops.steps(); !slices.Equal(got, want) {
		t.Fatalf("first write:\n got %q\nwant %q", got, want)
	}

	// A second blob in the same shards: the shard directories are known
	// durable, so only the leaf directory is fsynced.
	sib := sibling(t, h)
	n := len(ops.steps())
	info, err := s.Ingest(t.Context(), bytes.NewReader(sib))
	if err != nil {
		t.Fatal(err)
	}
	_, _, sibFile := shardOf(info.Hash)
	want = []string{"create tmp", "chmod 444", "write", "fsync tmp", "close tmp", "rename tmp " + sibFile, "fsyncdir " + d2}
	if got := ops.steps()[n:]; !slices.Equal(got, want) {
		t.Fatalf("write into existing shards:\n got %q\nwant %q", got, want)
	}

	// A large write streams in several writes, all before the fsync.
	n = len(ops.steps())
	big := bytes.Repeat([]byte{7}, 3*bufSize+1)
	if _, err := s.Ingest(t.Context(), bytes.NewReader(big)); err != nil {
		t.Fatal(err)
	}
	got := ops.steps()[n:]
	if c := strings.Count(strings.Join(got, "\n"), "write"); c != 4 {
		t.Errorf("a %d-byte write took %d writes, want 4: %q", len(big), c, got)
	}
	if i, j := slices.Index(got, "fsync tmp"), slices.Index(got, "write"); i < j || slices.Contains(got[i:], "write") {
		t.Errorf("writes after the fsync: %q", got)
	}
}

// TestFailures fails each step of a write in turn and checks that the
// write reports the failure and leaves no blob and no temp file.
func TestFailures(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), (3*bufSize+100)/16)
	h := chain.Sum(data)
	d1, d2, file := shardOf(h)
	// nth returns a constructor of a predicate that matches the nth
	// occurrence of step.
	nth := func(step string, n int) func() func(string) bool {
		return func() func(string) bool {
			seen := 0
			return func(s string) bool {
				if s == step {
					seen++
					return seen == n
				}
				return false
			}
		}
	}
	is := func(step string) func() func(string) bool { return nth(step, 1) }
	allDirs := []string{"mkdir " + d1, "fsyncdir sha256", "mkdir " + d2, "fsyncdir " + d1}
	leafDirs := allDirs[2:]
	tests := []struct {
		name string
		fail func() func(string) bool
		err  error // injected instead of errInjected; nil for errInjected
		// retryDirs are the shard directory steps a retry must take: those
		// the failed attempt did not complete.
		retryDirs []string
	}{
		{"create", is("create tmp"), nil, allDirs},
		{"chmod", is("chmod 444"), nil, allDirs},
		{"first write", is("write"), nil, allDirs},
		{"third write", nth("write", 3), nil, allDirs},
		{"last write", nth("write", 4), nil, allDirs},
		{"fsync", is("fsync tmp"), nil, allDirs},
		{"fsync ENOSPC", is("fsync tmp"), syscall.ENOSPC, allDirs},
		{"close", is("close tmp"), nil, allDirs},
		{"mkdir shard", is("mkdir " + d1), nil, allDirs},
		{"fsync top directory", is("fsyncdir sha256"), nil, allDirs},
		{"mkdir leaf", is("mkdir " + d2), nil, leafDirs},
		{"fsync shard directory", is("fsyncdir " + d1), nil, leafDirs},
		{"rename", is("rename tmp " + file), nil, nil},
		{"fsync leaf directory", is("fsyncdir " + d2), nil, nil},
	}
	writes := []struct {
		name  string
		write func(s *Store) error
	}{
		{"Ingest", func(s *Store) error {
			_, err := s.Ingest(t.Context(), bytes.NewReader(data))
			return err
		}},
		{"Receive", func(s *Store) error {
			_, err := s.Receive(t.Context(), h, bytes.NewReader(data))
			return err
		}},
	}
	for _, tt := range tests {
		for _, w := range writes {
			t.Run(tt.name+"/"+w.name, func(t *testing.T) {
				ops := &recOps{base: osOps{}, fail: tt.fail(), err: tt.err}
				s := newTestStore(t, ops)
				err := w.write(s)
				want := tt.err
				if want == nil {
					want = errInjected
				}
				if !errors.Is(err, want) {
					t.Fatalf("%s with %s failing = %v, want %v\nsteps: %q", w.name, tt.name, err, want, ops.steps())
				}
				if !ops.failed {
					t.Fatalf("the step never ran: %q", ops.steps())
				}
				if _, err := s.Stat(t.Context(), h); !errors.Is(err, blobstore.ErrNotFound) {
					t.Fatalf("Stat after failed write = %v, want ErrNotFound", err)
				}
				assertNothingLeft(t, s)

				// The store still works afterwards, and repeats every
				// durability step the failure may have skipped.
				ops.fail = nil
				n := len(ops.steps())
				if err := w.write(s); err != nil {
					t.Fatalf("retry = %v", err)
				}
				want = nil
				wantSteps := []string{"create tmp", "chmod 444", "write", "write", "write", "write", "fsync tmp", "close tmp"}
				wantSteps = append(wantSteps, tt.retryDirs...)
				wantSteps = append(wantSteps, "rename tmp "+file, "fsyncdir "+d2)
				if got := ops.steps()[n:]; !slices.Equal(got, wantSteps) {
					t.Errorf("retry steps:\n got %q\nwant %q", got, wantSteps)
				}
				if err := blobstore.Check(t.Context(), s, h); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}
