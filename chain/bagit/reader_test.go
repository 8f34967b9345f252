package bagit

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io/fs"
	"strings"
	"testing"
)

// okBag is a minimal valid bag as zip entries, for hostile variations.
func okBag(t testing.TB) []zent {
	return entriesOf(t, writeBag(t, []payloadFile{{"data/a.txt", []byte("a\n"), false}}, nil))
}

func withEntries(t testing.TB, extra ...zent) []byte {
	return zipOf(t, append(okBag(t), extra...))
}

const base = "bundle-24-0815/"

// hostileCases are archives OpenZip must reject, with the sentinel and the
// entry it must name ("" when no single entry is at fault). They double as
// FuzzOpenZip seeds.
func hostileCases(t testing.TB) []struct {
	name  string
	zip   []byte
	want  error
	entry string
} {
	sample := writeBag(t, []payloadFile{{"data/a.txt", []byte("a\n"), false}}, nil)
	deflated := func(b []byte) []byte {
		var buf bytes.Buffer
		fw, _ := flate.NewWriter(&buf, flate.BestCompression)
		fw.Write(b)
		fw.Close()
		return buf.Bytes()
	}
	zeros := deflated(make([]byte, 4<<20))
	type tc = struct {
		name  string
		zip   []byte
		want  error
		entry string
	}
	cases := []tc{
		{"empty input", nil, ErrNotZip, ""},
		{"text", []byte("BagIt-Version: 1.0\n"), ErrNotZip, ""},
		{"truncated by one byte", sample[:len(sample)-1], ErrNotZip, ""},
		{"truncated to half", sample[:len(sample)/2], ErrNotZip, ""},
		{"appended data", append(append([]byte(nil), sample...), "trailing"...), ErrNotZip, ""},
		{"prepended data", append([]byte("MZ polyglot prefix"), sample...), ErrMalformedZip, ""},
		{"empty archive", zipOf(t, nil), ErrLayout, ""},

		{"zip slip", withEntries(t, zent{name: base + "../../etc/cron.d/x"}), ErrUnsafePath, base + "../../etc/cron.d/x"},
		{"parent segment", withEntries(t, zent{name: base + "data/../x"}), ErrUnsafePath, base + "data/../x"},
		{"leading dotdot", withEntries(t, zent{name: "../x"}), ErrUnsafePath, "../x"},
		{"absolute", withEntries(t, zent{name: "/" + base + "x"}), ErrUnsafePath, "/" + base + "x"},
		{"backslash", withEntries(t, zent{name: base + `data\x`}), ErrUnsafePath, base + `data\x`},
		{"drive letter", withEntries(t, zent{name: "C:/" + base + "x"}), ErrUnsafePath, "C:/" + base + "x"},
		{"drive relative", withEntries(t, zent{name: "C:x"}), ErrUnsafePath, "C:x"},
		{"NTFS stream", withEntries(t, zent{name: base + "data/a.txt:hidden"}), ErrUnsafePath, base + "data/a.txt:hidden"},
		{"dot segment", withEntries(t, zent{name: base + "./data/x"}), ErrUnsafePath, base + "./data/x"},
		{"empty segment", withEntries(t, zent{name: base + "data//x"}), ErrUnsafePath, base + "data//x"},
		{"dots only", withEntries(t, zent{name: base + "data/.../x"}), ErrUnsafePath, base + "data/.../x"},
		{"empty name", withEntries(t, zent{name: ""}), ErrUnsafePath, ""},

		{"invalid UTF-8 with flag", withEntries(t, zent{name: base + "data/\xff\xfe", flags: flagUTF8}), ErrBadName, base + "data/\xff\xfe"},
		{"invalid UTF-8", withEntries(t, zent{name: base + "data/\xc3("}), ErrBadName, base + "data/\xc3("},
		{"non-ASCII without UTF-8 flag", withEntries(t, zent{name: base + "data/é", nonUTF8: true}), ErrBadName, base + "data/é"},
		{"NUL", withEntries(t, zent{name: base + "data/a\x00b"}), ErrBadName, base + "data/a\x00b"},
		{"newline", withEntries(t, zent{name: base + "data/a\nb"}), ErrBadName, base + "data/a\nb"},
		{"DEL", withEntries(t, zent{name: base + "data/a\x7fb"}), ErrBadName, base + "data/a\x7fb"},
		{"C1 control", withEntries(t, zent{name: base + "data/a\u009bb"}), ErrBadName, base + "data/a\u009bb"},
		{"bidi override", withEntries(t, zent{name: base + "data/\u202egnp.exe"}), ErrBadName, base + "data/\u202egnp.exe"},
		{"name too long", withEntries(t, zent{name: base + "data/" + strings.Repeat("n", 1100)}), ErrBadName, base + "data/" + strings.Repeat("n", 1100)},
		{"Unicode Path extra disagrees", withEntries(t, zent{name: base + "data/b.txt", extra: unicodePathExtra(base+"data/b.txt", base+"data/../../b.txt")}), ErrBadName, base + "data/b.txt"},

		{"exact duplicate", withEntries(t, zent{name: base + "data/a.txt", body: []byte("evil\n")}), ErrDuplicate, base + "data/a.txt"},
		{"case duplicate", withEntries(t, zent{name: base + "data/A.TXT"}), ErrDuplicate, base + "data/A.TXT"},
		{"normalisation duplicate", withEntries(t, zent{name: base + "data/Núñez"}, zent{name: base + "data/Nu\u0301n\u0303ez"}), ErrDuplicate, base + "data/Nu\u0301n\u0303ez"},
		{"folded normalisation duplicate", withEntries(t, zent{name: base + "data/É"}, zent{name: base + "data/e\u0301"}), ErrDuplicate, base + "data/e\u0301"},
		{"trailing dot duplicate", withEntries(t, zent{name: base + "data/a.txt."}), ErrDuplicate, base + "data/a.txt."},
		{"file under a file", withEntries(t, zent{name: base + "data/a.txt/x"}), ErrDuplicate, base + "data/a.txt/x"},
		{"directory over a file", withEntries(t, zent{name: base + "data/A.txt/"}), ErrDuplicate, base + "data/A.txt/"},
		{"duplicate directory entry", withEntries(t, zent{name: base + "d/"}, zent{name: base + "D/"}), ErrDuplicate, base + "D/"},
		{"Data beside data", withEntries(t, zent{name: base + "Data/x.txt"}), ErrDuplicate, base + "Data/x.txt"},

		{"symlink", withEntries(t, zent{name: base + "data/link", body: []byte("/etc/passwd"), mode: fs.ModeSymlink | 0o777}), ErrNotRegular, base + "data/link"},
		{"named pipe", withEntries(t, zent{name: base + "data/fifo", mode: fs.ModeNamedPipe | 0o644}), ErrNotRegular, base + "data/fifo"},
		{"device", withEntries(t, zent{name: base + "data/sda", mode: fs.ModeDevice | 0o644}), ErrNotRegular, base + "data/sda"},
		{"setuid", withEntries(t, zent{name: base + "data/run", mode: fs.ModeSetuid | 0o755}), ErrNotRegular, base + "data/run"},
		{"directory mode without slash", withEntries(t, zent{name: base + "data/d", mode: fs.ModeDir | 0o755}), ErrNotRegular, base + "data/d"},

		{"second top-level directory", withEntries(t, zent{name: "other/x"}), ErrLayout, "other/x"},
		{"file at the top", withEntries(t, zent{name: "bagit.txt"}), ErrLayout, "bagit.txt"},
		{"top-level file only", zipOf(t, []zent{{name: "x"}}), ErrLayout, "x"},

		{"encrypted flag", withEntries(t, zent{name: base + "data/secret", body: []byte("x"), flags: flagEncrypted}), ErrEncrypted, base + "data/secret"},
		{"strong encryption flag", withEntries(t, zent{name: base + "data/secret", flags: flagEncrypted | flagStrongEnc}), ErrEncrypted, base + "data/secret"},
		{"WinZip AES", withEntries(t, zent{name: base + "data/secret", method: methodAES, body: []byte("0123456789"), raw: &zip.FileHeader{CompressedSize64: 10, UncompressedSize64: 10}}), ErrEncrypted, base + "data/secret"},
		{"bzip2", withEntries(t, zent{name: base + "data/b.bz2", method: 12, body: []byte("BZh9"), raw: &zip.FileHeader{CompressedSize64: 4, UncompressedSize64: 4}}), ErrUnsupportedMethod, base + "data/b.bz2"},
		{"compression bomb ratio", withEntries(t, zent{name: base + "data/zeros", method: zip.Deflate, body: zeros,
			raw: &zip.FileHeader{CRC32: crc32.ChecksumIEEE(make([]byte, 4<<20)), CompressedSize64: uint64(len(zeros)), UncompressedSize64: 4 << 20}}), ErrCompressionRatio, base + "data/zeros"},
		{"stored sizes disagree", withEntries(t, zent{name: base + "data/s", body: []byte("abc"), raw: &zip.FileHeader{CRC32: crc32.ChecksumIEEE([]byte("abc")), CompressedSize64: 3, UncompressedSize64: 300}}), ErrMalformedZip, base + "data/s"},
		{"directory with data", withEntries(t, zent{name: base + "dir/", body: nil, raw: &zip.FileHeader{CompressedSize64: 0, UncompressedSize64: 5}}), ErrMalformedZip, base + "dir/"},
	}
	cases = append(cases, surgeryCases(t)...)
	return cases
}

func unicodePathExtra(name, claimed string) []byte {
	b := make([]byte, 4+5+len(claimed))
	binary.LittleEndian.PutUint16(b, extraUnicodePath)
	binary.LittleEndian.PutUint16(b[2:], uint16(5+len(claimed)))
	b[4] = 1
	binary.LittleEndian.PutUint32(b[5:], crc32.ChecksumIEEE([]byte(name)))
	copy(b[9:], claimed)
	return b
}

// surgeryCases are archives archive/zip will not write.
func surgeryCases(t testing.TB) []struct {
	name  string
	zip   []byte
	want  error
	entry string
} {
	type tc = struct {
		name  string
		zip   []byte
		want  error
		entry string
	}
	three := zipOf(t, append(okBag(t), zent{name: base + "data/hidden.txt", body: []byte("not in the central directory\n")}, zent{name: base + "data/z.txt", body: []byte("z\n")}))
	var out []tc

	// An entry a streaming unzipper would extract but the central
	// directory does not list.
	a := parseRaw(t, three)
	hidden := -1
	for i, c := range a.central {
		if c.name() == base+"data/hidden.txt" {
			hidden = i
		}
	}
	a.central = append(a.central[:hidden], a.central[hidden+1:]...)
	out = append(out, tc{"hidden local entry", a.bytes(), ErrMalformedZip, base + "data/z.txt"})

	// Two central records sharing one local entry (overlapping entries,
	// the non-recursive zip bomb's trick).
	a = parseRaw(t, three)
	dup := rawCentral{rec: append([]byte(nil), a.central[hidden].rec...), local: a.central[hidden].local}
	copy(dup.rec[46+len(base)+5:], "twin.t") // data/hidden.txt -> data/twin.t.txt
	a.central = append(a.central, dup)
	out = append(out, tc{"overlapping entries", a.bytes(), ErrMalformedZip, ""})

	// Local header names a different file than the central directory.
	a = parseRaw(t, three)
	copy(a.locals[a.central[hidden].local].header[localLen+len(base)+5:], "HIDDEN")
	out = append(out, tc{"local name differs", a.bytes(), ErrMalformedZip, base + "data/hidden.txt"})

	// Local header claims encryption while the central one does not.
	a = parseRaw(t, three)
	h := a.locals[a.central[hidden].local].header
	binary.LittleEndian.PutUint16(h[6:], le16(h[6:])|flagEncrypted)
	out = append(out, tc{"local header encrypted", a.bytes(), ErrEncrypted, base + "data/hidden.txt"})

	// Local header uses another method.
	a = parseRaw(t, three)
	h = a.locals[a.central[hidden].local].header
	binary.LittleEndian.PutUint16(h[8:], zip.Deflate)
	out = append(out, tc{"local method differs", a.bytes(), ErrMalformedZip, base + "data/hidden.txt"})

	// Local header without data descriptor whose CRC disagrees.
	rawZip := zipOf(t, append(okBag(t), zent{name: base + "data/raw.txt", body: []byte("raw\n"),
		raw: &zip.FileHeader{CRC32: crc32.ChecksumIEEE([]byte("raw\n")), CompressedSize64: 4, UncompressedSize64: 4}}))
	a = parseRaw(t, rawZip)
	last := a.locals[len(a.locals)-1].header
	binary.LittleEndian.PutUint32(last[14:], le32(last[14:])^1)
	out = append(out, tc{"local CRC differs", a.bytes(), ErrMalformedZip, base + "data/raw.txt"})

	// Garbage between two entries (offsets fixed so archive/zip is happy).
	a = parseRaw(t, three)
	a.locals[0].descr = append(a.locals[0].descr, "GARBAGE!"...)
	out = append(out, tc{"gap between entries", a.bytes(), ErrMalformedZip, ""})

	// Data descriptor that disagrees with the central directory.
	a = parseRaw(t, three)
	d := a.locals[a.central[hidden].local].descr
	binary.LittleEndian.PutUint32(d[4:], le32(d[4:])^1)
	out = append(out, tc{"descriptor CRC differs", a.bytes(), ErrMalformedZip, base + "data/hidden.txt"})

	// End record problems.
	multi := append([]byte(nil), three...)
	binary.LittleEndian.PutUint16(multi[len(multi)-endLen+4:], 1)
	out = append(out, tc{"multi-disk", multi, ErrMalformedZip, ""})
	count := append([]byte(nil), three...)
	binary.LittleEndian.PutUint16(count[len(count)-endLen+8:], 2)
	binary.LittleEndian.PutUint16(count[len(count)-endLen+10:], 2)
	out = append(out, tc{"end record count too small", count, ErrMalformedZip, ""})
	out = append(out, tc{"zip64 record disagrees", toZip64(t, three, func(rec []byte) {
		binary.LittleEndian.PutUint64(rec[40:], le64(rec[40:])+1)
	}), ErrMalformedZip, ""})
	many := toZip64(t, three, func(rec []byte) {
		binary.LittleEndian.PutUint64(rec[24:], 1<<40)
		binary.LittleEndian.PutUint64(rec[32:], 1<<40)
	})
	out = append(out, tc{"zip64 claims 2^40 entries", many, ErrTooManyEntries, ""})
	// A prefix with offsets adjusted to it, as self-extracting archives
	// are built: the end records are consistent, the first bytes are not
	// an entry.
	var sfx bytes.Buffer
	sfx.WriteString("#!/bin/sh\nexit 0\n")
	zw := zip.NewWriter(&sfx)
	zw.SetOffset(int64(sfx.Len()))
	for _, e := range okBag(t) {
		w, err := zw.Create(e.name)
		must(t, err)
		w.Write(e.body)
	}
	must(t, zw.Close())
	out = append(out, tc{"self-extractor prefix", sfx.Bytes(), ErrMalformedZip, base + "bagit.txt"})

	withComment := func(c string) []byte {
		z := append([]byte(nil), three...)
		binary.LittleEndian.PutUint16(z[len(z)-2:], uint16(len(c)))
		return append(z, c...)
	}
	out = append(out, tc{"end signature in comment", withComment("see PK\x05\x06 here"), ErrMalformedZip, ""})
	out = append(out, tc{"comment longer than the file", withComment("x")[:len(three)], ErrNotZip, ""})
	return out
}

func TestOpenZipRejects(t *testing.T) {
	for _, tt := range hostileCases(t) {
		t.Run(tt.name, func(t *testing.T) {
			_, err := openBytes(tt.zip, Limits{})
			t.Log(err)
			if !errors.Is(err, tt.want) {
				t.Fatalf("OpenZip = %v, want %v", err, tt.want)
			}
			var ee *EntryError
			if tt.entry != "" {
				if !errors.As(err, &ee) || ee.Entry != tt.entry {
					t.Fatalf("OpenZip = %v, want it to name entry %q", err, tt.entry)
				}
			}
		})
	}
}

func TestOpenZipLimits(t *testing.T) {
	sample := writeSample(t)
	big := "bundle-24-0815/data/originals/JS-4/band-450nm.tiff"
	for _, tt := range []struct {
		name   string
		limits Limits
		want   error
		entry  string
	}{
		{"entries", Limits{MaxEntries: 11}, ErrTooManyEntries, ""},
		{"central directory", Limits{MaxDirectorySize: 100}, ErrTooLarge, ""},
		{"entry size", Limits{MaxEntrySize: 1 << 20}, ErrTooLarge, big},
		{"total size", Limits{MaxTotalSize: 1 << 20}, ErrTooLarge, big},
		{"name length", Limits{MaxNameLength: 40}, ErrBadName, big},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := openBytes(sample, tt.limits)
			if !errors.Is(err, tt.want) {
				t.Fatalf("OpenZip = %v, want %v", err, tt.want)
			}
			var ee *EntryError
			if tt.entry != "" && (!errors.As(err, &ee) || ee.Entry != tt.entry) {
				t.Fatalf("OpenZip = %v, want it to name %q", err, tt.entry)
			}
		})
	}
	if _, err := openBytes(sample, Limits{MaxEntries: 12}); err != nil {
		t.Errorf("exactly MaxEntries entries rejected: %v", err)
	}
}

// TestLyingSizes: headers that understate or overstate the real data are
// caught while reading, and reading never runs past the declared size.
func TestLyingSizes(t *testing.T) {
	real := bytes.Repeat([]byte("spiking "), 64<<10) // 512 KiB
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	fw.Write(real)
	fw.Close()
	comp := buf.Bytes()
	for _, tt := range []struct {
		name     string
		declared uint64
	}{
		{"understated", 1000},
		{"overstated", uint64(len(real)) + 1000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			z := withEntries(t, zent{name: base + "data/lie", method: zip.Deflate, body: comp,
				raw: &zip.FileHeader{CRC32: crc32.ChecksumIEEE(real), CompressedSize64: uint64(len(comp)), UncompressedSize64: tt.declared}})
			bag, err := openBytes(z, Limits{})
			if err != nil {
				t.Fatalf("OpenZip: %v", err)
			}
			if _, err := bag.ReadFile("data/lie", 1<<30); !errors.Is(err, ErrEntryCorrupt) {
				t.Errorf("ReadFile = %v, want ErrEntryCorrupt", err)
			}
			rep, err := bag.Validate(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !hasProblem(rep, "data/lie", "", ErrEntryCorrupt) {
				t.Errorf("Validate did not report the lying entry: %v", rep.Err())
			}
		})
	}
}

func TestArchiveComment(t *testing.T) {
	z := writeSample(t)
	binary.LittleEndian.PutUint16(z[len(z)-2:], 9)
	z = append(z, "a comment"...)
	if rep := validateBytes(t, z); !rep.Valid() {
		t.Fatal(rep.Err())
	}
}

func TestZip64EndRecords(t *testing.T) {
	z := toZip64(t, writeSample(t), nil)
	rep := validateBytes(t, z)
	if !rep.Valid() {
		t.Fatalf("zip64-form bag not valid: %v", rep.Err())
	}
}

// TestDescriptorForms: data descriptors without signature, and with 64-bit
// sizes, are accepted when they agree with the central directory.
func TestDescriptorForms(t *testing.T) {
	for _, tt := range []struct {
		name  string
		descr func(d []byte) []byte
	}{
		{"no signature", func(d []byte) []byte { return d[4:] }},
		{"64-bit sizes", func(d []byte) []byte {
			w := make([]byte, 24)
			copy(w, d[:8])
			binary.LittleEndian.PutUint64(w[8:], uint64(le32(d[8:])))
			binary.LittleEndian.PutUint64(w[16:], uint64(le32(d[12:])))
			return w
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := parseRaw(t, writeSample(t))
			for i := range a.locals {
				if a.locals[i].descr != nil {
					a.locals[i].descr = tt.descr(a.locals[i].descr)
				}
			}
			rep := validateBytes(t, a.bytes())
			if !rep.Valid() {
				t.Fatal(rep.Err())
			}
		})
	}
}

func TestReadFile(t *testing.T) {
	bag, err := openBytes(writeSample(t), Limits{})
	must(t, err)
	if _, err := bag.ReadFile("data/missing", 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile(missing) = %v", err)
	}
	if _, err := bag.Open("../bagit.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(../bagit.txt) = %v", err)
	}
	if _, err := bag.ReadFile("data/originals/JS-4/band-450nm.tiff", 1<<20); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ReadFile over cap = %v", err)
	}
	b, err := bag.ReadFile("bagit.txt", 0)
	if err != nil || string(b) != declaration {
		t.Errorf("ReadFile(bagit.txt) = %q, %v", b, err)
	}
	files := bag.Files()
	if len(files) != 12 || files[0].Path != "bagit.txt" || files[1].Size != 3*chunkSize+123 || !files[2].Compressed {
		t.Errorf("Files() = %+v", files)
	}
}

func hasProblem(rep *Report, path, manifest string, want error) bool {
	for _, p := range rep.Problems {
		if p.Path == path && (manifest == "" || p.Manifest == manifest) && errors.Is(p.Err, want) {
			return true
		}
	}
	return false
}

// TestCentralDirectoryUnreadable: an end record whose central directory
// cannot be located or walked is ErrCentralDirectory (as well as
// ErrMalformedZip), so that callers can tell "the entries cannot even be
// listed" (exhibit verify's exit status 2) from a hostile but readable
// archive; no other hostile case is.
func TestCentralDirectoryUnreadable(t *testing.T) {
	want := map[string]bool{"prepended data": true, "multi-disk": true, "end record count too small": true,
		"zip64 record disagrees": true, "end signature in comment": true}
	for _, h := range hostileCases(t) {
		_, err := OpenZip(bytes.NewReader(h.zip), int64(len(h.zip)), Limits{})
		got := errors.Is(err, ErrCentralDirectory)
		if got != want[h.name] || (got && !errors.Is(err, ErrMalformedZip)) {
			t.Errorf("%s: %v: ErrCentralDirectory = %v, want %v", h.name, err, got, want[h.name])
		}
	}
}
