package hubblobs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	"github.com/exhibit-forensics/exhibit/chain/blobstore/fsstore"
	"github.com/exhibit-forensics/exhibit/chain/blobstore/s3store"
	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// dataDir is the data directory the table's URLs are parsed against.
const dataDir = "/srv/hub"

var parseCases = []struct {
	name string
	raw  string
	dir  string // want a directory
	s3   string // want this canonical S3 URL
	err  string // want an error containing this
}{
	{name: "default", raw: "", dir: "/srv/hub/blobs"},
	{name: "file", raw: "file:///var/lib/exhibit/blobs", dir: "/var/lib/exhibit/blobs"},
	{name: "file-slash", raw: "file:///var/lib/exhibit/blobs/", dir: "/var/lib/exhibit/blobs"},
	{name: "file-one-slash", raw: "file:/mnt/blobs", dir: "/mnt/blobs"},
	{name: "file-space", raw: "file:///mnt/my%20blobs", dir: "/mnt/my blobs"},
	{name: "file-upper", raw: "FILE:///mnt/blobs", dir: "/mnt/blobs"},
	{name: "s3", raw: "s3://evidence?endpoint=http://127.0.0.1:7070&region=eu-west-2", s3: "s3://evidence?endpoint=http%3A%2F%2F127.0.0.1%3A7070&region=eu-west-2"},
	{name: "s3-prefix", raw: "s3://force-blobs/hub-1?credentials_env=EXHIBIT_S3", s3: "s3://force-blobs/hub-1/?credentials_env=EXHIBIT_S3"},
	{name: "s3-path-style", raw: "s3://evidence?endpoint=https://s3.example.org&path_style=true", s3: "s3://evidence?endpoint=https%3A%2F%2Fs3.example.org"},

	{name: "path", raw: "/var/lib/blobs", err: "a path, not a URL: write file:///var/lib/blobs"},
	{name: "relative", raw: "blobs", err: "want file:///DIR or s3://"},
	{name: "http", raw: "http://example.org/blobs", err: `scheme "http"`},
	{name: "file-host", raw: "file://nas/blobs", err: "names a directory on this machine"},
	{name: "file-localhost", raw: "file://localhost/blobs", err: "names a directory on this machine"},
	{name: "file-user", raw: "file://user:pw@/blobs", err: "not shown"},
	{name: "file-opaque", raw: "file:blobs", err: "three slashes"},
	{name: "file-query", raw: "file:///blobs?sync=1", err: "no options"},
	{name: "file-empty-query", raw: "file:///blobs?", err: "no options"},
	{name: "file-fragment", raw: "file:///blobs#x", err: "fragment"},
	{name: "file-escaped-slash", raw: "file:///a%2Fb", err: "escaped"},
	{name: "file-root", raw: "file:///", err: "root directory"},
	{name: "file-empty", raw: "file://", err: "absolute directory"},
	{name: "file-dotdot", raw: "file:///srv/../etc", err: "not clean"},
	{name: "file-double-slash", raw: "file:///srv//blobs", err: "not clean"},
	{name: "file-dot", raw: "file:///srv/./blobs", err: "not clean"},
	{name: "file-nul", raw: "file:///srv/%00", err: "NUL"},
	{name: "file-bad-escape", raw: "file:///srv/%zz", err: "invalid URL escape"},
	{name: "s3-userinfo", raw: "s3://AKIAEXAMPLE:secret@evidence?endpoint=http://127.0.0.1:7070", err: "credentials do not belong in the URL"},
	{name: "s3-endpoint-user", raw: "s3://evidence?endpoint=http://u:p@127.0.0.1:7070", err: "no user"},
	{name: "s3-unknown-option", raw: "s3://evidence?secret_key=x", err: "unknown option"},
	{name: "s3-dash-option", raw: "s3://evidence?endpoint=http://h&path-style=true", err: "unknown option"},
	{name: "s3-no-bucket", raw: "s3://", err: "no bucket"},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		l, err := Parse(tc.raw, dataDir)
		if tc.err != "" {
			if err == nil || !errors.Is(err, ErrBadURL) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: Parse(%q) = %+v, %v; want an ErrBadURL containing %q", tc.name, tc.raw, l, err, tc.err)
			}
			if strings.Contains(tc.raw, "@") && err != nil && (strings.Contains(err.Error(), ":secret") || strings.Contains(err.Error(), ":pw")) {
				t.Errorf("%s: the error shows the secret: %v", tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: Parse(%q): %v", tc.name, tc.raw, err)
			continue
		}
		switch {
		case tc.dir != "" && (l.Dir != tc.dir || l.S3 != nil):
			t.Errorf("%s: Parse(%q) = %+v, want the directory %s", tc.name, tc.raw, l, tc.dir)
		case tc.s3 != "" && (l.S3 == nil || l.S3.String() != tc.s3 || l.Dir != ""):
			t.Errorf("%s: Parse(%q) = %v, want %s", tc.name, tc.raw, l, tc.s3)
		}
		if again, err := Parse(l.String(), "/elsewhere"); err != nil || !reflect.DeepEqual(again, l) {
			t.Errorf("%s: Parse(%q) = %+v, %v; want %+v", tc.name, l.String(), again, err, l)
		}
	}
	if _, err := Parse("", ""); err == nil {
		t.Error("no URL and no data directory")
	}
}

// FuzzParse: Parse never panics; what it accepts has a canonical URL that
// parses to the same location; a URL with user information is never
// accepted.
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		l, err := Parse(raw, dataDir)
		if err != nil {
			if raw != "" && !errors.Is(err, ErrBadURL) {
				t.Fatalf("Parse(%q): an error not matching ErrBadURL: %v", raw, err)
			}
			return
		}
		if (l.S3 == nil) == (l.Dir == "") {
			t.Fatalf("Parse(%q) = %+v: not exactly one of a directory and a bucket", raw, l)
		}
		if l.S3 == nil && (!filepath.IsAbs(l.Dir) || filepath.Clean(l.Dir) != l.Dir) {
			t.Fatalf("Parse(%q) = %q: not a clean absolute directory", raw, l.Dir)
		}
		again, err := Parse(l.String(), dataDir)
		if err != nil || !reflect.DeepEqual(again, l) {
			t.Fatalf("Parse(%q) = %+v; Parse(%q) = %+v, %v", raw, l, l.String(), again, err)
		}
		if u, err := url.Parse(l.String()); err != nil || u.User != nil {
			t.Fatalf("Parse(%q): canonical URL %q carries user information (%v)", raw, l.String(), err)
		}
	})
}

// TestWriteCorpus keeps FuzzParse's committed seeds equal to the table.
func TestWriteCorpus(t *testing.T) {
	var seeds []fuzzseed.Seed
	for _, tc := range parseCases {
		seeds = append(seeds, fuzzseed.Seed{Name: tc.name, Args: []any{tc.raw}})
	}
	fuzzseed.Sync(t, "FuzzParse", seeds)
}

// roundTrip stores a blob by Receive and one by Ingest, and reads them back
// through Stat and Open.
func roundTrip(t *testing.T, s Store) {
	t.Helper()
	ctx := context.Background()
	a, b := []byte("a blob the hub received"), bytes.Repeat([]byte("ingested "), 1000)
	ha := chain.Sum(a)
	if info, err := s.Receive(ctx, ha, bytes.NewReader(a)); err != nil || info.Hash != ha || info.Size != int64(len(a)) {
		t.Fatalf("Receive: %v %v", info, err)
	}
	ib, err := s.Ingest(ctx, bytes.NewReader(b))
	if err != nil || ib.Hash != chain.Sum(b) {
		t.Fatalf("Ingest: %v %v", ib, err)
	}
	for _, want := range [][]byte{a, b} {
		h := chain.Sum(want)
		if info, err := s.Stat(ctx, h); err != nil || info.Size != int64(len(want)) {
			t.Fatalf("Stat: %v %v", info, err)
		}
		rc, n, err := s.Open(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || n != int64(len(want)) || !bytes.Equal(got, want) {
			t.Fatalf("Open: %d bytes, %v", len(got), err)
		}
	}
	if _, err := s.Receive(ctx, ha, bytes.NewReader(b)); !errors.Is(err, blobstore.ErrCorrupt) {
		t.Fatalf("Receive of the wrong bytes: %v", err)
	}
	if _, err := s.Stat(ctx, chain.Sum([]byte("never stored"))); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("Stat of a missing blob: %v", err)
	}
}

// The default and file:// open fsstore where the URL says.
func TestOpenDirectory(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	other := filepath.Join(t.TempDir(), "elsewhere")
	for raw, dir := range map[string]string{"": filepath.Join(data, DefaultDir), "file://" + other: other} {
		s, err := Open(ctx, raw, data)
		if err != nil {
			t.Fatal(err)
		}
		if fs, ok := s.(*fsstore.Store); !ok || fs.Dir() != dir {
			t.Fatalf("Open(%q): %T in %v", raw, s, s)
		}
		roundTrip(t, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, "sha256")); err != nil {
			t.Fatalf("Open(%q): the store is not in %s: %v", raw, dir, err)
		}
	}
	if _, err := Open(ctx, "file:///srv/../x", data); !errors.Is(err, ErrBadURL) {
		t.Fatalf("Open of a bad URL: %v", err)
	}
}

// s3:// opens s3store on a versitygw the test starts, with credentials from
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; a missing bucket and
// missing credentials fail at Open, saying so.
func TestOpenS3(t *testing.T) {
	srv := startVersitygw(t)
	ctx := context.Background()
	bucket := srv.newBucket(t)
	raw := "s3://" + bucket + "?endpoint=" + srv.endpoint + "&region=us-east-1"

	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	if _, err := Open(ctx, raw, t.TempDir()); err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Fatalf("Open without credentials: %v", err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", testAccess)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testSecret)
	s, err := Open(ctx, raw, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st, ok := s.(*s3store.Store); !ok || st.Config().Bucket != bucket || st.Config().Endpoint != srv.endpoint {
		t.Fatalf("Open(%q) = %T", raw, s)
	}
	roundTrip(t, s)
	// A second process's store on the same bucket sees the blobs.
	s2, err := Open(ctx, raw, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.Stat(ctx, chain.Sum([]byte("a blob the hub received"))); err != nil {
		t.Fatalf("the other store: %v", err)
	}
	if _, err := Open(ctx, "s3://no-such-bucket-here?endpoint="+srv.endpoint, ""); err == nil || !strings.Contains(err.Error(), "no-such-bucket-here") {
		t.Fatalf("Open of a missing bucket: %v", err)
	}
}
