package bagit

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sort"
)

// Zip record signatures and fixed lengths (PKWARE APPNOTE.TXT §4.3).
const (
	sigLocal   = 0x04034b50
	sigCentral = 0x02014b50
	sigDescr   = 0x08074b50
	sigEnd     = 0x06054b50
	sigEnd64   = 0x06064b50
	sigLoc64   = 0x07064b50
	localLen   = 30
	endLen     = 22
	loc64Len   = 20
	end64Len   = 56
	maxComment = 1<<16 - 1

	// General purpose flags.
	flagEncrypted  = 0x0001
	flagDescriptor = 0x0008
	flagStrongEnc  = 0x0040
	flagUTF8       = 0x0800
	flagMaskedHdr  = 0x2000 // central directory encryption

	extraZip64       = 0x0001
	extraUnicodePath = 0x7075 // Info-ZIP Unicode Path
	methodAES        = 99     // WinZip AES
)

func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }
func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

// readAt reads exactly n bytes at off.
func readAt(r io.ReaderAt, off int64, n int) ([]byte, error) {
	b := make([]byte, n)
	m, err := r.ReadAt(b, off)
	if m == n {
		return b, nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return nil, err
}

// zipEnd is what the end records say about the central directory.
type zipEnd struct {
	comment  string
	entries  uint64
	cdOffset int64
	cdSize   int64
}

// readEnd finds and checks the end of central directory record and, when
// present, the zip64 end record and locator. The end record must finish
// exactly at the end of the input (its comment, if any, reaching the last
// byte), and the central directory must be immediately followed by the end
// records: nothing may be appended or slipped in between. Declared counts
// and sizes are checked against limits before anything is allocated for
// them.
func readEnd(r io.ReaderAt, size int64, l Limits) (zipEnd, error) {
	var z zipEnd
	if size < endLen {
		return z, fmt.Errorf("%w: %d bytes is too short for a zip", ErrNotZip, size)
	}
	tail := min(size, endLen+maxComment)
	buf, err := readAt(r, size-tail, int(tail))
	if err != nil {
		return z, fmt.Errorf("%w: reading the end of the input: %v", ErrNotZip, err)
	}
	at := -1
	for i := len(buf) - endLen; i >= 0; i-- {
		if le32(buf[i:]) == sigEnd && i+endLen+int(le16(buf[i+20:])) == len(buf) {
			at = i
			break
		}
	}
	if at < 0 {
		return z, fmt.Errorf("%w: no end-of-central-directory record ending at the last byte (not a zip, truncated, or data appended)", ErrNotZip)
	}
	if bytes.Contains(buf[at+1:], []byte{'P', 'K', 5, 6}) {
		// Another end-record signature after the one we use: a reader that
		// scans differently could pick it and see another archive.
		return z, dirErr("second end-of-central-directory signature after the end record (ambiguous archive)")
	}
	e := buf[at:]
	z.comment = string(e[endLen:])
	endOff := size - tail + int64(at)
	disk, cdDisk := le16(e[4:]), le16(e[6:])
	diskEntries, entries := le16(e[8:]), le16(e[10:])
	cdSize, cdOffset := le32(e[12:]), le32(e[16:])
	saturated := disk == 0xffff || cdDisk == 0xffff || diskEntries == 0xffff || entries == 0xffff ||
		cdSize == 0xffffffff || cdOffset == 0xffffffff
	if !saturated {
		if disk != 0 || cdDisk != 0 || diskEntries != entries {
			return z, dirErr("multi-disk (split) archive")
		}
		z = zipEnd{comment: z.comment, entries: uint64(entries), cdOffset: int64(cdOffset), cdSize: int64(cdSize)}
		if z.cdOffset+z.cdSize == endOff {
			return z, checkEnd(z, l)
		}
	}
	// Zip64: locator immediately before the end record, zip64 end record
	// immediately before the locator, central directory immediately before
	// that.
	locOff := endOff - loc64Len
	if locOff < 0 {
		return z, dirErr("central directory does not end where the end record starts")
	}
	loc, err := readAt(r, locOff, loc64Len)
	if err != nil || le32(loc) != sigLoc64 {
		return z, dirErr("central directory does not end where the end record starts (data prepended or inserted), and there is no zip64 locator")
	}
	if le32(loc[4:]) != 0 || le32(loc[16:]) != 1 {
		return z, dirErr("multi-disk (split) zip64 archive")
	}
	recOff64 := le64(loc[8:])
	if recOff64 > uint64(locOff) || uint64(locOff)-recOff64 < end64Len {
		return z, dirErr("zip64 end record offset %d out of range", recOff64)
	}
	recOff := int64(recOff64)
	rec, err := readAt(r, recOff, end64Len)
	if err != nil || le32(rec) != sigEnd64 {
		return z, dirErr("no zip64 end record at offset %d", recOff)
	}
	if recSize := le64(rec[4:]); recSize != uint64(locOff-recOff-12) {
		return z, dirErr("zip64 end record does not end where the locator starts")
	}
	if le32(rec[16:]) != 0 || le32(rec[20:]) != 0 || le64(rec[24:]) != le64(rec[32:]) {
		return z, dirErr("multi-disk (split) zip64 archive")
	}
	n64, size64, off64 := le64(rec[32:]), le64(rec[40:]), le64(rec[48:])
	if (entries != 0xffff && uint64(entries) != n64) ||
		(cdSize != 0xffffffff && uint64(cdSize) != size64) ||
		(cdOffset != 0xffffffff && uint64(cdOffset) != off64) {
		return z, dirErr("zip64 end record disagrees with the end record")
	}
	if off64 > uint64(recOff) || size64 != uint64(recOff)-off64 {
		return z, dirErr("central directory does not end where the zip64 end record starts")
	}
	z = zipEnd{comment: z.comment, entries: n64, cdOffset: int64(off64), cdSize: int64(size64)}
	return z, checkEnd(z, l)
}

// checkCentral walks the central directory's record headers before
// archive/zip parses it: exactly z.entries records, back to back, filling
// exactly z.cdSize bytes.
func checkCentral(r io.ReaderAt, z zipEnd) error {
	br := bufio.NewReaderSize(io.NewSectionReader(r, z.cdOffset, z.cdSize), 64<<10)
	var hdr [46]byte
	used := int64(0)
	for i := uint64(0); i < z.entries; i++ {
		if _, err := io.ReadFull(br, hdr[:]); err != nil || le32(hdr[:]) != sigCentral {
			return dirErr("central directory record %d of %d missing (at byte %d of the directory)", i+1, z.entries, used)
		}
		n := int64(le16(hdr[28:])) + int64(le16(hdr[30:])) + int64(le16(hdr[32:]))
		if m, err := br.Discard(int(n)); err != nil || int64(m) != n {
			return dirErr("central directory record %d overruns the directory", i+1)
		}
		used += 46 + n
	}
	if used != z.cdSize {
		return dirErr("central directory has %d bytes after its %d declared records", z.cdSize-used, z.entries)
	}
	return nil
}

// dirErr reports an end record that points to a central directory that
// cannot be located or walked: ErrMalformedZip and ErrCentralDirectory.
func dirErr(format string, args ...any) error {
	return fmt.Errorf("%w: %w: "+format, append([]any{ErrMalformedZip, ErrCentralDirectory}, args...)...)
}

func checkEnd(z zipEnd, l Limits) error {
	if z.entries > uint64(l.MaxEntries) {
		return fmt.Errorf("%w: %d entries declared, limit %d", ErrTooManyEntries, z.entries, l.MaxEntries)
	}
	if z.cdSize > l.MaxDirectorySize {
		return fmt.Errorf("%w: central directory of %d bytes, limit %d", ErrTooLarge, z.cdSize, l.MaxDirectorySize)
	}
	// The smallest central directory header is 46 bytes.
	if z.entries > uint64(z.cdSize)/46 {
		return dirErr("%d entries cannot fit in a %d-byte central directory", z.entries, z.cdSize)
	}
	return nil
}

// walkLocal checks that the local part of the archive is exactly the
// entries the central directory lists, back to back from offset 0: each
// local header sits where the previous entry's data (and data descriptor)
// ended, names the same file with the same method and flags, and leads to
// the data the central directory points at; the last entry ends where the
// central directory begins. This rejects prepended data, hidden entries a
// streaming unzipper would see but the central directory does not list,
// overlapping entries (a zip-bomb technique), and local/central name
// mismatches that make two tools see different files.
func walkLocal(r io.ReaderAt, files []*zip.File, z zipEnd) error {
	type item struct {
		f    *zip.File
		data int64
	}
	items := make([]item, len(files))
	for i, f := range files {
		off, err := f.DataOffset()
		if err != nil {
			return entryErr(f.Name, ErrMalformedZip, "local header: %v", err)
		}
		items[i] = item{f, off}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].data < items[j].data })
	pos := int64(0)
	for _, it := range items {
		f := it.f
		hdr, err := readAt(r, pos, localLen)
		if err != nil || le32(hdr) != sigLocal {
			return entryErr(f.Name, ErrMalformedZip, "no local file header at offset %d, where the previous entry ends (data before, between or overlapping entries)", pos)
		}
		flags, method := le16(hdr[6:]), le16(hdr[8:])
		crc, csize, usize := le32(hdr[14:]), le32(hdr[18:]), le32(hdr[22:])
		n, m := int(le16(hdr[26:])), int(le16(hdr[28:]))
		if pos+localLen+int64(n+m) != it.data {
			return entryErr(f.Name, ErrMalformedZip, "local header at offset %d does not lead to this entry's data", pos)
		}
		ne, err := readAt(r, pos+localLen, n+m)
		if err != nil {
			return entryErr(f.Name, ErrMalformedZip, "local header at offset %d: %v", pos, err)
		}
		if string(ne[:n]) != f.Name {
			return entryErr(f.Name, ErrMalformedZip, "local header names %s but the central directory names %s", quote(string(ne[:n])), quote(f.Name))
		}
		if flags&(flagEncrypted|flagStrongEnc|flagMaskedHdr) != 0 || method == methodAES {
			return entryErr(f.Name, ErrEncrypted, "local header flags %#04x method %d", flags, method)
		}
		if method != f.Method || flags&(flagDescriptor|flagUTF8) != f.Flags&(flagDescriptor|flagUTF8) {
			return entryErr(f.Name, ErrMalformedZip, "local header (method %d, flags %#04x) disagrees with the central directory (method %d, flags %#04x)", method, flags, f.Method, f.Flags)
		}
		var local64 []byte
		if err := forEachExtra(ne[n:], func(id uint16, data []byte) error {
			if id == extraZip64 {
				local64 = data
			}
			return checkExtra(f.Name, id, data)
		}); err != nil {
			if errors.Is(err, ErrBadName) {
				return &EntryError{Entry: f.Name, Err: err}
			}
			return entryErr(f.Name, ErrMalformedZip, "local extra field: %v", err)
		}
		if flags&flagDescriptor == 0 {
			if err := checkLocalSizes(f, crc, csize, usize, local64); err != nil {
				return entryErr(f.Name, ErrMalformedZip, "%v", err)
			}
		}
		if f.CompressedSize64 > uint64(z.cdOffset-it.data) || it.data > z.cdOffset {
			return entryErr(f.Name, ErrMalformedZip, "entry data runs into the central directory")
		}
		end := it.data + int64(f.CompressedSize64)
		if flags&flagDescriptor != 0 {
			dl, err := descriptorLen(r, f, end, z.cdOffset)
			if err != nil {
				return entryErr(f.Name, ErrMalformedZip, "%v", err)
			}
			end += dl
		}
		pos = end
	}
	if pos != z.cdOffset {
		return fmt.Errorf("%w: %d bytes between the last entry and the central directory", ErrMalformedZip, z.cdOffset-pos)
	}
	return nil
}

// checkLocalSizes compares a local header without data descriptor with the
// central directory.
func checkLocalSizes(f *zip.File, crc, csize, usize uint32, zip64 []byte) error {
	cs, us := uint64(csize), uint64(usize)
	if usize == 0xffffffff {
		if len(zip64) < 8 {
			return errors.New("local zip64 sizes missing")
		}
		us, zip64 = le64(zip64), zip64[8:]
	}
	if csize == 0xffffffff {
		if len(zip64) < 8 {
			return errors.New("local zip64 sizes missing")
		}
		cs = le64(zip64)
	}
	if crc != f.CRC32 || cs != f.CompressedSize64 || us != f.UncompressedSize64 {
		return fmt.Errorf("local header CRC/sizes (%08x, %d, %d) disagree with the central directory (%08x, %d, %d)",
			crc, cs, us, f.CRC32, f.CompressedSize64, f.UncompressedSize64)
	}
	return nil
}

// descriptorLen finds the data descriptor after an entry's data: 12 or 20
// bytes (32- or 64-bit sizes), plus 4 if it starts with the optional
// signature. The right form is the one whose CRC and sizes equal the
// central directory's and that is followed by the next local header or by
// the central directory.
func descriptorLen(r io.ReaderAt, f *zip.File, at, limit int64) (int64, error) {
	avail := min(limit-at, 24)
	if avail < 12 {
		return 0, errors.New("data descriptor missing")
	}
	b, err := readAt(r, at, int(avail))
	if err != nil {
		return 0, fmt.Errorf("data descriptor: %v", err)
	}
	type form struct {
		sig, wide bool
		n         int64
	}
	for _, fm := range []form{{true, false, 16}, {true, true, 24}, {false, false, 12}, {false, true, 20}} {
		if fm.n > avail || (fm.sig && le32(b) != sigDescr) {
			continue
		}
		d := b
		if fm.sig {
			d = b[4:]
		}
		var cs, us uint64
		if fm.wide {
			cs, us = le64(d[4:]), le64(d[12:])
		} else {
			cs, us = uint64(le32(d[4:])), uint64(le32(d[8:]))
		}
		if le32(d) != f.CRC32 || cs != f.CompressedSize64 || us != f.UncompressedSize64 {
			continue
		}
		if next := at + fm.n; next != limit {
			s, err := readAt(r, next, 4)
			if err != nil || le32(s) != sigLocal {
				continue
			}
		}
		return fm.n, nil
	}
	return 0, errors.New("data descriptor missing, disagrees with the central directory, or not followed by the next entry (data between entries)")
}

// forEachExtra walks a zip extra field: blocks of id(2) size(2) data(size).
func forEachExtra(extra []byte, fn func(id uint16, data []byte) error) error {
	for len(extra) > 0 {
		if len(extra) < 4 {
			return fmt.Errorf("%d stray bytes", len(extra))
		}
		id, n := le16(extra), int(le16(extra[2:]))
		if n > len(extra)-4 {
			return fmt.Errorf("block %#04x of %d bytes overruns the field", id, n)
		}
		if err := fn(id, extra[4:4+n]); err != nil {
			return err
		}
		extra = extra[4+n:]
	}
	return nil
}

// checkExtra rejects an Info-ZIP Unicode Path field that is current (its
// CRC matches the header name, so tools that know it will use it) but
// names a different file: such an entry extracts under a name other than
// the one we check.
func checkExtra(name string, id uint16, data []byte) error {
	if id != extraUnicodePath || len(data) < 5 || data[0] != 1 {
		return nil
	}
	if le32(data[1:]) == crc32.ChecksumIEEE([]byte(name)) && string(data[5:]) != name {
		return fmt.Errorf("%w: Unicode Path extra field names %s", ErrBadName, quote(string(data[5:])))
	}
	return nil
}
