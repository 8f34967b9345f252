// Package fuzzseed writes Go fuzzing seed corpora from test tables, so that
// the tables a package already tests with are committed as the corpus of its
// fuzz targets (testdata/fuzz/FuzzName/, in the "go test fuzz v1" format).
//
// A package calls Write from a test guarded by the -write-corpus flag:
//
//	go test ./chain -run TestWriteCorpus -write-corpus
package fuzzseed

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Enabled is set by the -write-corpus test flag.
var Enabled = flag.Bool("write-corpus", false, "rewrite committed fuzz seed corpora under testdata/fuzz")

// Encode renders one corpus entry whose values are strings or byte slices.
func Encode(values ...any) ([]byte, error) {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, v := range values {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(string(v)))
		case string:
			fmt.Fprintf(&b, "string(%s)\n", strconv.Quote(v))
		case int:
			fmt.Fprintf(&b, "int(%d)\n", v)
		case uint64:
			fmt.Fprintf(&b, "uint64(%d)\n", v)
		default:
			return nil, fmt.Errorf("fuzzseed: unsupported type %T", v)
		}
	}
	return []byte(b.String()), nil
}

// Write replaces testdata/fuzz/<target> with one file per entry, named by
// the hash of its contents (as `go test -fuzz` names them). It does nothing
// unless -write-corpus was given.
func Write(t testing.TB, target string, entries [][]any) {
	t.Helper()
	if !*Enabled {
		t.Skip("corpus unchanged; run with -write-corpus to rewrite it")
	}
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := Encode(e...)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		name := hex.EncodeToString(sum[:8])
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
