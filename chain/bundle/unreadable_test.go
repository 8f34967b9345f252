package bundle

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain/bagit"
)

// unreadableInputs cannot be read as a zip archive at all: Verify returns
// ErrUnreadable (exhibit verify exits 2). They also seed FuzzVerify.
func unreadableInputs(t testing.TB) map[string][]byte {
	f := newFixture(t)
	z := f.zip
	return map[string][]byte{
		"empty":                    nil,
		"one byte":                 {'P'},
		"end record only, short":   []byte("PK\x05\x06"),
		"text":                     []byte("%PDF-1.7 this is not a bundle"),
		"truncated by one byte":    z[:len(z)-1],
		"truncated to half":        z[:len(z)/2],
		"truncated before the end": z[:len(z)-23],
		"data appended":            append(bytes.Clone(z), "trailing"...),
		"data prepended":           append([]byte("garbage"), z...),
	}
}

// readableNotBundles are zip archives that could be read but are not valid
// bundles: Verify returns a Result that is not Valid (exit status 1).
func readableNotBundles(t testing.TB) map[string][]byte {
	zipOf := func(names ...string) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, n := range names {
			w, err := zw.Create(n)
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte("x"))
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	return map[string][]byte{
		"empty zip":                  zipOf(),
		"zip of one file":            zipOf("notes.txt"),
		"zip, not a bag":             zipOf("dir/notes.txt"),
		"zip slip":                   zipOf("dir/../../etc/passwd"),
		"end record with no entries": []byte("PK\x05\x06" + string(make([]byte, 18))),
	}
}

func TestUnreadableInput(t *testing.T) {
	for name, b := range unreadableInputs(t) {
		res, err := Verify(context.Background(), bytes.NewReader(b), int64(len(b)), Options{})
		if !errors.Is(err, ErrUnreadable) || !(errors.Is(err, bagit.ErrNotZip) || errors.Is(err, bagit.ErrCentralDirectory)) || res != nil {
			t.Errorf("%s: Verify = %+v, %v; want ErrUnreadable wrapping bagit.ErrNotZip or bagit.ErrCentralDirectory", name, res, err)
		}
	}
	for name, b := range readableNotBundles(t) {
		res, err := Verify(context.Background(), bytes.NewReader(b), int64(len(b)), Options{})
		if err != nil || res == nil || res.Valid || len(res.Problems) == 0 {
			t.Errorf("%s: Verify = %+v, %v; want an invalid result", name, res, err)
		}
	}
}
