package bagit

import (
	"errors"
	"fmt"
)

// Errors returned by OpenZip (wrapped in an *EntryError when they concern
// one entry). Each names a class of hostile or broken archive.
var (
	ErrNotZip       = errors.New("not a zip archive (or truncated)")
	ErrMalformedZip = errors.New("malformed zip structure")
	// ErrCentralDirectory is wrapped, with ErrMalformedZip, when the end
	// record is found but the central directory it describes cannot be
	// located or walked, so the archive's entries cannot be listed.
	ErrCentralDirectory  = errors.New("central directory cannot be read")
	ErrUnsafePath        = errors.New("unsafe path")
	ErrBadName           = errors.New("bad file name")
	ErrDuplicate         = errors.New("duplicate or colliding name")
	ErrNotRegular        = errors.New("not a regular file")
	ErrLayout            = errors.New("not a single top-level bag directory")
	ErrTooManyEntries    = errors.New("too many entries")
	ErrTooLarge          = errors.New("too large")
	ErrCompressionRatio  = errors.New("compression ratio too high")
	ErrEncrypted         = errors.New("encrypted entry")
	ErrUnsupportedMethod = errors.New("unsupported compression method")
)

// Errors wrapped by Problem.Err in a validation Report.
var (
	// ErrEntryCorrupt: the entry's bytes could not be read back intact
	// (zip CRC mismatch, bad deflate stream, size differs from the header).
	ErrEntryCorrupt = errors.New("entry data corrupt")
	// ErrSyntax: a tag file line does not follow RFC 8493 syntax.
	ErrSyntax = errors.New("syntax error")
	// ErrUnsupported: valid BagIt this package cannot verify (another
	// BagIt version or encoding, an unknown checksum algorithm, fetch.txt).
	ErrUnsupported = errors.New("unsupported")
	// ErrMissingRequired: bagit.txt, manifest-sha256.txt or data/ is absent.
	ErrMissingRequired = errors.New("required element missing")
	// ErrDigestMismatch: a file's digest differs from its manifest line.
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrNotInManifest: a file is present but a manifest does not list it.
	ErrNotInManifest = errors.New("not listed in manifest")
	// ErrMissingFromPayload: a payload manifest lists a file that is absent.
	ErrMissingFromPayload = errors.New("listed but missing from payload")
	// ErrMissingTagFile: a tag manifest lists a tag file that is absent.
	ErrMissingTagFile = errors.New("listed but missing tag file")
	// ErrListedTwice: a manifest lists the same path on two lines.
	ErrListedTwice = errors.New("listed twice")
	// ErrManifestPath: a manifest lists a path it must not (a tag file in a
	// payload manifest; a payload file or tag manifest in a tag manifest).
	ErrManifestPath = errors.New("path not allowed in this manifest")
	// ErrOxum: Payload-Oxum is malformed, repeated, or does not match.
	ErrOxum = errors.New("payload-oxum mismatch")
	// ErrTooManyProblems: Limits.MaxProblems was reached; later problems
	// were counted but not recorded.
	ErrTooManyProblems = errors.New("too many problems")
)

// Errors returned by ZipWriter.
var (
	ErrClosed = errors.New("bag writer closed")
)

// An EntryError reports a problem with one zip entry, named exactly as it
// appears in the archive (quoted, since it may be hostile).
type EntryError struct {
	Entry string
	Err   error
}

func (e *EntryError) Error() string {
	return fmt.Sprintf("bagit: zip entry %s: %v", quote(e.Entry), e.Err)
}

func (e *EntryError) Unwrap() error { return e.Err }

func entryErr(name string, sentinel error, format string, args ...any) error {
	return &EntryError{Entry: name, Err: fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)}
}

// A Problem is one reason a bag is not valid. Path is the file concerned,
// relative to the bag's base directory ("data/img/1.tif", "bag-info.txt").
// For a problem found on a manifest line, Manifest names that manifest and
// Line is the 1-based line in it. For a syntax problem in a tag file,
// Manifest is empty and Line is the line in Path. Line is 0 when no line
// applies. Err wraps one of the sentinel errors of this package.
type Problem struct {
	Path     string
	Manifest string
	Line     int
	Err      error
}

func (p Problem) Error() string {
	switch {
	case p.Path == "" && p.Manifest == "":
		return p.Err.Error()
	case p.Manifest != "" && p.Line > 0:
		return fmt.Sprintf("%s: %s line %d: %v", quote(p.Path), p.Manifest, p.Line, p.Err)
	case p.Manifest != "":
		return fmt.Sprintf("%s: %s: %v", quote(p.Path), p.Manifest, p.Err)
	case p.Line > 0:
		return fmt.Sprintf("%s line %d: %v", quote(p.Path), p.Line, p.Err)
	default:
		return fmt.Sprintf("%s: %v", quote(p.Path), p.Err)
	}
}

func (p Problem) Unwrap() error { return p.Err }

// quote shortens and quotes untrusted text for an error message.
func quote(s string) string {
	const max = 200
	if len(s) > max {
		return fmt.Sprintf("%q…", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
