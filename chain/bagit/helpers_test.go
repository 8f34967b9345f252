package bagit

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"testing"
	"time"
)

var testTime = time.Date(2025, 10, 2, 9, 30, 0, 0, time.UTC)

// randomBytes returns n deterministic pseudo-random bytes.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

type payloadFile struct {
	path     string
	body     []byte
	compress bool
}

// samplePayload exercises both hash paths (a file over one chunk), both
// methods, nested directories and a non-ASCII name.
func samplePayload() []payloadFile {
	return []payloadFile{
		{"data/originals/JS-4/band-450nm.tiff", randomBytes(1, 3*chunkSize+123), false},
		{"data/records/0001.dsse.json", []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}` + "\n"), true},
		{"data/custody.jsonl", bytes.Repeat([]byte(`{"event":"sealed","by":"JS"}`+"\n"), 40), true},
		{"data/keys/kiosk-1.pub", []byte("ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB\n"), false},
		{"data/Núñez/empty.txt", nil, false},
	}
}

// writeSample writes a bag with samplePayload, two info tags and one
// extra tag file.
func writeSample(t testing.TB) []byte {
	t.Helper()
	return writeBag(t, samplePayload(), func(w *ZipWriter) {
		must(t, w.AddInfo("Source-Organization", "Example Constabulary"))
		must(t, w.AddInfo("External-Identifier", "case 24/0815"))
		must(t, w.AddTagFile("exhibit/profile.txt", []byte("exhibit bundle v1\n")))
	})
}

func writeBag(t testing.TB, files []payloadFile, extra func(*ZipWriter)) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewZipWriter(&buf, "bundle-24-0815", Options{Time: testTime})
	for _, f := range files {
		if _, err := w.AddPayload(context.Background(), f.path, bytes.NewReader(f.body), f.compress); err != nil {
			t.Fatalf("AddPayload(%q): %v", f.path, err)
		}
	}
	if extra != nil {
		extra(w)
	}
	must(t, w.Close())
	return buf.Bytes()
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func openBytes(b []byte, l Limits) (*Bag, error) {
	return OpenZip(bytes.NewReader(b), int64(len(b)), l)
}

func validateBytes(t testing.TB, b []byte) *Report {
	t.Helper()
	bag, err := openBytes(b, Limits{})
	if err != nil {
		t.Fatalf("OpenZip: %v", err)
	}
	rep, err := bag.Validate(context.Background())
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return rep
}

// zent is one entry for zipOf.
type zent struct {
	name    string
	body    []byte
	method  uint16
	mode    fs.FileMode // 0 means 0644 (or a directory for names ending in /)
	flags   uint16      // extra general-purpose flags
	nonUTF8 bool
	extra   []byte
	// raw, when set, writes body as already-compressed data with these
	// declared values (no data descriptor).
	raw *zip.FileHeader
}

// zipOf builds a zip with archive/zip, which writes whatever names it is
// given: hostile archives for the reader tests.
func zipOf(t testing.TB, entries []zent) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: e.method, Modified: testTime, NonUTF8: e.nonUTF8, Flags: e.flags, Extra: e.extra}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
			if len(e.name) > 0 && e.name[len(e.name)-1] == '/' {
				mode = fs.ModeDir | 0o755
			}
		}
		h.SetMode(mode)
		var (
			w   io.Writer
			err error
		)
		if e.raw != nil {
			h.CRC32, h.CompressedSize64, h.UncompressedSize64 = e.raw.CRC32, e.raw.CompressedSize64, e.raw.UncompressedSize64
			w, err = zw.CreateRaw(h)
		} else {
			w, err = zw.CreateHeader(h)
		}
		if err != nil {
			t.Fatalf("zip entry %q: %v", e.name, err)
		}
		if _, err := w.Write(e.body); err != nil {
			t.Fatalf("zip entry %q: %v", e.name, err)
		}
	}
	must(t, zw.Close())
	return buf.Bytes()
}

// entriesOf reads every entry of a zip (with archive/zip, no checks).
func entriesOf(t testing.TB, b []byte) []zent {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		t.Fatal(err)
	}
	var out []zent
	for _, f := range zr.File {
		rc, err := f.Open()
		must(t, err)
		body, err := io.ReadAll(rc)
		must(t, err)
		rc.Close()
		out = append(out, zent{name: f.Name, body: body, method: f.Method, mode: f.Mode()})
	}
	return out
}

// rezip rewrites a zip after mutate has changed its entries; CRCs are
// recomputed, so the zip itself is sound.
func rezip(t testing.TB, b []byte, mutate func([]zent) []zent) []byte {
	t.Helper()
	return zipOf(t, mutate(entriesOf(t, b)))
}

// replaceBody returns a mutation that replaces one entry's content
// (relative to the base directory "bundle-24-0815/").
func replaceBody(rel string, f func([]byte) []byte) func([]zent) []zent {
	return func(es []zent) []zent {
		for i := range es {
			if es[i].name == "bundle-24-0815/"+rel {
				es[i].body = f(append([]byte(nil), es[i].body...))
			}
		}
		return es
	}
}

func dropEntry(rel string) func([]zent) []zent {
	return func(es []zent) []zent {
		var out []zent
		for _, e := range es {
			if e.name != "bundle-24-0815/"+rel {
				out = append(out, e)
			}
		}
		return out
	}
}

// --- zip surgery: take an archive apart record by record and put it back
// together, for structures archive/zip will not write. ---

type rawLocal struct {
	header []byte // fixed header, name and extra
	data   []byte
	descr  []byte
}

type rawCentral struct {
	rec   []byte // fixed 46-byte header, name, extra, comment
	local int    // index into locals
}

type rawArchive struct {
	locals  []rawLocal
	central []rawCentral
}

// parseRaw splits a simple archive (as archive/zip writes it: no zip64,
// 16-byte data descriptors) into records.
func parseRaw(t testing.TB, b []byte) *rawArchive {
	t.Helper()
	end := len(b) - endLen
	if le32(b[end:]) != sigEnd {
		t.Fatal("parseRaw: no plain end record")
	}
	n := int(le16(b[end+10:]))
	cd := int(le32(b[end+16:]))
	a := &rawArchive{}
	for i := 0; i < n; i++ {
		if le32(b[cd:]) != 0x02014b50 {
			t.Fatalf("parseRaw: bad central header %d", i)
		}
		l := 46 + int(le16(b[cd+28:])) + int(le16(b[cd+30:])) + int(le16(b[cd+32:]))
		rec := append([]byte(nil), b[cd:cd+l]...)
		off := int(le32(rec[42:]))
		flags := le16(rec[8:])
		csize := int(le32(rec[20:]))
		hl := localLen + int(le16(b[off+26:])) + int(le16(b[off+28:]))
		loc := rawLocal{header: append([]byte(nil), b[off:off+hl]...), data: append([]byte(nil), b[off+hl:off+hl+csize]...)}
		if flags&flagDescriptor != 0 {
			loc.descr = append([]byte(nil), b[off+hl+csize:off+hl+csize+16]...)
		}
		a.central = append(a.central, rawCentral{rec: rec, local: len(a.locals)})
		a.locals = append(a.locals, loc)
		cd += l
	}
	return a
}

// bytes lays the records out again, fixing offsets and the end record.
func (a *rawArchive) bytes() []byte {
	var out []byte
	offs := make([]int, len(a.locals))
	for i, l := range a.locals {
		offs[i] = len(out)
		out = append(out, l.header...)
		out = append(out, l.data...)
		out = append(out, l.descr...)
	}
	cd := len(out)
	for _, c := range a.central {
		rec := append([]byte(nil), c.rec...)
		binary.LittleEndian.PutUint32(rec[42:], uint32(offs[c.local]))
		out = append(out, rec...)
	}
	e := make([]byte, endLen)
	binary.LittleEndian.PutUint32(e, sigEnd)
	binary.LittleEndian.PutUint16(e[8:], uint16(len(a.central)))
	binary.LittleEndian.PutUint16(e[10:], uint16(len(a.central)))
	binary.LittleEndian.PutUint32(e[12:], uint32(len(out)-cd))
	binary.LittleEndian.PutUint32(e[16:], uint32(cd))
	return append(out, e...)
}

// centralName returns the name in a central record.
func (c rawCentral) name() string { return string(c.rec[46 : 46+int(le16(c.rec[28:]))]) }

// toZip64 rewrites the end of a plain archive into zip64 form: a zip64
// end record and locator, and a saturated classic end record.
func toZip64(t testing.TB, b []byte, mutate64 func(rec []byte)) []byte {
	t.Helper()
	end := len(b) - endLen
	n, cdSize, cdOff := le16(b[end+10:]), le32(b[end+12:]), le32(b[end+16:])
	out := append([]byte(nil), b[:end]...)
	recOff := len(out)
	rec := make([]byte, end64Len)
	binary.LittleEndian.PutUint32(rec, sigEnd64)
	binary.LittleEndian.PutUint64(rec[4:], end64Len-12)
	binary.LittleEndian.PutUint16(rec[12:], 45)
	binary.LittleEndian.PutUint16(rec[14:], 45)
	binary.LittleEndian.PutUint64(rec[24:], uint64(n))
	binary.LittleEndian.PutUint64(rec[32:], uint64(n))
	binary.LittleEndian.PutUint64(rec[40:], uint64(cdSize))
	binary.LittleEndian.PutUint64(rec[48:], uint64(cdOff))
	if mutate64 != nil {
		mutate64(rec)
	}
	out = append(out, rec...)
	loc := make([]byte, loc64Len)
	binary.LittleEndian.PutUint32(loc, sigLoc64)
	binary.LittleEndian.PutUint64(loc[8:], uint64(recOff))
	binary.LittleEndian.PutUint32(loc[16:], 1)
	out = append(out, loc...)
	e := make([]byte, endLen)
	binary.LittleEndian.PutUint32(e, sigEnd)
	binary.LittleEndian.PutUint16(e[8:], 0xffff)
	binary.LittleEndian.PutUint16(e[10:], 0xffff)
	binary.LittleEndian.PutUint32(e[12:], 0xffffffff)
	binary.LittleEndian.PutUint32(e[16:], 0xffffffff)
	return append(out, e...)
}
