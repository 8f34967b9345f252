package bagit

import (
	"archive/zip"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

// A Bag is a zipped bag opened by OpenZip. Its structure has been checked;
// its content has not (use Validate). A Bag is safe for concurrent use by
// several goroutines if its io.ReaderAt is.
type Bag struct {
	r       io.ReaderAt
	base    string
	files   []*bagFile
	byPath  map[string]*bagFile
	dataDir bool
	limits  Limits

	// Progress, if set, is called as Validate reads the bag's files, with
	// the bytes read so far and the total it will read (the files'
	// uncompressed sizes), for a caller that shows progress.
	Progress func(done, total int64)
}

type bagFile struct {
	path string // relative to the base directory
	zf   *zip.File
}

// A File is one regular file in a bag.
type File struct {
	Path       string // relative to the base directory, e.g. "data/img/1.tif"
	Size       int64  // uncompressed size declared by the archive
	Compressed bool   // deflated (true) or stored
}

// OpenZip checks the structure of a zipped bag of size bytes read from r.
// It rejects, with an error wrapping a sentinel (an *EntryError naming the
// entry when one is at fault): input that is not a zip or is truncated
// (ErrNotZip); an end record whose central directory cannot be located or
// walked — not where the end record says, records missing or overrunning,
// split or inconsistent zip64 archives (ErrMalformedZip and
// ErrCentralDirectory); archive structure that hides, prepends, appends or
// overlaps data, or whose local and central headers disagree
// (ErrMalformedZip);
// absolute or escaping paths, backslashes, drive letters, colons, ".", ".."
// and empty segments (ErrUnsafePath); names that are not UTF-8, that are
// non-ASCII without the zip UTF-8 flag, too long, or contain control or
// bidirectional-formatting characters (ErrBadName); names that repeat, also
// after case folding and Unicode normalisation, or a file also used as a
// directory (ErrDuplicate); symlinks, devices, setuid and other non-regular
// entries (ErrNotRegular); entries outside a single top-level directory
// (ErrLayout); more entries than Limits.MaxEntries (ErrTooManyEntries);
// oversized entries, archives or central directories (ErrTooLarge);
// suspicious compression ratios (ErrCompressionRatio); encrypted entries
// (ErrEncrypted); methods other than store and deflate
// (ErrUnsupportedMethod). Sizes are checked here from the headers and
// enforced again while reading, since headers can lie.
func OpenZip(r io.ReaderAt, size int64, limits Limits) (*Bag, error) {
	l := limits.withDefaults()
	if r == nil || size < 0 {
		return nil, fmt.Errorf("bagit: %w: no input", ErrNotZip)
	}
	z, err := readEnd(r, size, l)
	if err != nil {
		return nil, fmt.Errorf("bagit: %w", err)
	}
	if err := checkCentral(r, z); err != nil {
		return nil, fmt.Errorf("bagit: %w", err)
	}
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, fmt.Errorf("bagit: %w: %v", ErrNotZip, err)
	}
	if zr.Comment != z.comment {
		return nil, fmt.Errorf("bagit: %w", dirErr("archive/zip read a different end record"))
	}
	if uint64(len(zr.File)) != z.entries {
		return nil, fmt.Errorf("bagit: %w", dirErr("end record declares %d entries, central directory holds %d", z.entries, len(zr.File)))
	}
	if len(zr.File) == 0 {
		return nil, fmt.Errorf("bagit: %w: empty archive", ErrLayout)
	}
	b := &Bag{r: r, byPath: map[string]*bagFile{}, limits: l}
	names := newNameSet()
	var total uint64
	for _, f := range zr.File {
		if err := b.addEntry(f, names, &total); err != nil {
			return nil, err
		}
	}
	if err := walkLocal(r, zr.File, z); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *Bag) addEntry(f *zip.File, names *nameSet, total *uint64) error {
	l := b.limits
	name := f.Name
	if len(name) > l.MaxNameLength {
		return entryErr(name, ErrBadName, "name of %d bytes, limit %d", len(name), l.MaxNameLength)
	}
	if f.Flags&(flagEncrypted|flagStrongEnc|flagMaskedHdr) != 0 || f.Method == methodAES {
		return entryErr(name, ErrEncrypted, "flags %#04x method %d", f.Flags, f.Method)
	}
	if f.Flags&flagUTF8 == 0 && !isASCII(name) {
		return entryErr(name, ErrBadName, "non-ASCII name without the zip UTF-8 flag (other tools would read it as CP437)")
	}
	if err := forEachExtra(f.Extra, func(id uint16, data []byte) error { return checkExtra(name, id, data) }); err != nil {
		if errors.Is(err, ErrBadName) {
			return &EntryError{Entry: name, Err: err}
		}
		return entryErr(name, ErrMalformedZip, "central extra field: %v", err)
	}
	isDir := strings.HasSuffix(name, "/")
	p := strings.TrimSuffix(name, "/")
	if err := checkPath(p); err != nil {
		return &EntryError{Entry: name, Err: err}
	}
	mode := f.Mode()
	switch {
	case isDir && mode.Type() != fs.ModeDir:
		return entryErr(name, ErrNotRegular, "directory name with file mode %v", mode)
	case !isDir && mode.Type() != 0:
		return entryErr(name, ErrNotRegular, "mode %v (symlink, device, pipe or directory)", mode)
	case mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0:
		return entryErr(name, ErrNotRegular, "setuid, setgid or sticky bit in mode %v", mode)
	}
	if f.Method != zip.Store && f.Method != zip.Deflate {
		return entryErr(name, ErrUnsupportedMethod, "method %d (only 0 store and 8 deflate)", f.Method)
	}
	us, cs := f.UncompressedSize64, f.CompressedSize64
	switch {
	case isDir && (us != 0 || cs != 0):
		return entryErr(name, ErrMalformedZip, "directory entry with %d bytes of data", max(us, cs))
	case f.Method == zip.Store && cs != us:
		return entryErr(name, ErrMalformedZip, "stored entry with compressed size %d != size %d", cs, us)
	case us > uint64(l.MaxEntrySize):
		return entryErr(name, ErrTooLarge, "%d bytes, limit %d", us, l.MaxEntrySize)
	case f.Method == zip.Deflate && us > uint64(l.RatioFloor) && us/uint64(l.MaxRatio) > cs:
		return entryErr(name, ErrCompressionRatio, "%d bytes from %d compressed, limit %d:1", us, cs, l.MaxRatio)
	}
	*total += us
	if *total > uint64(l.MaxTotalSize) {
		return entryErr(name, ErrTooLarge, "archive expands to more than %d bytes", l.MaxTotalSize)
	}

	top, rel, nested := strings.Cut(p, "/")
	if b.base == "" {
		b.base = top
	}
	switch {
	case top != b.base:
		return entryErr(name, ErrLayout, "second top-level name %s (the bag's base directory is %s)", quote(top), quote(b.base))
	case !nested && !isDir:
		return entryErr(name, ErrLayout, "file outside the base directory")
	}
	if seg, _, _ := strings.Cut(rel, "/"); seg != "data" && collisionKey(seg) == collisionKey("data") {
		return entryErr(name, ErrDuplicate, "%s is the payload directory data/ on case-insensitive file systems, a tag directory here", quote(seg))
	}
	if isDir {
		if err := names.addDir(p); err != nil {
			return &EntryError{Entry: name, Err: err}
		}
		if rel == "data" {
			b.dataDir = true
		}
		return nil
	}
	if err := names.addFile(p); err != nil {
		return &EntryError{Entry: name, Err: err}
	}
	if strings.HasPrefix(rel, "data/") {
		b.dataDir = true
	}
	bf := &bagFile{path: rel, zf: f}
	b.files = append(b.files, bf)
	b.byPath[rel] = bf
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// BaseDir returns the name of the bag's base directory, the archive's one
// top-level directory.
func (b *Bag) BaseDir() string { return b.base }

// Files lists the regular files of the bag in archive order.
func (b *Bag) Files() []File {
	out := make([]File, len(b.files))
	for i, f := range b.files {
		out[i] = File{Path: f.path, Size: int64(f.zf.UncompressedSize64), Compressed: f.zf.Method == zip.Deflate}
	}
	return out
}

// ReadFile returns the content of the file at path (relative to the base
// directory) if its size is at most max bytes (max <= 0 means
// Limits.MaxTagFileSize). The content is checked against the zip CRC; it is
// not checked against the manifests (Validate does that). Errors wrap
// fs.ErrNotExist, ErrTooLarge or ErrEntryCorrupt.
func (b *Bag) ReadFile(path string, max int64) ([]byte, error) {
	f := b.byPath[path]
	if f == nil {
		return nil, fmt.Errorf("bagit: %s: %w", quote(path), fs.ErrNotExist)
	}
	if max <= 0 {
		max = b.limits.MaxTagFileSize
	}
	if f.zf.UncompressedSize64 > uint64(max) {
		return nil, entryErr(f.zf.Name, ErrTooLarge, "%d bytes, cap %d", f.zf.UncompressedSize64, max)
	}
	rc, err := b.open(f)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf := make([]byte, f.zf.UncompressedSize64)
	n, err := fill(rc, buf)
	if err == nil {
		// Read on to EOF: the CRC is checked there.
		var one [1]byte
		var m int
		m, err = fill(rc, one[:])
		if m > 0 {
			return nil, entryErr(f.zf.Name, ErrEntryCorrupt, "more data than the declared %d bytes", len(buf))
		}
	}
	if err != io.EOF {
		return nil, err
	}
	if n != len(buf) {
		return nil, entryErr(f.zf.Name, ErrEntryCorrupt, "%d bytes, declared %d", n, len(buf))
	}
	return buf, nil
}

// Open returns a reader for the file at path, for streaming large payload
// files. The reader fails with ErrEntryCorrupt (in an *EntryError) if the
// data does not match the zip CRC or declared size; the check completes
// when it returns io.EOF.
func (b *Bag) Open(path string) (io.ReadCloser, error) {
	f := b.byPath[path]
	if f == nil {
		return nil, fmt.Errorf("bagit: %s: %w", quote(path), fs.ErrNotExist)
	}
	return b.open(f)
}

func (b *Bag) open(f *bagFile) (io.ReadCloser, error) {
	rc, err := f.zf.Open()
	if err != nil {
		return nil, classify(f.zf.Name, err)
	}
	return &entryReader{rc: rc, name: f.zf.Name, left: int64(f.zf.UncompressedSize64)}, nil
}

// entryReader bounds an entry to its declared size, independently of
// archive/zip, and classifies read errors.
type entryReader struct {
	rc   io.ReadCloser
	name string
	left int64
	err  error
}

func (e *entryReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.rc.Read(p)
	e.left -= int64(n)
	if e.left < 0 {
		e.err = entryErr(e.name, ErrEntryCorrupt, "more data than the declared size")
		return 0, e.err
	}
	if err != nil && err != io.EOF {
		e.err = classify(e.name, err)
		return n, e.err
	}
	if err == io.EOF && e.left != 0 {
		e.err = entryErr(e.name, ErrEntryCorrupt, "%d bytes short of the declared size", e.left)
		return n, e.err
	}
	return n, err
}

func (e *entryReader) Close() error { return e.rc.Close() }

// classify marks errors that mean "these bytes are not what the archive
// says" as ErrEntryCorrupt; anything else (an I/O error of the underlying
// reader) is passed on as it is.
func classify(name string, err error) error {
	var ce flate.CorruptInputError
	switch {
	case errors.Is(err, zip.ErrChecksum), errors.Is(err, zip.ErrFormat), errors.Is(err, zip.ErrAlgorithm),
		errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &ce):
		return &EntryError{Entry: name, Err: fmt.Errorf("%w: %w", ErrEntryCorrupt, err)}
	}
	return &EntryError{Entry: name, Err: err}
}
