package atomicfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var errInjected = errors.New("injected failure")

// recorder is the real file system, recording each step and failing the
// one named by failAt.
type recorder struct {
	osSystem
	failAt string
	steps  []string
}

func (r *recorder) step(name string) error {
	r.steps = append(r.steps, name)
	if name == r.failAt {
		return errInjected
	}
	return nil
}

func (r *recorder) CreateTemp(dir, pattern string) (file, error) {
	if err := r.step("create"); err != nil {
		return nil, err
	}
	f, err := r.osSystem.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	return &recFile{f, r}, nil
}

func (r *recorder) Rename(o, n string) error {
	if err := r.step("rename"); err != nil {
		return err
	}
	return r.osSystem.Rename(o, n)
}

func (r *recorder) Link(o, n string) error {
	if err := r.step("link"); err != nil {
		return err
	}
	return r.osSystem.Link(o, n)
}

func (r *recorder) Symlink(t, p string) error {
	if err := r.step("symlink"); err != nil {
		return err
	}
	return r.osSystem.Symlink(t, p)
}

func (r *recorder) SyncDir(dir string) error {
	if err := r.step("syncdir " + filepath.Base(dir)); err != nil {
		return err
	}
	return r.osSystem.SyncDir(dir)
}

type recFile struct {
	file
	r *recorder
}

func (f *recFile) Chmod(m fs.FileMode) error {
	if err := f.r.step("chmod"); err != nil {
		return err
	}
	return f.file.Chmod(m)
}

func (f *recFile) Sync() error {
	if err := f.r.step("sync"); err != nil {
		return err
	}
	return f.file.Sync()
}

func (f *recFile) Close() error {
	if err := f.r.step("close"); err != nil {
		f.file.Close()
		return err
	}
	return f.file.Close()
}

// use replaces the file system for one test.
func use(t *testing.T, failAt string) *recorder {
	t.Helper()
	r := &recorder{failAt: failAt}
	old := sys
	sys = r
	t.Cleanup(func() { sys = old })
	return r
}

// names lists dir, sorted.
func names(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
}

// subdir makes a directory of that name, so that the steps name it.
func subdir(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeOrFail writes half of s and then, if step is "write", fails;
// otherwise it writes the rest.
func writeOrFail(step, s string) func(io.Writer) error {
	return func(w io.Writer) error {
		if _, err := io.WriteString(w, s[:len(s)/2]); err != nil {
			return err
		}
		if step == "write" {
			return errInjected
		}
		_, err := io.WriteString(w, s[len(s)/2:])
		return err
	}
}

// The file is synced before it is moved under its name, and the directory
// after: Write renames (replacing), WriteNew links (never replacing).
func TestSteps(t *testing.T) {
	for _, c := range []struct {
		name  string
		write func(string, fs.FileMode, func(io.Writer) error) error
		move  string
	}{
		{"Write", Write, "rename"},
		{"WriteNew", WriteNew, "link"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := subdir(t, "out")
			path := filepath.Join(dir, "case.zip")
			r := use(t, "")
			if err := c.write(path, 0o600, writeString("bundle")); err != nil {
				t.Fatal(err)
			}
			want := []string{"create", "chmod", "sync", "close", c.move, "syncdir out"}
			if !slices.Equal(r.steps, want) {
				t.Fatalf("steps %q, want %q", r.steps, want)
			}
			if b, _ := os.ReadFile(path); string(b) != "bundle" {
				t.Fatalf("contents %q", b)
			}
			if got := names(t, dir); !slices.Equal(got, []string{"case.zip"}) {
				t.Fatalf("directory holds %q", got)
			}
		})
	}
}

// A failure at any step before the rename leaves the old file as it was
// and no temporary file.
func TestWriteFailureLeavesOldFile(t *testing.T) {
	for _, step := range []string{"create", "chmod", "write", "sync", "close", "rename"} {
		t.Run(step, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f")
			if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			use(t, step)
			err := Write(path, 0o600, writeOrFail(step, "new contents"))
			if !errors.Is(err, errInjected) {
				t.Fatalf("Write = %v, want the injected failure", err)
			}
			if b, _ := os.ReadFile(path); string(b) != "old" {
				t.Fatalf("after a failed Write the file holds %q", b)
			}
			if got := names(t, dir); !slices.Equal(got, []string{"f"}) {
				t.Fatalf("directory holds %q", got)
			}
		})
	}
}

// A failing writer leaves nothing at all when there was no file before.
func TestWriteFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	use(t, "")
	err := Write(filepath.Join(dir, "truth.json"), 0o600, func(w io.Writer) error {
		io.WriteString(w, "{")
		return errInjected
	})
	if err != errInjected {
		t.Fatalf("Write = %v; the writer's own error should come back as it is", err)
	}
	if got := names(t, dir); len(got) != 0 {
		t.Fatalf("directory holds %q", got)
	}
}

// If the directory cannot be synced the rename may not be durable: the
// error says so.
func TestWriteDirSyncFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	use(t, "syncdir "+filepath.Base(dir))
	err := Write(path, 0o600, writeString("x"))
	if !errors.Is(err, errInjected) || !strings.Contains(err.Error(), "sync directory") {
		t.Fatalf("Write = %v", err)
	}
}

// An existing destination is never overwritten: neither one there from
// the start (the writer is not even called) nor one that appears while the
// new file is written.
func TestWriteNewNeverOverwrites(t *testing.T) {
	t.Run("before", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "case.zip")
		os.WriteFile(path, []byte("first"), 0o600)
		use(t, "")
		called := false
		err := WriteNew(path, 0o600, func(w io.Writer) error { called = true; return nil })
		if !errors.Is(err, fs.ErrExist) || called {
			t.Fatalf("WriteNew = %v (writer called: %v), want fs.ErrExist before writing", err, called)
		}
		if b, _ := os.ReadFile(path); string(b) != "first" {
			t.Fatalf("destination now holds %q", b)
		}
	})
	t.Run("meanwhile", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "case.zip")
		use(t, "")
		err := WriteNew(path, 0o600, func(w io.Writer) error {
			// Another process takes the name while this one writes.
			if err := os.WriteFile(path, []byte("theirs"), 0o600); err != nil {
				return err
			}
			_, err := io.WriteString(w, "ours")
			return err
		})
		if !errors.Is(err, fs.ErrExist) {
			t.Fatalf("WriteNew = %v, want fs.ErrExist", err)
		}
		if b, _ := os.ReadFile(path); string(b) != "theirs" {
			t.Fatalf("destination now holds %q", b)
		}
		if got := names(t, dir); !slices.Equal(got, []string{"case.zip"}) {
			t.Fatalf("directory holds %q", got)
		}
	})
	t.Run("dangling symlink", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "case.zip")
		if err := os.Symlink(filepath.Join(dir, "nowhere"), path); err != nil {
			t.Fatal(err)
		}
		use(t, "")
		if err := WriteNew(path, 0o600, writeString("x")); !errors.Is(err, fs.ErrExist) {
			t.Fatalf("WriteNew over a dangling link = %v", err)
		}
		if _, err := os.Lstat(filepath.Join(dir, "nowhere")); !errors.Is(err, fs.ErrNotExist) {
			t.Fatal("WriteNew wrote through the link")
		}
	})
}

// A failure at any step, the directory sync included, leaves nothing
// under the final name and no temporary file.
func TestWriteNewFailureLeavesNothing(t *testing.T) {
	for _, step := range []string{"create", "chmod", "write", "sync", "close", "link", "syncdir"} {
		t.Run(step, func(t *testing.T) {
			dir := t.TempDir()
			failAt := step
			if step == "syncdir" {
				failAt = "syncdir " + filepath.Base(dir)
			}
			use(t, failAt)
			err := WriteNew(filepath.Join(dir, "case.zip"), 0o600, writeOrFail(step, "bundle"))
			if !errors.Is(err, errInjected) {
				t.Fatalf("WriteNew = %v", err)
			}
			if got := names(t, dir); len(got) != 0 {
				t.Fatalf("directory holds %q", got)
			}
		})
	}
}

// The mode is the one asked for, and contents meant for the owner alone
// are never readable by others, not even while being written.
func TestMode(t *testing.T) {
	for _, perm := range []fs.FileMode{0o600, 0o644, 0o400} {
		dir := t.TempDir()
		path := filepath.Join(dir, "device.key")
		use(t, "")
		err := Write(path, perm, func(w io.Writer) error {
			f, ok := w.(*recFile)
			if !ok {
				t.Fatalf("writer is %T", w)
			}
			fi, err := os.Stat(f.Name())
			if err != nil {
				return err
			}
			if fi.Mode().Perm() != perm {
				t.Errorf("while writing, mode %v, want %v", fi.Mode().Perm(), perm)
			}
			_, err = io.WriteString(w, "PRIVATE KEY")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != perm {
			t.Fatalf("mode %v (%v), want %v", fi.Mode().Perm(), err, perm)
		}
	}
}

func TestSymlink(t *testing.T) {
	dir := subdir(t, "by-id")
	link := filepath.Join(dir, "analyser")
	r := use(t, "")
	for _, target := range []string{"/dev/pts/7", "/dev/pts/9"} {
		if err := Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		if got, err := os.Readlink(link); err != nil || got != target {
			t.Fatalf("link -> %q (%v), want %q", got, err, target)
		}
	}
	want := []string{"symlink", "rename", "syncdir by-id", "symlink", "rename", "syncdir by-id"}
	if !slices.Equal(r.steps, want) {
		t.Fatalf("steps %q, want %q", r.steps, want)
	}
	if got := names(t, dir); !slices.Equal(got, []string{"analyser"}) {
		t.Fatalf("directory holds %q", got)
	}
	// A failed re-point keeps the old link and leaves no temporary one.
	r.failAt = "rename"
	if err := Symlink("/dev/pts/11", link); !errors.Is(err, errInjected) {
		t.Fatalf("Symlink = %v", err)
	}
	if got, _ := os.Readlink(link); got != "/dev/pts/9" {
		t.Fatalf("link -> %q after a failed re-point", got)
	}
	if got := names(t, dir); !slices.Equal(got, []string{"analyser"}) {
		t.Fatalf("directory holds %q", got)
	}
}

func TestSyncDir(t *testing.T) {
	dir := subdir(t, "keys")
	r := use(t, "")
	if err := SyncDir(dir); err != nil {
		t.Fatal(err)
	}
	r.failAt = "syncdir keys"
	err := SyncDir(dir)
	if want := []string{"syncdir keys", "syncdir keys"}; !slices.Equal(r.steps, want) || !errors.Is(err, errInjected) {
		t.Fatalf("steps %q, error %v", r.steps, err)
	}
	if err := SyncDir(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("SyncDir of a missing directory succeeded")
	}
}

// A path without a directory is written in the working directory.
func TestRelativePath(t *testing.T) {
	t.Chdir(t.TempDir())
	r := use(t, "")
	if err := WriteNew("out.zip", 0o600, writeString("z")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile("out.zip"); string(b) != "z" || r.steps[len(r.steps)-1] != "syncdir ." {
		t.Fatalf("contents %q, steps %q", b, r.steps)
	}
}
