package fuzzseed

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestEncode(t *testing.T) {
	for _, c := range []struct {
		in   []any
		want string
	}{
		{[]any{[]byte("a\x00\"b\n")}, "go test fuzz v1\n[]byte(\"a\\x00\\\"b\\n\")\n"},
		{[]any{"é\xff", 7, true}, "go test fuzz v1\nstring(\"é\\xff\")\nint(7)\nbool(true)\n"},
		{[]any{uint64(1 << 63), int64(-2), uint32(3)}, "go test fuzz v1\nuint64(9223372036854775808)\nint64(-2)\nuint32(3)\n"},
		{[]any{[]byte(nil)}, "go test fuzz v1\n[]byte(\"\")\n"},
	} {
		got, err := Encode(c.in...)
		if err != nil || string(got) != c.want {
			t.Errorf("Encode(%#v) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range [][]any{nil, {1.5}, {struct{}{}}} {
		if _, err := Encode(bad...); err == nil {
			t.Errorf("Encode(%#v) accepted", bad)
		}
	}
}

// Decode reads back what Encode writes, value for value and type for type.
func TestDecode(t *testing.T) {
	in := []any{[]byte("a\x00\xff\n"), "é\"", 7, int64(-2), uint32(3), uint64(1 << 63), true, int8(-1), uint(9)}
	b, err := Encode(in...)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil || !reflect.DeepEqual(got, in) {
		t.Fatalf("Decode(Encode(%#v)) = %#v, %v", in, got, err)
	}
	for _, bad := range []string{"", "go test fuzz v2\nint(1)\n", "go test fuzz v1\nint(x)\n", "go test fuzz v1\nfloat64(1)\n",
		"go test fuzz v1\n[]byte(\"a)\n", "go test fuzz v1\nint 1\n"} {
		if v, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%q) = %#v", bad, v)
		}
	}
}

func TestFileName(t *testing.T) {
	// The unnamed file is named as go test -fuzz names what it finds
	// (the first 16 hex digits of the SHA-256), with the prefix.
	if got, _ := FileName("", []byte("go test fuzz v1\n[]byte(\"\")\n")); !strings.HasPrefix(got, Prefix) || len(got) != len(Prefix)+16 {
		t.Errorf("unnamed file %q", got)
	}
	if got, err := FileName("00-lf_terminated.v2", nil); err != nil || got != "seed-00-lf_terminated.v2" {
		t.Errorf("named file %q, %v", got, err)
	}
	if got, err := FileName("zip64-claims-2^40-entries", nil); err != nil || got != "seed-zip64-claims-2^40-entries" {
		t.Errorf("named file %q, %v", got, err)
	}
	for _, bad := range []string{"a b", "../x", ".hidden", "a/b", `a\b`, "a:b", "é", "tab\t"} {
		if _, err := FileName(bad, nil); err == nil {
			t.Errorf("seed name %q accepted", bad)
		}
	}
	if _, err := Generate([]Seed{{Name: "x", Args: []any{"a"}}, {Name: "x", Args: []any{"b"}}}); err == nil {
		t.Error("two different seeds with one name accepted")
	}
	if f, err := Generate([]Seed{{Args: []any{"a"}}, {Args: []any{"a"}}}); err != nil || len(f) != 1 {
		t.Errorf("a repeated seed: %v, %v", f, err)
	}
}

// tb records what Sync reports.
type tb struct {
	testing.TB
	errs []string
}

func (r *tb) Helper()                      {}
func (r *tb) Errorf(f string, args ...any) { r.errs = append(r.errs, fmt.Sprintf(f, args...)) }
func (r *tb) Fatalf(f string, args ...any) { panic(fmt.Sprintf(f, args...)) }
func (r *tb) failed(t *testing.T) string   { t.Helper(); return strings.Join(r.errs, "\n") }
func writeFile(t *testing.T, p, data string) {
	t.Helper()
	must(t, os.WriteFile(p, []byte(data), 0o644))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	must(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// Sync writes the generated files with -write-corpus, leaving inputs the
// fuzzer found; without it, it reports every kind of drift — a missing
// file, a changed one, a stale one — with the command that fixes it, and
// nothing when the corpus is in step.
func TestSync(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "go.mod"), "module example.com/m\n")
	pkg := filepath.Join(root, "a", "b")
	dir := filepath.Join(pkg, "testdata", "fuzz", "FuzzX")
	must(t, os.MkdirAll(dir, 0o755))
	t.Chdir(pkg)
	found := "go test fuzz v1\n[]byte(\"crash\")\n"
	writeFile(t, filepath.Join(dir, "0123456789abcdef"), found)
	writeFile(t, filepath.Join(dir, "seed-gone"), "go test fuzz v1\n[]byte(\"old\")\n")
	seeds := []Seed{{Name: "one", Args: []any{[]byte("1")}}, {Args: []any{[]byte("2")}}}

	*Enabled = true
	Sync(t, "FuzzX", seeds)
	*Enabled = false
	want, err := Generate(seeds)
	must(t, err)
	names := listDir(t, dir)
	if len(names) != 3 || names[0] != "0123456789abcdef" {
		t.Fatalf("after writing: %v", names)
	}
	for name, data := range want {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != string(data) {
			t.Fatalf("%s: %q, %v", name, got, err)
		}
	}

	r := &tb{TB: t}
	Sync(r, "FuzzX", seeds)
	if len(r.errs) != 0 {
		t.Fatalf("in step, yet: %s", r.failed(t))
	}

	for _, c := range []struct {
		name  string
		spoil func()
		want  string
	}{
		{"missing", func() { must(t, os.Remove(filepath.Join(dir, "seed-one"))) }, "seed-one: missing"},
		{"changed", func() { writeFile(t, filepath.Join(dir, "seed-one"), "go test fuzz v1\n[]byte(\"x\")\n") }, "seed-one: differs"},
		{"stale", func() { writeFile(t, filepath.Join(dir, "seed-old"), found) }, "seed-old: not generated by the table"},
	} {
		*Enabled = true
		Sync(t, "FuzzX", seeds)
		*Enabled = false
		c.spoil()
		r := &tb{TB: t}
		Sync(r, "FuzzX", seeds)
		msg := r.failed(t)
		if !strings.Contains(msg, c.want) || !strings.Contains(msg, "run go test ./a/b -run TestWriteCorpus -write-corpus") {
			t.Errorf("%s: reported %q", c.name, msg)
		}
	}
}

// TestEveryGeneratedCorpusIsChecked walks the module: a corpus directory
// holding generated (seed-*) files must be named in a test file of its
// package that uses this package, so that no generated corpus goes
// unchecked.
func TestEveryGeneratedCorpusIsChecked(t *testing.T) {
	root := filepath.Join("..", "..")
	checked := 0
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() || filepath.Base(filepath.Dir(path)) != "fuzz" || filepath.Base(filepath.Dir(filepath.Dir(path))) != "testdata" {
			return nil
		}
		generated, err := filepath.Glob(filepath.Join(path, Prefix+"*"))
		if err != nil || len(generated) == 0 {
			return err
		}
		pkg := filepath.Dir(filepath.Dir(filepath.Dir(path)))
		tests, err := filepath.Glob(filepath.Join(pkg, "*_test.go"))
		if err != nil {
			return err
		}
		for _, f := range tests {
			b, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			if strings.Contains(string(b), `"github.com/exhibit-forensics/exhibit/internal/fuzzseed"`) && strings.Contains(string(b), `"`+d.Name()+`"`) {
				checked++
				return filepath.SkipDir
			}
		}
		t.Errorf("%s holds generated seeds, but no test of %s passes %q to fuzzseed", path, pkg, d.Name())
		return filepath.SkipDir
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Errorf("found only %d checked corpora; is the walk looking in the right place?", checked)
	}
}

func TestPackageDir(t *testing.T) {
	if got := packageDir(); got != "./internal/fuzzseed" {
		t.Fatalf("packageDir() = %q", got)
	}
}
