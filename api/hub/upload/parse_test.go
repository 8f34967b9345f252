package upload

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	tusd "github.com/tus/tusd/v2/pkg/handler"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore/memstore"
	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

const fuzzMax = 1 << 20

var (
	emptyHash = hashOf(nil)
	someHash  = hashOf([]byte("some blob"))
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// createCases are creation requests and the status the hub answers;
// they are also FuzzCreate's seeds.
var createCases = []struct {
	name, length, meta string
	status             int
	body               string // in the answer's body
}{
	{"ok", "10", "sha256 " + b64(someHash.String()), http.StatusCreated, ""},
	{"ok-extra-keys", "10", "filename " + b64("x.jpg") + ",sha256 " + b64(someHash.String()), http.StatusCreated, ""},
	{"ok-empty-blob", "0", "sha256 " + b64(emptyHash.String()), http.StatusCreated, ""},
	{"empty-wrong-hash", "0", "sha256 " + b64(someHash.String()), StatusHashMismatch, "do not hash to"},
	{"at-max", strconv.Itoa(fuzzMax), "sha256 " + b64(someHash.String()), http.StatusCreated, ""},
	{"over-max", strconv.Itoa(fuzzMax + 1), "sha256 " + b64(someHash.String()), http.StatusRequestEntityTooLarge, "maximum size"},
	{"no-metadata", "10", "", http.StatusBadRequest, `no "sha256" key`},
	{"no-hash-key", "10", "filename " + b64("x"), http.StatusBadRequest, `no "sha256" key`},
	{"hash-without-value", "10", "sha256", http.StatusBadRequest, "sha256"},
	{"hash-not-base64", "10", "sha256 !!!", http.StatusBadRequest, "sha256"},
	{"bare-hex", "10", "sha256 " + b64(someHash.Hex()), http.StatusBadRequest, "does not start with"},
	{"upper-hex", "10", "sha256 " + b64("sha256:"+strings.ToUpper(someHash.Hex())), http.StatusBadRequest, "lowercase hex"},
	{"short-hex", "10", "sha256 " + b64("sha256:abcd"), http.StatusBadRequest, "hex digits"},
	{"other-algorithm", "10", "sha256 " + b64("sha512:"+someHash.Hex()), http.StatusBadRequest, "does not start with"},
	{"no-length", "", "sha256 " + b64(someHash.String()), http.StatusBadRequest, ""},
	{"negative-length", "-1", "sha256 " + b64(someHash.String()), http.StatusBadRequest, ""},
	{"length-not-number", "ten", "sha256 " + b64(someHash.String()), http.StatusBadRequest, ""},
	{"owner-forged", "10", "owner " + b64("dev-b") + ",sha256 " + b64(someHash.String()), http.StatusCreated, ""},
}

func fuzzServer(t testing.TB) (*Server, *memstore.Store) {
	st := memstore.New()
	s, err := NewServer(Config{Dir: t.TempDir(), Blobs: st, MaxSize: fuzzMax,
		Owner: func(r *http.Request) string { return r.Header.Get("X-Test-Device") }})
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

func create(s *Server, length, meta string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "https://hub.test"+DefaultBasePath, nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	if length != "" {
		req.Header.Set("Upload-Length", length)
	}
	if meta != "" {
		req.Header.Set("Upload-Metadata", meta)
	}
	req.Header.Set("X-Test-Device", "dev-a")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	return w
}

// checkCreate checks what any creation request may be answered.
func checkCreate(t *testing.T, s *Server, length, meta string, w *httptest.ResponseRecorder) {
	t.Helper()
	switch w.Code {
	case http.StatusCreated:
		loc := w.Header().Get("Location")
		id, ok := strings.CutPrefix(loc, "https://hub.test"+DefaultBasePath)
		if !ok || !validID(id) {
			t.Fatalf("201 with Location %q", loc)
		}
		want, err := DeclaredHash(tusd.ParseMetadataHeader(meta))
		if err != nil {
			t.Fatalf("201 for metadata %q: %v", meta, err)
		}
		n, err := ParseSize(length)
		if err != nil || n > fuzzMax {
			t.Fatalf("201 for length %q", length)
		}
		if n == 0 {
			return // completed at creation
		}
		info, err := s.info(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if info.MetaData[MetaHash] != want.String() || info.MetaData[metaOwner] != "dev-a" || len(info.MetaData) != 2 || info.Size != n {
			t.Fatalf("upload recorded as %+v", info)
		}
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, StatusHashMismatch:
		if strings.TrimSpace(w.Body.String()) == "" {
			t.Fatalf("%d without a reason", w.Code)
		}
	default:
		t.Fatalf("creation answered %d: %s", w.Code, w.Body)
	}
}

func TestCreate(t *testing.T) {
	s, _ := fuzzServer(t)
	for _, tc := range createCases {
		t.Run(tc.name, func(t *testing.T) {
			w := create(s, tc.length, tc.meta)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.body) {
				t.Fatalf("answer %d %q, want %d containing %q", w.Code, w.Body, tc.status, tc.body)
			}
			checkCreate(t, s, tc.length, tc.meta, w)
		})
	}
}

func FuzzCreate(f *testing.F) {
	s, _ := fuzzServer(f)
	f.Fuzz(func(t *testing.T, length, meta string) {
		checkCreate(t, s, length, meta, create(s, length, meta))
	})
}

var sizeCases = []struct {
	in string
	ok bool
}{
	{"0", true}, {"1", true}, {"9223372036854775807", true}, {"9223372036854775808", false},
	{"", false}, {"-1", false}, {"+1", false}, {" 1", false}, {"1.0", false}, {"0x10", false},
	{"00012", true}, {"99999999999999999999", false},
}

func TestParseSize(t *testing.T) {
	for _, tc := range sizeCases {
		if _, err := ParseSize(tc.in); (err == nil) != tc.ok {
			t.Errorf("ParseSize(%q): %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			return
		}
		if n < 0 || strings.TrimLeft(s, "0") != strings.TrimLeft(strconv.FormatInt(n, 10), "0") {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
	})
}

var blobPathCases = []struct {
	path   string
	status int
}{
	{BlobsPath + someHash.String(), http.StatusOK},
	{BlobsPath + emptyHash.String(), http.StatusNotFound},
	{BlobsPath + someHash.Hex(), http.StatusBadRequest},
	{BlobsPath + "sha256:" + strings.ToUpper(someHash.Hex()), http.StatusBadRequest},
	{BlobsPath, http.StatusBadRequest},
	{"/v1/blob/" + someHash.String(), http.StatusBadRequest},
	{BlobsPath + someHash.String() + "/x", http.StatusBadRequest},
}

func blobStatus(s *Server, method, path string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "https://hub.test/", nil)
	req.URL.Path = path
	w := httptest.NewRecorder()
	s.BlobStatus(w, req)
	return w
}

func TestBlobStatus(t *testing.T) {
	s, st := fuzzServer(t)
	if _, err := st.Receive(context.Background(), someHash, strings.NewReader("some blob")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range blobPathCases {
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			w := blobStatus(s, m, tc.path)
			if w.Code != tc.status {
				t.Errorf("%s %s: %d, want %d", m, tc.path, w.Code, tc.status)
			}
			if w.Code == http.StatusOK && w.Header().Get(SizeHeader) != "9" {
				t.Errorf("%s %s: size %q, want 9", m, tc.path, w.Header().Get(SizeHeader))
			}
		}
	}
	if w := blobStatus(s, http.MethodPost, BlobsPath+someHash.String()); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", w.Code)
	}
}

func FuzzBlobStatus(f *testing.F) {
	s, st := fuzzServer(f)
	if _, err := st.Receive(context.Background(), someHash, strings.NewReader("some blob")); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, path string) {
		w := blobStatus(s, http.MethodHead, path)
		switch w.Code {
		case http.StatusOK:
			if h, err := ParseBlobPath(path); err != nil || h != someHash {
				t.Fatalf("200 for %q", path)
			}
		case http.StatusNotFound:
			if _, err := chain.ParseHash(strings.TrimPrefix(path, BlobsPath)); err != nil {
				t.Fatalf("404 for the malformed %q", path)
			}
		case http.StatusBadRequest:
			if _, err := ParseBlobPath(path); err == nil {
				t.Fatalf("400 for the well-formed %q", path)
			}
		default:
			t.Fatalf("%q answered %d", path, w.Code)
		}
	})
}

// TestWriteCorpus keeps the fuzz targets' committed seed corpora equal to
// the tables; -write-corpus rewrites them.
func TestWriteCorpus(t *testing.T) {
	var seeds []fuzzseed.Seed
	for _, tc := range createCases {
		seeds = append(seeds, fuzzseed.Seed{Name: tc.name, Args: []any{tc.length, tc.meta}})
	}
	fuzzseed.Sync(t, "FuzzCreate", seeds)
	seeds = nil
	for _, tc := range sizeCases {
		seeds = append(seeds, fuzzseed.Seed{Args: []any{tc.in}})
	}
	fuzzseed.Sync(t, "FuzzParseSize", seeds)
	seeds = nil
	for _, tc := range blobPathCases {
		seeds = append(seeds, fuzzseed.Seed{Args: []any{tc.path}})
	}
	fuzzseed.Sync(t, "FuzzBlobStatus", seeds)
}
