package bagit

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Options configure a ZipWriter.
type Options struct {
	// Time is stored as the modification time of every entry (in UTC,
	// truncated to the second) and, as a UTC date, as Bagging-Date. It must
	// be set: pass the time from an injected clock, so that the same
	// inputs produce the same bytes.
	Time time.Time
}

// A ZipWriter writes a zipped bag to an io.Writer, streaming: payload
// bytes pass through once and are never held whole in memory.
//
// Entries appear in this order: bagit.txt; payload and extra tag files in
// the order they were added; then, at Close, a data/ directory entry if
// there is no payload file, bag-info.txt,
// manifest-sha256.txt, manifest-sha512.txt, tagmanifest-sha256.txt,
// tagmanifest-sha512.txt and the central directory. Paths given to the
// writer are relative to the base directory ("data/img/1.tif",
// "extra/notes.txt").
//
// After any error that left an entry half-written (a failing reader or
// output, a cancelled context) the writer refuses further calls and Close
// writes nothing more, so the output is not a readable zip and must be
// discarded. Errors about a path or label are reported before anything is
// written and leave the writer usable.
//
// A ZipWriter is not safe for concurrent use.
type ZipWriter struct {
	zw      *zip.Writer
	base    string
	mtime   time.Time
	err     error // sticky
	closed  bool
	started bool
	names   *nameSet
	payload []pathDigests
	tags    []pathDigests
	info    []Tag
}

type pathDigests struct {
	path string
	d    Digests
}

// NewZipWriter returns a writer of a bag whose base directory (the zip's
// single top-level directory) is baseDir, a single portable path segment
// that may also contain '%' (it appears in no manifest).
// Problems with baseDir or opts are reported by the first method called.
func NewZipWriter(out io.Writer, baseDir string, opts Options) *ZipWriter {
	w := &ZipWriter{zw: zip.NewWriter(out), base: baseDir, names: newNameSet()}
	switch {
	case opts.Time.IsZero():
		w.err = errors.New("bagit: Options.Time is not set")
	case strings.Contains(baseDir, "/"):
		w.err = fmt.Errorf("bagit: base directory %s: %w: must be one path segment", quote(baseDir), ErrUnsafePath)
	default:
		// '%' is refused in paths because a manifest would have to
		// percent-encode it; the base directory is in no manifest, and
		// bundles name it with escaped case references (docs/bundle.md).
		if err := checkPortable(strings.ReplaceAll(baseDir, "%", "_")); err != nil {
			w.err = fmt.Errorf("bagit: base directory %s: %w", quote(baseDir), err)
		}
	}
	w.mtime = opts.Time.UTC().Truncate(time.Second)
	return w
}

func (w *ZipWriter) usable() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return ErrClosed
	}
	return nil
}

// AddPayload copies r into the bag as the payload file relPath, which must
// start with "data/" and be a portable path (see docs/bagit-profile.md):
// clean, relative, UTF-8, no control characters, no <>:"|?*%\ characters,
// distinct from every other path also under case folding and Unicode
// normalisation. The file is stored uncompressed unless compress is set
// (use it for text; images are already compressed). It returns the size
// and digests of what was read.
func (w *ZipWriter) AddPayload(ctx context.Context, relPath string, r io.Reader, compress bool) (Digests, error) {
	if err := w.usable(); err != nil {
		return Digests{}, err
	}
	if !strings.HasPrefix(relPath, "data/") {
		return Digests{}, fmt.Errorf("bagit: payload path %s: %w: must start with data/", quote(relPath), ErrUnsafePath)
	}
	if err := w.claim(relPath); err != nil {
		return Digests{}, err
	}
	if err := w.start(); err != nil {
		return Digests{}, err
	}
	method := zip.Store
	if compress {
		method = zip.Deflate
	}
	ew, err := w.zw.CreateHeader(w.header(relPath, method))
	if err != nil {
		return Digests{}, w.fail(relPath, err)
	}
	d, err := hashCopy(ctx, r, ew, false)
	if err != nil {
		return Digests{}, w.fail(relPath, err)
	}
	w.payload = append(w.payload, pathDigests{relPath, d})
	return d, nil
}

// AddTagFile adds an extra tag file (outside data/, not a name reserved by
// RFC 8493: bagit.txt, bag-info.txt, fetch.txt, manifest-*.txt,
// tagmanifest-*.txt). It is stored uncompressed and listed in the tag
// manifests.
func (w *ZipWriter) AddTagFile(relPath string, b []byte) error {
	if err := w.usable(); err != nil {
		return err
	}
	top, _, _ := strings.Cut(relPath, "/")
	if collisionKey(top) == collisionKey("data") {
		return fmt.Errorf("bagit: tag file %s: %w: tag files live outside data/", quote(relPath), ErrUnsafePath)
	}
	if reservedTagName(relPath) {
		return fmt.Errorf("bagit: tag file %s: %w: name reserved by RFC 8493", quote(relPath), ErrDuplicate)
	}
	if err := w.claim(relPath); err != nil {
		return err
	}
	if err := w.start(); err != nil {
		return err
	}
	return w.writeTag(relPath, b, false)
}

// reservedTagName reports names RFC 8493 gives a meaning to, compared as a
// case-insensitive file system would.
func reservedTagName(p string) bool {
	k := collisionKey(p)
	for _, r := range []string{"bagit.txt", "bag-info.txt", "fetch.txt"} {
		if k == collisionKey(r) {
			return true
		}
	}
	if strings.Contains(p, "/") || !strings.HasSuffix(k, collisionKey(".txt")) {
		return false
	}
	return strings.HasPrefix(k, collisionKey("manifest-")) || strings.HasPrefix(k, collisionKey("tagmanifest-"))
}

// AddInfo appends a bag-info.txt element. Elements keep their order and
// may repeat. The label must not be empty, contain a colon or line break,
// or start or end with whitespace; the value must be one non-empty line
// not starting with whitespace. Payload-Oxum and Bagging-Date are written
// by Close and cannot be added.
func (w *ZipWriter) AddInfo(label, value string) error {
	if err := w.usable(); err != nil {
		return err
	}
	if err := checkLabel(label); err != nil {
		return fmt.Errorf("bagit: bag-info label: %w", err)
	}
	if strings.EqualFold(label, "Payload-Oxum") || strings.EqualFold(label, "Bagging-Date") {
		return fmt.Errorf("bagit: bag-info label %s: %w: written by Close", quote(label), ErrDuplicate)
	}
	if err := checkValue(value); err != nil {
		return fmt.Errorf("bagit: bag-info %s: %w", quote(label), err)
	}
	w.info = append(w.info, Tag{Label: label, Value: value})
	return nil
}

// Close writes bag-info.txt (the added elements, then Bagging-Date and
// Payload-Oxum), the payload manifests and tag manifests for SHA-256 and
// SHA-512 (lines sorted by path), and the zip central directory. It does
// not close the underlying writer.
func (w *ZipWriter) Close() error {
	if err := w.usable(); err != nil {
		return err
	}
	w.closed = true
	if err := w.start(); err != nil {
		return err
	}
	if len(w.payload) == 0 {
		// RFC 8493 requires data/ even when empty; with no payload file to
		// imply it, write it as a directory entry.
		h := &zip.FileHeader{Name: w.base + "/data/", Modified: w.mtime}
		h.SetMode(fs.ModeDir | 0o755)
		if _, err := w.zw.CreateHeader(h); err != nil {
			return w.fail("data/", err)
		}
	}
	var octets int64
	for _, p := range w.payload {
		octets += p.d.Size
	}
	info := append(append([]Tag(nil), w.info...),
		Tag{"Bagging-Date", w.mtime.Format("2006-01-02")},
		Tag{"Payload-Oxum", strconv.FormatInt(octets, 10) + "." + strconv.Itoa(len(w.payload))})
	if err := w.writeTag("bag-info.txt", formatBagInfo(info), true); err != nil {
		return err
	}
	if err := w.writeTag("manifest-sha256.txt", manifestText(w.payload, sha256Of), true); err != nil {
		return err
	}
	if err := w.writeTag("manifest-sha512.txt", manifestText(w.payload, sha512Of), true); err != nil {
		return err
	}
	tags := append([]pathDigests(nil), w.tags...)
	if err := w.writeTag("tagmanifest-sha256.txt", manifestText(tags, sha256Of), true); err != nil {
		return err
	}
	if err := w.writeTag("tagmanifest-sha512.txt", manifestText(tags, sha512Of), true); err != nil {
		return err
	}
	if err := w.zw.Close(); err != nil {
		return w.fail("central directory", err)
	}
	return nil
}

func sha256Of(d Digests) []byte { return d.SHA256[:] }
func sha512Of(d Digests) []byte { return d.SHA512[:] }

// manifestText renders manifest lines sorted by path (byte order).
func manifestText(files []pathDigests, sum func(Digests) []byte) []byte {
	sorted := append([]pathDigests(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].path < sorted[j].path })
	var b strings.Builder
	for _, f := range sorted {
		b.WriteString(formatManifestLine(sum(f.d), f.path))
	}
	return []byte(b.String())
}

// claim checks relPath and reserves it against later collisions.
func (w *ZipWriter) claim(relPath string) error {
	if err := checkPortable(relPath); err != nil {
		return fmt.Errorf("bagit: %s: %w", quote(relPath), err)
	}
	if n, max := len(w.base)+1+len(relPath), DefaultLimits().MaxNameLength; n > max {
		return fmt.Errorf("bagit: %s: %w: entry name of %d bytes, over the %d a reader accepts by default", quote(relPath), ErrBadName, n, max)
	}
	if err := w.names.addFile(relPath); err != nil {
		return fmt.Errorf("bagit: %w", err)
	}
	return nil
}

// start writes bagit.txt first, so that the archive declares itself.
func (w *ZipWriter) start() error {
	if w.started {
		return nil
	}
	w.started = true
	return w.writeTag("bagit.txt", []byte(declaration), true)
}

// writeTag writes a stored tag file. Generated files (generated is true)
// are recorded in the name set here; callers' files were claimed already.
func (w *ZipWriter) writeTag(relPath string, b []byte, generated bool) error {
	if generated {
		if err := w.names.addFile(relPath); err != nil {
			return fmt.Errorf("bagit: %w", err)
		}
	}
	ew, err := w.zw.CreateHeader(w.header(relPath, zip.Store))
	if err != nil {
		return w.fail(relPath, err)
	}
	if _, err := ew.Write(b); err != nil {
		return w.fail(relPath, err)
	}
	if _, isManifest := tagManifestName(relPath); !isManifest {
		w.tags = append(w.tags, pathDigests{relPath, digestsOf(b)})
	}
	return nil
}

func (w *ZipWriter) header(relPath string, method uint16) *zip.FileHeader {
	h := &zip.FileHeader{Name: w.base + "/" + relPath, Method: method, Modified: w.mtime}
	h.SetMode(0o644)
	return h
}

// fail makes err sticky: an entry may be half-written.
func (w *ZipWriter) fail(relPath string, err error) error {
	w.err = fmt.Errorf("bagit: writing %s: %w (output is unusable)", quote(relPath), err)
	return w.err
}
