// Package fuzzseed keeps the committed seed corpora of Go fuzz targets
// (testdata/fuzz/FuzzName/, files in the "go test fuzz v1" format) equal to
// the test tables they are generated from, so that the tables a package
// already tests with are the seeds its fuzz targets start from, and a table
// that changes cannot leave its corpus behind unnoticed.
//
// Each package that generates a corpus has a TestWriteCorpus that calls
// Sync for each of its fuzz targets. In an ordinary test run Sync compares
// the committed files with what the tables generate now and fails on any
// difference, naming the command that rewrites them:
//
//	go test ./lab/astm/frame -run TestWriteCorpus -write-corpus
//
// (-write-corpus is the test binary's flag, not go test's, so it must come
// after the package: before it, go test takes the package for its value.)
//
// Generated files are named "seed-" followed by the name the table gives the
// entry or, if it gives none, the first 16 hex digits of the SHA-256 of the
// file. Files with any other name are inputs that `go test -fuzz` found and
// that were committed as regression tests (the fuzzer names them by the same
// hash, without the prefix): Sync neither checks nor removes them, and go
// test runs them with the seeds.
package fuzzseed

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Enabled is set by the -write-corpus test flag.
var Enabled = flag.Bool("write-corpus", false, "rewrite the committed fuzz seed corpora under testdata/fuzz from the test tables")

// Prefix starts the name of every generated corpus file.
const Prefix = "seed-"

// A Seed is one generated corpus entry.
type Seed struct {
	// Name names the file Prefix+Name; empty: Prefix and the hash of the
	// file's contents. Printable ASCII, without spaces or characters some
	// file systems refuse (<>:"/\|?*), not starting with '.'.
	Name string
	// Args are the fuzz target's arguments, in order.
	Args []any
}

// Seeds returns unnamed seeds, one per argument list.
func Seeds(args ...[]any) []Seed {
	out := make([]Seed, len(args))
	for i, a := range args {
		out[i] = Seed{Args: a}
	}
	return out
}

// Encode renders one corpus file, as `go test -fuzz` writes them.
func Encode(values ...any) ([]byte, error) {
	if len(values) == 0 {
		return nil, errors.New("fuzzseed: a corpus entry needs at least one value")
	}
	var b bytes.Buffer
	b.WriteString("go test fuzz v1\n")
	for _, v := range values {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(string(v)))
		case string:
			fmt.Fprintf(&b, "string(%s)\n", strconv.Quote(v))
		case int, int8, int16, int64, uint, uint16, uint32, uint64, bool:
			fmt.Fprintf(&b, "%T(%v)\n", v, v)
		default:
			return nil, fmt.Errorf("fuzzseed: unsupported type %T", v)
		}
	}
	return b.Bytes(), nil
}

// Decode reads the values of one corpus file of the kinds Encode writes.
func Decode(data []byte) ([]any, error) {
	text, ok := strings.CutPrefix(string(data), "go test fuzz v1\n")
	if !ok {
		return nil, errors.New("fuzzseed: not a go test fuzz v1 file")
	}
	var out []any
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		typ, lit, ok := strings.Cut(line, "(")
		if !ok || !strings.HasSuffix(lit, ")") {
			return nil, fmt.Errorf("fuzzseed: bad line %q", line)
		}
		lit = strings.TrimSuffix(lit, ")")
		var v any
		var err error
		switch typ {
		case "[]byte", "string":
			var s string
			if s, err = strconv.Unquote(lit); err == nil {
				v = s
				if typ == "[]byte" {
					v = []byte(s)
				}
			}
		case "bool":
			v, err = strconv.ParseBool(lit)
		case "int", "int8", "int16", "int64":
			var n int64
			n, err = strconv.ParseInt(lit, 10, 64)
			switch typ {
			case "int":
				v = int(n)
			case "int8":
				v = int8(n)
			case "int16":
				v = int16(n)
			default:
				v = n
			}
		case "uint", "uint16", "uint32", "uint64":
			var n uint64
			n, err = strconv.ParseUint(lit, 10, 64)
			switch typ {
			case "uint":
				v = uint(n)
			case "uint16":
				v = uint16(n)
			case "uint32":
				v = uint32(n)
			default:
				v = n
			}
		default:
			err = errors.New("unsupported type")
		}
		if err != nil {
			return nil, fmt.Errorf("fuzzseed: line %q: %w", line, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// FileName returns the name of the corpus file of a seed whose contents
// are data.
func FileName(name string, data []byte) (string, error) {
	if name == "" {
		sum := sha256.Sum256(data)
		return Prefix + hex.EncodeToString(sum[:8]), nil
	}
	if name[0] == '.' || strings.IndexFunc(name, func(r rune) bool {
		return r <= ' ' || r > '~' || strings.ContainsRune(`<>:"/\|?*`, r)
	}) >= 0 {
		return "", fmt.Errorf("fuzzseed: seed name %q: use printable ASCII without spaces or any of <>:\"/\\|?*, not starting with '.'", name)
	}
	return Prefix + name, nil
}

// Generate returns the generated corpus files of target's seeds by file
// name.
func Generate(seeds []Seed) (map[string][]byte, error) {
	files := make(map[string][]byte, len(seeds))
	for i, s := range seeds {
		b, err := Encode(s.Args...)
		if err != nil {
			return nil, fmt.Errorf("seed %d (%q): %w", i, s.Name, err)
		}
		name, err := FileName(s.Name, b)
		if err != nil {
			return nil, err
		}
		if old, ok := files[name]; ok && !bytes.Equal(old, b) {
			return nil, fmt.Errorf("fuzzseed: two different seeds are both named %s", name)
		}
		files[name] = b
	}
	return files, nil
}

// Diff compares the generated files with the committed ones under dir and
// describes each difference: a generated file missing or different, or a
// committed generated file that the seeds no longer produce. Files without
// Prefix are not compared.
func Diff(dir string, want map[string][]byte) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var probs []string
	have := map[string]bool{}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, Prefix) {
			continue
		}
		have[name] = true
		w, ok := want[name]
		if !ok {
			probs = append(probs, name+": not generated by the table (stale)")
			continue
		}
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(got, w) {
			probs = append(probs, name+": differs from what the table generates")
		}
	}
	for name := range want {
		if !have[name] {
			probs = append(probs, name+": missing")
		}
	}
	sort.Strings(probs)
	return probs, nil
}

// write replaces the generated files under dir, leaving the others.
func write(dir string, want map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), Prefix) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	for name, b := range want {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Sync keeps testdata/fuzz/<target> (relative to the package under test)
// equal to seeds: with -write-corpus it rewrites the generated files;
// otherwise it fails t if they differ, with the command that rewrites them.
func Sync(t testing.TB, target string, seeds []Seed) {
	t.Helper()
	want, err := Generate(seeds)
	if err != nil {
		t.Fatalf("%s: %v", target, err)
	}
	if len(want) == 0 {
		t.Fatalf("%s: the table generates no seeds", target)
	}
	dir := filepath.Join("testdata", "fuzz", target)
	if *Enabled {
		if err := write(dir, want); err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		return
	}
	probs, err := Diff(dir, want)
	if err != nil {
		t.Fatalf("%s: %v", target, err)
	}
	if len(probs) > 0 {
		const show = 10
		more := ""
		if len(probs) > show {
			more = fmt.Sprintf("\n\t… and %d more", len(probs)-show)
			probs = probs[:show]
		}
		t.Errorf("the committed fuzz corpus %s is out of step with its table:\n\t%s%s\nrun go test %s -run TestWriteCorpus -write-corpus",
			dir, strings.Join(probs, "\n\t"), more, packageDir())
	}
}

// packageDir names the package under test as a path from the module root
// ("./lab/astm/frame"), for the command in a failure message; "." if the
// module root cannot be found.
func packageDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			rel, err := filepath.Rel(d, wd)
			if err != nil || rel == "." {
				return "."
			}
			return "./" + filepath.ToSlash(rel)
		}
		if filepath.Dir(d) == d {
			return "."
		}
	}
}

// Write is Sync with unnamed seeds, one per argument list.
func Write(t testing.TB, target string, entries [][]any) {
	t.Helper()
	Sync(t, target, Seeds(entries...))
}
