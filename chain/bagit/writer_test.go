package bagit

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	w := NewZipWriter(&buf, "bundle-24-0815", Options{Time: testTime})
	for _, f := range samplePayload() {
		d, err := w.AddPayload(ctx, f.path, bytes.NewReader(f.body), f.compress)
		if err != nil {
			t.Fatalf("AddPayload(%q): %v", f.path, err)
		}
		s512 := sha512.Sum512(f.body)
		if d.Size != int64(len(f.body)) || d.SHA256 != sha256.Sum256(f.body) || d.SHA512 != s512 || d.SHA512Hex() != hex.EncodeToString(s512[:]) {
			t.Errorf("%s: Digests = size %d %x…, want size %d %x…", f.path, d.Size, d.SHA256[:4], len(f.body), sha256.Sum256(f.body))
		}
	}
	must(t, w.AddInfo("Source-Organization", "Example Constabulary"))
	must(t, w.AddInfo("Contact-Name", "J Smith"))
	must(t, w.AddInfo("Contact-Name", "A Jones"))
	must(t, w.AddTagFile("exhibit/profile.txt", []byte("v1\n")))
	must(t, w.Close())

	bag, err := openBytes(buf.Bytes(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if bag.BaseDir() != "bundle-24-0815" {
		t.Errorf("BaseDir = %q", bag.BaseDir())
	}
	rep, err := bag.Validate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Valid() {
		t.Fatalf("round trip not valid: %v", rep.Err())
	}
	if rep.Err() != nil {
		t.Errorf("Err() = %v for a valid bag", rep.Err())
	}
	var octets int64
	for _, f := range samplePayload() {
		octets += int64(len(f.body))
		if got := rep.SHA256[f.path]; got != sha256.Sum256(f.body) {
			t.Errorf("SHA256[%q] = %v", f.path, got)
		}
		got, err := bag.ReadFile(f.path, 1<<30)
		if err != nil || !bytes.Equal(got, f.body) {
			t.Errorf("ReadFile(%q) = %d bytes, %v", f.path, len(got), err)
		}
	}
	if len(rep.SHA256) != len(samplePayload()) {
		t.Errorf("SHA256 has %d entries, want %d", len(rep.SHA256), len(samplePayload()))
	}
	if rep.PayloadOctets != octets || rep.PayloadFiles != len(samplePayload()) {
		t.Errorf("oxum = %d.%d, want %d.%d", rep.PayloadOctets, rep.PayloadFiles, octets, len(samplePayload()))
	}
	wantInfo := []Tag{
		{"Source-Organization", "Example Constabulary"}, {"Contact-Name", "J Smith"}, {"Contact-Name", "A Jones"},
		{"Bagging-Date", "2025-10-02"}, {"Payload-Oxum", fmt.Sprintf("%d.%d", octets, len(samplePayload()))},
	}
	if fmt.Sprint(rep.Info) != fmt.Sprint(wantInfo) {
		t.Errorf("Info = %v\nwant %v", rep.Info, wantInfo)
	}
	// Streaming Open gives the same bytes.
	rc, err := bag.Open("data/originals/JS-4/band-450nm.tiff")
	must(t, err)
	got, err := io.ReadAll(rc)
	must(t, err)
	rc.Close()
	if !bytes.Equal(got, samplePayload()[0].body) {
		t.Error("Open: content differs")
	}
}

func TestDeterministic(t *testing.T) {
	a, b := writeSample(t), writeSample(t)
	if !bytes.Equal(a, b) {
		t.Fatal("same inputs produced different bags")
	}
	var buf bytes.Buffer
	w := NewZipWriter(&buf, "bundle-24-0815", Options{Time: testTime.Add(1e9)})
	must(t, w.Close())
	var buf2 bytes.Buffer
	w = NewZipWriter(&buf2, "bundle-24-0815", Options{Time: testTime})
	must(t, w.Close())
	if bytes.Equal(buf.Bytes(), buf2.Bytes()) {
		t.Fatal("Options.Time is not reflected in the output")
	}
}

// TestGolden pins the exact layout of a small bag: the zip listing and
// every generated tag file. Run with -update after an intended change.
func TestGolden(t *testing.T) {
	files := []payloadFile{
		{"data/originals/JS-4.tiff", []byte("II*\x00 not really a tiff\n"), false},
		{"data/report.html", []byte("<!doctype html><title>Exhibit JS/4</title>\n"), true},
		{"data/Núñez.txt", []byte("normalisation test\n"), false},
	}
	b := writeBag(t, files, func(w *ZipWriter) {
		must(t, w.AddInfo("Source-Organization", "Example Constabulary"))
	})
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	must(t, err)
	var listing strings.Builder
	fmt.Fprintf(&listing, "zip of %d bytes, %d entries\n", len(b), len(zr.File))
	ar := &txtar.Archive{}
	for _, f := range zr.File {
		off, err := f.DataOffset()
		must(t, err)
		fmt.Fprintf(&listing, "%-8d %-7s %v flags=%#04x crc=%08x size=%d csize=%d mtime=%s %s\n",
			off, map[uint16]string{zip.Store: "store", zip.Deflate: "deflate"}[f.Method], f.Mode(), f.Flags,
			f.CRC32, f.UncompressedSize64, f.CompressedSize64, f.Modified.UTC().Format("2006-01-02T15:04:05Z"), f.Name)
		rel := strings.TrimPrefix(f.Name, "bundle-24-0815/")
		if strings.HasPrefix(rel, "data/") {
			continue
		}
		rc, err := f.Open()
		must(t, err)
		body, err := io.ReadAll(rc)
		must(t, err)
		rc.Close()
		ar.Files = append(ar.Files, txtar.File{Name: rel, Data: body})
	}
	ar.Comment = []byte(listing.String())
	got := txtar.Format(ar)
	golden := filepath.Join("testdata", "small-bag.golden")
	if *update {
		must(t, os.WriteFile(golden, got, 0o644))
	}
	want, err := os.ReadFile(golden)
	must(t, err)
	if !bytes.Equal(got, want) {
		t.Errorf("bag differs from %s (run with -update if intended):\n%s", golden, got)
	}
}

func TestWriterRejectsPaths(t *testing.T) {
	tests := []struct {
		path string
		want error
	}{
		{"originals/x.tif", ErrUnsafePath}, // not under data/
		{"data", ErrUnsafePath},
		{"data/", ErrUnsafePath},
		{"data//x", ErrUnsafePath},
		{"data/./x", ErrUnsafePath},
		{"data/../bagit.txt", ErrUnsafePath},
		{"data/a/..", ErrUnsafePath},
		{"/data/x", ErrUnsafePath},
		{`data/a\b`, ErrUnsafePath},
		{"data/C:x", ErrUnsafePath},
		{"data/a:stream", ErrUnsafePath},
		{"data/...", ErrUnsafePath},
		{"data/\xff.tif", ErrBadName},
		{"data/a\x00b", ErrBadName},
		{"data/a\nb", ErrBadName},
		{"data/a\rb", ErrBadName},
		{"data/a\tb", ErrBadName},
		{"data/\u202egnp.exe", ErrBadName},
		{"data/a\u0085b", ErrBadName},
		{"data/100%.txt", ErrBadName},
		{"data/what?.txt", ErrBadName},
		{"data/a*b", ErrBadName},
		{"data/trailing.", ErrBadName},
		{"data/trailing ", ErrBadName},
		{"data/ leading", ErrBadName},
		{"data/con.txt", ErrBadName},
		{"data/LPT1", ErrBadName},
		{"data/" + strings.Repeat("x", 256), ErrBadName},
		{"data/" + strings.Repeat("x/", 600) + "y", ErrBadName}, // entry name over 1024 bytes
		// Collisions with earlier files (see below).
		{"data/a.txt", ErrDuplicate},
		{"data/A.TXT", ErrDuplicate},
		{"data/Nu\u0301n\u0303ez", ErrDuplicate}, // NFD of an NFC name already present
		{"data/dir", ErrDuplicate},               // a file where a directory is
		{"data/a.txt/x", ErrDuplicate},           // a directory where a file is
		{"data/DIR/y", nil},                      // directories merge: not a collision
	}
	var buf bytes.Buffer
	w := NewZipWriter(&buf, "b", Options{Time: testTime})
	ctx := context.Background()
	for _, p := range []string{"data/a.txt", "data/Núñez", "data/dir/x"} {
		if _, err := w.AddPayload(ctx, p, strings.NewReader(p), false); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range tests {
		_, err := w.AddPayload(ctx, tt.path, strings.NewReader("x"), false)
		if tt.want == nil {
			if err != nil {
				t.Errorf("AddPayload(%q) = %v, want success", tt.path, err)
			}
			continue
		}
		if !errors.Is(err, tt.want) {
			t.Errorf("AddPayload(%q) = %v, want %v", tt.path, err, tt.want)
		}
	}
	// Rejections wrote nothing: the bag is still whole and valid.
	must(t, w.Close())
	rep := validateBytes(t, buf.Bytes())
	if !rep.Valid() || rep.PayloadFiles != 4 {
		t.Fatalf("after rejected paths: valid=%v files=%d: %v", rep.Valid(), rep.PayloadFiles, rep.Err())
	}
}

func TestWriterRejectsTagFilesAndInfo(t *testing.T) {
	var buf bytes.Buffer
	w := NewZipWriter(&buf, "b", Options{Time: testTime})
	for _, tt := range []struct {
		path string
		want error
	}{
		{"data/x.txt", ErrUnsafePath},
		{"DATA/x.txt", ErrUnsafePath},
		{"bagit.txt", ErrDuplicate},
		{"BagIt.TXT", ErrDuplicate},
		{"bag-info.txt", ErrDuplicate},
		{"fetch.txt", ErrDuplicate},
		{"manifest-md5.txt", ErrDuplicate},
		{"Tagmanifest-sha256.txt", ErrDuplicate},
		{"../x", ErrUnsafePath},
	} {
		if err := w.AddTagFile(tt.path, []byte("x")); !errors.Is(err, tt.want) {
			t.Errorf("AddTagFile(%q) = %v, want %v", tt.path, err, tt.want)
		}
	}
	must(t, w.AddTagFile("meta/manifest-sha256.txt", []byte("a tag file in a tag directory\n")))
	for _, tt := range []struct{ label, value string }{
		{"", "x"}, {"A:B", "x"}, {" Lead", "x"}, {"Trail ", "x"}, {"Line\nBreak", "x"},
		{"Payload-Oxum", "1.1"}, {"bagging-date", "2020-01-01"},
		{"Note", ""}, {"Note", " lead"}, {"Note", "two\nlines"}, {"Note", "bad\xffutf8"},
	} {
		if err := w.AddInfo(tt.label, tt.value); err == nil {
			t.Errorf("AddInfo(%q, %q) succeeded", tt.label, tt.value)
		}
	}
	must(t, w.AddInfo("Note", "tab\tinside is fine"))
	must(t, w.Close())
	rep := validateBytes(t, buf.Bytes())
	if !rep.Valid() {
		t.Fatal(rep.Err())
	}
}

func TestWriterOptions(t *testing.T) {
	for _, tt := range []struct {
		base string
		opts Options
	}{
		{"b", Options{}},
		{"a/b", Options{Time: testTime}},
		{"..", Options{Time: testTime}},
		{"", Options{Time: testTime}},
		{"con", Options{Time: testTime}},
		{"a?b", Options{Time: testTime}},
		{"a*b", Options{Time: testTime}},
		{"a<b", Options{Time: testTime}},
		{"ends.", Options{Time: testTime}},
		{strings.Repeat("n", 256), Options{Time: testTime}},
	} {
		w := NewZipWriter(io.Discard, tt.base, tt.opts)
		if err := w.Close(); err == nil {
			t.Errorf("NewZipWriter(%q, %+v).Close() succeeded", tt.base, tt.opts)
		}
	}
}

// TestWriterBaseDirPercent: the base directory may contain '%' (escaped
// case references, docs/bundle.md): it never appears in a manifest, which
// is why '%' is refused in paths. Payload paths still refuse it.
func TestWriterBaseDirPercent(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	base := "exhibit-01%2F123456%2F26-20261127T090012Z-12"
	w := NewZipWriter(&buf, base, Options{Time: testTime})
	if _, err := w.AddPayload(ctx, "data/a%b", strings.NewReader("x"), false); !errors.Is(err, ErrBadName) {
		t.Fatalf("payload path with '%%': %v", err)
	}
	if _, err := w.AddPayload(ctx, "data/a", strings.NewReader("x"), false); err != nil {
		t.Fatal(err)
	}
	must(t, w.Close())
	bag, err := OpenZip(bytes.NewReader(buf.Bytes()), int64(buf.Len()), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if bag.BaseDir() != base {
		t.Fatalf("BaseDir = %q", bag.BaseDir())
	}
	if rep, err := bag.Validate(ctx); err != nil || !rep.Valid() {
		t.Fatalf("bag with '%%' in its base directory: %v %v", err, rep.Err())
	}
}

func TestWriterStickyErrors(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("disk gone")

	// A payload reader that fails after a few chunks.
	var buf bytes.Buffer
	w := NewZipWriter(&buf, "b", Options{Time: testTime})
	r := io.MultiReader(bytes.NewReader(randomBytes(2, 3*chunkSize)), iotest.ErrReader(boom))
	if _, err := w.AddPayload(ctx, "data/x", r, false); !errors.Is(err, boom) {
		t.Fatalf("AddPayload with failing reader = %v, want %v", err, boom)
	}
	if _, err := w.AddPayload(ctx, "data/y", strings.NewReader("y"), false); !errors.Is(err, boom) {
		t.Errorf("AddPayload after failure = %v, want the sticky error", err)
	}
	if err := w.Close(); !errors.Is(err, boom) {
		t.Errorf("Close after failure = %v, want the sticky error", err)
	}
	if _, err := openBytes(buf.Bytes(), Limits{}); err == nil {
		t.Error("the output of a failed writer opened as a bag")
	}

	// An output that fails.
	w = NewZipWriter(&failWriter{after: 5000, err: boom}, "b", Options{Time: testTime})
	if _, err := w.AddPayload(ctx, "data/x", bytes.NewReader(randomBytes(3, 2*chunkSize)), false); !errors.Is(err, boom) {
		t.Errorf("AddPayload to failing output = %v, want %v", err, boom)
	}

	// A cancelled context.
	w = NewZipWriter(io.Discard, "b", Options{Time: testTime})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := w.AddPayload(cctx, "data/x", bytes.NewReader(randomBytes(4, 3*chunkSize)), false); !errors.Is(err, context.Canceled) {
		t.Errorf("AddPayload with cancelled context = %v", err)
	}
	if err := w.Close(); !errors.Is(err, context.Canceled) {
		t.Errorf("Close after cancel = %v", err)
	}

	// Close twice.
	w = NewZipWriter(io.Discard, "b", Options{Time: testTime})
	must(t, w.Close())
	if err := w.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
	if _, err := w.AddPayload(ctx, "data/x", strings.NewReader(""), false); !errors.Is(err, ErrClosed) {
		t.Errorf("AddPayload after Close = %v, want ErrClosed", err)
	}
}

// failWriter accepts after bytes, then fails.
type failWriter struct {
	after int
	err   error
}

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.after {
		n := f.after
		f.after = 0
		return n, f.err
	}
	f.after -= len(p)
	return len(p), nil
}

func TestEmptyBag(t *testing.T) {
	var buf bytes.Buffer
	w := NewZipWriter(&buf, "empty", Options{Time: testTime})
	must(t, w.Close())
	rep := validateBytes(t, buf.Bytes())
	if !rep.Valid() {
		t.Fatal(rep.Err())
	}
	if rep.PayloadFiles != 0 || fmt.Sprint(rep.Info) != "[{Bagging-Date 2025-10-02} {Payload-Oxum 0.0}]" {
		t.Errorf("empty bag report: %+v", rep)
	}
}
