package bundle

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// hostileZip writes entries with the given names and contents; method is
// zip.Store or zip.Deflate; flags may mark names as non-UTF-8.
func hostileZip(t *testing.T, files []struct {
	name string
	data []byte
}, method uint16, nonUTF8 bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: method, NonUTF8: nonUTF8, Modified: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(f.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withEntries returns the fixture's entries with one more (or replaced).
func withEntries(t *testing.T, extra ...entry) []struct {
	name string
	data []byte
} {
	f := newFixture(t)
	var out []struct {
		name string
		data []byte
	}
	for _, e := range f.entries {
		out = append(out, struct {
			name string
			data []byte
		}{e.name, e.data})
	}
	for _, e := range extra {
		out = append(out, struct {
			name string
			data []byte
		}{e.name, e.data})
	}
	return out
}

// TestHostileBundles: each kind of hostile or broken input is refused with
// a problem that says what is wrong and where, and nothing panics.
func TestHostileBundles(t *testing.T) {
	f := newFixture(t)
	base := f.entries[0].name[:strings.Index(f.entries[0].name, "/")+1]
	bomb := bytes.Repeat([]byte{0}, 300<<20) // 300 MiB of zeros deflate to ~300 KiB
	cases := []struct {
		name string
		zip  func() []byte
		want string
	}{
		{"zip slip", func() []byte {
			return hostileZip(t, withEntries(t, entry{base + "../../etc/cron.d/evil", []byte("x")}), zip.Deflate, false)
		}, "../../etc/cron.d/evil"},
		{"absolute path", func() []byte {
			return hostileZip(t, withEntries(t, entry{"/etc/passwd", []byte("x")}), zip.Deflate, false)
		}, "/etc/passwd"},
		{"backslash path", func() []byte {
			return hostileZip(t, withEntries(t, entry{base + `data\..\..\evil`, []byte("x")}), zip.Deflate, false)
		}, `evil`},
		{"duplicate entry", func() []byte {
			return hostileZip(t, withEntries(t, entry{f.entries[1].name, []byte("a second copy")}), zip.Deflate, false)
		}, rel(f.entries[1].name)},
		{"case-colliding entry", func() []byte {
			return hostileZip(t, withEntries(t, entry{base + "data/exhibits/JS-1/STATEMENT.PDF", []byte("x")}), zip.Deflate, false)
		}, "duplicate"},
		{"compression bomb", func() []byte {
			return hostileZip(t, withEntries(t, entry{base + "data/bomb.bin", bomb}), zip.Deflate, false)
		}, "data/bomb.bin"},
		{"name not UTF-8", func() []byte {
			return hostileZip(t, withEntries(t, entry{base + "data/\xff\xfe.txt", []byte("x")}), zip.Deflate, true)
		}, "UTF-8"},
		{"two top-level directories", func() []byte {
			return hostileZip(t, withEntries(t, entry{"other-bag/bagit.txt", []byte("x")}), zip.Deflate, false)
		}, "other-bag"},
		{"not a zip", func() []byte { return []byte("%PDF-1.7 this is not a bundle") }, "zip"},
		{"manifest lists a file twice", func() []byte {
			es := append([]entry(nil), f.entries...)
			for i, e := range es {
				if rel(e.name) == "manifest-sha256.txt" {
					lines := strings.SplitAfter(string(e.data), "\n")
					es[i].data = []byte(string(e.data) + lines[0])
				}
			}
			return rezip(t, retag(es))
		}, "manifest-sha256.txt"},
		{"manifest misses a file", func() []byte {
			es := append([]entry(nil), f.entries...)
			for i, e := range es {
				if rel(e.name) == "manifest-sha256.txt" {
					lines := strings.SplitAfter(string(e.data), "\n")
					es[i].data = []byte(strings.Join(lines[1:], ""))
				}
			}
			return rezip(t, retag(es))
		}, "manifest-sha256.txt"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.zip()
			res, err := Verify(context.Background(), bytes.NewReader(b), int64(len(b)), Options{})
			if err != nil {
				// Not readable as a zip at all (exit status 2).
				if !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v, want ErrUnreadable mentioning %q", err, tt.want)
				}
				return
			}
			if res.Valid {
				t.Fatal("accepted")
			}
			if !strings.Contains(names(res), tt.want) {
				t.Fatalf("problems do not mention %q:\n%s", tt.want, names(res))
			}
		})
	}
}

// retag recomputes only the tag manifests, so that a doctored payload
// manifest is not caught merely by its own digest.
func retag(entries []entry) []entry {
	full := remanifest(entries)
	out := append([]entry(nil), entries...)
	for i, e := range out {
		if strings.Contains(e.name, "/tagmanifest-") {
			for _, g := range full {
				if g.name == e.name {
					out[i].data = g.data
				}
			}
		}
	}
	return out
}
