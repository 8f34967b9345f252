// Package hubblobs opens the hub's blob store from the URL given to
// `exhibit hub --blobs`:
//
//	(empty)                     chain/blobstore/fsstore in DATA/blobs (the default)
//	file:///ABSOLUTE/DIR        chain/blobstore/fsstore in DIR
//	s3://BUCKET[/PREFIX]?…      chain/blobstore/s3store (its package doc lists the options)
//
// for example s3://evidence?endpoint=http://127.0.0.1:7070&region=eu-west-2.
// Credentials never go in the URL (a URL with user information is refused,
// since URLs end up in logs and process lists): s3store reads them from
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or
// from the variables credentials_env names.
//
// Parsing is strict: an unknown scheme, a file URL with a host, a query or a
// fragment, a relative or unclean path, or any s3store.ParseURL error is an
// error matching ErrBadURL, and nothing is opened. Several hub processes
// sharing one blob store give each the same URL: an S3 bucket, or a
// directory on a file system they all mount (fsstore's writes are safe
// across processes).
package hubblobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	"github.com/exhibit-forensics/exhibit/chain/blobstore/fsstore"
	"github.com/exhibit-forensics/exhibit/chain/blobstore/s3store"
)

// DefaultDir is the blob store's directory inside the hub's data directory
// when no URL is given.
const DefaultDir = "blobs"

// A Store is the hub's blob store: every blobstore operation, and Close.
// Consumers declare the narrower interface they use (a Receiver and a
// Statter, say); a Store satisfies it.
type Store interface {
	blobstore.Store
	io.Closer
}

var (
	_ Store = (*fsstore.Store)(nil)
	_ Store = (*s3store.Store)(nil)
)

// ErrBadURL is matched (errors.Is) by every error of Parse about the URL.
var ErrBadURL = errors.New("hubblobs: bad blob store URL")

// A Location is a parsed blob store URL: a directory, or an S3 bucket.
type Location struct {
	Dir string          // fsstore's directory; "" for S3
	S3  *s3store.Config // nil for a directory
}

// String is the canonical URL of the location: file:///DIR or
// s3store.Config.String. Parse(l.String(), …) == l.
func (l Location) String() string {
	if l.S3 != nil {
		return l.S3.String()
	}
	return (&url.URL{Scheme: "file", Path: l.Dir}).String()
}

// urlError is a URL refusal: it matches ErrBadURL, and wraps s3store's
// error where there is one.
type urlError struct{ err error }

func (e *urlError) Error() string        { return e.err.Error() }
func (e *urlError) Unwrap() error        { return e.err }
func (e *urlError) Is(target error) bool { return target == ErrBadURL }

// Parse parses a blob store URL; raw empty means DATA/blobs, made absolute.
func Parse(raw, dataDir string) (Location, error) {
	bad := func(format string, a ...any) (Location, error) {
		return Location{}, &urlError{fmt.Errorf("%w %q: %s", ErrBadURL, redact(raw), fmt.Sprintf(format, a...))}
	}
	if raw == "" {
		if dataDir == "" {
			return Location{}, errors.New("hubblobs: no blob store URL and no data directory")
		}
		dir, err := filepath.Abs(filepath.Join(dataDir, DefaultDir))
		if err != nil {
			return Location{}, fmt.Errorf("hubblobs: %w", err)
		}
		return Location{Dir: dir}, nil
	}
	scheme, _, ok := strings.Cut(raw, ":")
	if !ok || strings.Contains(scheme, "/") {
		if strings.HasPrefix(raw, "/") {
			return bad("a path, not a URL: write file://%s", raw)
		}
		return bad("want file:///DIR or s3://BUCKET?endpoint=…")
	}
	switch strings.ToLower(scheme) {
	case "s3":
		cfg, err := s3store.ParseURL(raw)
		if err != nil {
			return Location{}, &urlError{err}
		}
		return Location{S3: &cfg}, nil
	case "file":
	default:
		return bad("scheme %q: want file:///DIR or s3://BUCKET?endpoint=…", clip(scheme))
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return bad("%v", errors.Unwrap(err))
	case u.User != nil:
		return bad("no user or password in a file URL")
	case u.Opaque != "":
		return bad("want file:///ABSOLUTE/DIR (three slashes)")
	case u.Host != "":
		return bad("host %q: a file URL names a directory on this machine: file:///ABSOLUTE/DIR", clip(u.Host))
	case u.RawQuery != "" || u.ForceQuery:
		return bad("a file URL takes no options")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return bad("a fragment (#...) is not allowed")
	case u.RawPath != "":
		return bad("the path has escaped characters it does not need (%%2F?)")
	case strings.ContainsRune(u.Path, 0):
		return bad("a NUL in the path")
	}
	dir := u.Path
	if len(dir) > 1 {
		dir = strings.TrimSuffix(dir, "/")
	}
	switch {
	case !strings.HasPrefix(dir, "/"):
		return bad("want an absolute directory: file:///ABSOLUTE/DIR")
	case dir == "/":
		return bad("the root directory is not a blob store's")
	case filepath.Clean(dir) != dir:
		return bad("path %q is not clean (//, . or .. segments): write %s", clip(dir), filepath.Clean(dir))
	}
	return Location{Dir: dir}, nil
}

// Open parses raw (Parse) and opens the store: fsstore.Open for a
// directory, which it creates if need be; s3store.New for a bucket, with
// credentials from the environment, which checks that the bucket exists
// and the credentials are accepted.
func Open(ctx context.Context, raw, dataDir string) (Store, error) {
	l, err := Parse(raw, dataDir)
	if err != nil {
		return nil, err
	}
	return l.Open(ctx)
}

// Open opens the store at l.
func (l Location) Open(ctx context.Context) (Store, error) {
	if l.S3 != nil {
		s, err := s3store.New(ctx, *l.S3, s3store.Options{})
		if err != nil {
			return nil, fmt.Errorf("hubblobs: %w", err)
		}
		return s, nil
	}
	if l.Dir == "" {
		return nil, errors.New("hubblobs: an empty location")
	}
	s, err := fsstore.Open(ctx, l.Dir)
	if err != nil {
		return nil, fmt.Errorf("hubblobs: %w", err)
	}
	return s, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// redact hides whatever may be a secret: a URL with '@' is not shown.
func redact(raw string) string {
	if strings.Contains(raw, "@") {
		return "(URL not shown: it contains '@' and may hold a secret)"
	}
	return clip(raw)
}
