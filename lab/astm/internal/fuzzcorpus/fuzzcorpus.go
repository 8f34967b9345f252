// Package fuzzcorpus writes seed corpora for Go fuzz tests in the
// "go test fuzz v1" file format, so that a package's table tests can be
// committed as the seeds of its fuzz targets (testdata/fuzz/FuzzName/).
package fuzzcorpus

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Encode returns the corpus file for one input of byte-slice and string
// arguments, in argument order.
func Encode(args ...any) ([]byte, error) {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(string(v)))
		case string:
			fmt.Fprintf(&b, "string(%s)\n", strconv.Quote(v))
		case bool:
			fmt.Fprintf(&b, "bool(%v)\n", v)
		case int:
			fmt.Fprintf(&b, "int(%d)\n", v)
		default:
			return nil, fmt.Errorf("fuzzcorpus: unsupported argument type %T", a)
		}
	}
	return []byte(b.String()), nil
}

// Write writes one file per input into testdata/fuzz/<target> under dir,
// named by the SHA-256 of its contents. Other files there (inputs the fuzzer
// found) are left alone.
func Write(dir, target string, inputs [][]any) error {
	d := filepath.Join(dir, "testdata", "fuzz", target)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	for _, in := range inputs {
		b, err := Encode(in...)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		if err := os.WriteFile(filepath.Join(d, hex.EncodeToString(sum[:8])), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Count returns the number of corpus files committed for target under dir.
func Count(dir, target string) int {
	ents, err := os.ReadDir(filepath.Join(dir, "testdata", "fuzz", target))
	if err != nil {
		return 0
	}
	return len(ents)
}
