package bundle

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
)

// fixture is a deterministic ledger with a case of three exhibits, a
// handover, a seal, and a key rotation between records.
type fixture struct {
	l       *ledger.Ledger
	zip     []byte
	pub     ed25519.PublicKey // the log's first key
	entries []entry
}

type entry struct {
	name string
	data []byte
}

var (
	fixOnce sync.Once
	fix     *fixture
	fixErr  error
)

func newFixture(t testing.TB) *fixture {
	fixOnce.Do(func() { fix, fixErr = buildFixture() })
	if fixErr != nil {
		t.Fatal(fixErr)
	}
	return fix
}

func buildFixture() (*fixture, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "bundle-fixture-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { now = now.Add(time.Second); return now }
	opt := datadir.Options{Now: clock, Rand: rand.NewChaCha8([32]byte{1})}
	l, err := datadir.Init(ctx, dir, "Jo Smith", "JS", opt)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	ring, _ := l.Keyring(ctx)
	first := ring.Spans()[0].Public
	files := []struct{ name, body string }{
		{"statement.pdf", "%PDF-1.7 a witness statement"},
		{"IMG_0001.png", strings.Repeat("\x89PNG pixels ", 300)},
		{"notes.txt", "notes made at the scene\n"},
	}
	for i, f := range files {
		if _, _, err := l.Import(ctx, ledger.ImportRequest{Case: "CASE-7", Kind: chain.ExhibitDocument, FileName: f.name, Body: strings.NewReader(f.body)}); err != nil {
			return nil, err
		}
		if i == 1 {
			if err := l.RotateKey(ctx, chain.Person{Name: "Admin"}, "test rotation"); err != nil {
				return nil, err
			}
		}
	}
	if _, err := l.Append(ctx, "JS/1", chain.KindSealed, chain.Person{Name: "Jo Smith"}, func(st *chain.Statement) error {
		st.Predicate.Note = "sealed in bag SEAL-42"
		return nil
	}); err != nil {
		return nil, err
	}
	at := clock()
	jo := chain.Party{Person: chain.Person{ID: "jsmith", Name: "Jo Smith"}, AuthMethod: "password", AuthAt: at}
	asha := chain.Party{Person: chain.Person{ID: "akhan", Name: "Asha Khan"}, AuthMethod: "password", AuthAt: at}
	if _, err := l.Transfer(ctx, "JS/1", jo, asha, "to the laboratory", "SEAL-42"); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := Export(ctx, l, "CASE-7", chain.Person{Name: "DC Ann Lee", ID: "alee"}, &buf, ExportOptions{}); err != nil {
		return nil, err
	}
	f := &fixture{l: nil, zip: buf.Bytes(), pub: first}
	zr, err := zip.NewReader(bytes.NewReader(f.zip), int64(len(f.zip)))
	if err != nil {
		return nil, err
	}
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		f.entries = append(f.entries, entry{zf.Name, b})
	}
	return f, nil
}

func verifyBytes(t testing.TB, b []byte, opt Options) *Result {
	t.Helper()
	res, err := Verify(context.Background(), bytes.NewReader(b), int64(len(b)), opt)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return res
}

// rezip writes entries as a zip (correct CRCs), in order.
func rezip(t testing.TB, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// remanifest recomputes every manifest and tag manifest, as an attacker who
// knows BagIt would after changing a file.
func remanifest(entries []entry) []entry {
	base := entries[0].name[:strings.Index(entries[0].name, "/")+1]
	out := append([]entry(nil), entries...)
	type sum struct{ path, s256, s512 string }
	var payload []sum
	for _, e := range out {
		rel := strings.TrimPrefix(e.name, base)
		if strings.HasPrefix(rel, "data/") {
			a, b := sha256.Sum256(e.data), sha512.Sum512(e.data)
			payload = append(payload, sum{rel, hex.EncodeToString(a[:]), hex.EncodeToString(b[:])})
		}
	}
	sort.Slice(payload, func(i, j int) bool { return payload[i].path < payload[j].path })
	text := func(sums []sum, long bool) []byte {
		var b strings.Builder
		for _, s := range sums {
			d := s.s256
			if long {
				d = s.s512
			}
			fmt.Fprintf(&b, "%s  %s\n", d, s.path)
		}
		return []byte(b.String())
	}
	set := func(rel string, data []byte) {
		for i := range out {
			if out[i].name == base+rel {
				out[i].data = data
			}
		}
	}
	set("manifest-sha256.txt", text(payload, false))
	set("manifest-sha512.txt", text(payload, true))
	var tags []sum
	for _, e := range out {
		rel := strings.TrimPrefix(e.name, base)
		if !strings.HasPrefix(rel, "data/") && !strings.HasPrefix(rel, "tagmanifest-") {
			a, b := sha256.Sum256(e.data), sha512.Sum512(e.data)
			tags = append(tags, sum{rel, hex.EncodeToString(a[:]), hex.EncodeToString(b[:])})
		}
	}
	sort.Slice(tags, func(i, j int) bool { return tags[i].path < tags[j].path })
	set("tagmanifest-sha256.txt", text(tags, false))
	set("tagmanifest-sha512.txt", text(tags, true))
	return out
}

func rel(name string) string { return name[strings.Index(name, "/")+1:] }

func names(r *Result) string {
	var b strings.Builder
	for _, p := range r.Problems {
		b.WriteString(p.String())
		b.WriteString("\n")
	}
	return b.String()
}

func TestVerifyValid(t *testing.T) {
	f := newFixture(t)
	res := verifyBytes(t, f.zip, Options{})
	if !res.Valid {
		t.Fatalf("fixture bundle invalid:\n%s", names(res))
	}
	if res.Case != "CASE-7" || len(res.Exhibits) != 3 || len(res.Keys) != 2 || res.Records != 10 {
		t.Fatalf("result %+v", res)
	}
	if len(res.Warnings) == 0 || res.Keys[0].Pinned {
		t.Fatal("an unpinned verification must say the key is not pinned")
	}
	pinned := verifyBytes(t, f.zip, Options{Trusted: []ed25519.PublicKey{f.pub}})
	if !pinned.Valid || !pinned.Keys[0].Pinned || !pinned.Keys[1].Pinned {
		t.Fatalf("pinned: %+v\n%s", pinned.Keys, names(pinned))
	}
	other, _, _ := ed25519.GenerateKey(rand.NewChaCha8([32]byte{9}))
	wrong := verifyBytes(t, f.zip, Options{Trusted: []ed25519.PublicKey{other}})
	if wrong.Valid || !strings.Contains(names(wrong), "not one of the trusted keys") {
		t.Fatalf("wrong pinned key accepted:\n%s", names(wrong))
	}
	// Rezipping with the same contents (another zip tool) stays valid.
	if res := verifyBytes(t, rezip(t, f.entries), Options{}); !res.Valid {
		t.Fatalf("rezipped bundle invalid:\n%s", names(res))
	}
}

// TestFlipABitInEveryFile: for each file in the bundle, one flipped bit is
// detected and the problem names that file.
func TestFlipABitInEveryFile(t *testing.T) {
	f := newFixture(t)
	for i, e := range f.entries {
		if len(e.data) == 0 {
			continue
		}
		for _, pos := range []int{0, len(e.data) / 2, len(e.data) - 1} {
			mut := append([]entry(nil), f.entries...)
			d := bytes.Clone(e.data)
			d[pos] ^= 1 << (pos % 8)
			mut[i].data = d
			res := verifyBytes(t, rezip(t, mut), Options{})
			if res.Valid {
				t.Errorf("%s: bit flipped at byte %d not detected", e.name, pos)
				continue
			}
			if !strings.Contains(names(res), rel(e.name)) {
				t.Errorf("%s: bit flipped at byte %d detected but not located:\n%s", e.name, pos, names(res))
			}
		}
	}
}

// TestConsistentTampering: an attacker changes a file and rewrites every
// manifest to match. The signatures, proofs and derivations still catch it
// and name the file.
func TestConsistentTampering(t *testing.T) {
	f := newFixture(t)
	for i, e := range f.entries {
		r := rel(e.name)
		if strings.HasPrefix(r, "manifest-") || strings.HasPrefix(r, "tagmanifest-") || len(e.data) == 0 {
			continue // rewritten by the attacker anyway
		}
		n := 12
		if len(e.data) < n {
			n = len(e.data)
		}
		for k := 0; k < n; k++ {
			pos := k * len(e.data) / n
			mut := append([]entry(nil), f.entries...)
			d := bytes.Clone(e.data)
			d[pos] ^= 1 << (k % 8)
			mut[i].data = d
			res := verifyBytes(t, rezip(t, remanifest(mut)), Options{})
			if res.Valid {
				t.Errorf("%s: consistent change at byte %d (%q→%q) not detected", r, pos, e.data[pos], d[pos])
				continue
			}
			if !strings.Contains(names(res), r) {
				t.Errorf("%s: consistent change at byte %d detected but not located:\n%s", r, pos, names(res))
			}
		}
	}
}

func TestRemovedOrAddedFiles(t *testing.T) {
	f := newFixture(t)
	for i, e := range f.entries {
		r := rel(e.name)
		if !strings.HasPrefix(r, "data/") {
			continue
		}
		mut := append(append([]entry(nil), f.entries[:i]...), f.entries[i+1:]...)
		res := verifyBytes(t, rezip(t, remanifest(mut)), Options{})
		if res.Valid {
			t.Errorf("removing %s (manifests rewritten) not detected", r)
		}
	}
	base := f.entries[0].name[:strings.Index(f.entries[0].name, "/")+1]
	for _, extra := range []string{"data/exhibits/JS-1/planted.jpg", "data/records/extra.txt", "data/other.txt"} {
		mut := append(append([]entry(nil), f.entries...), entry{base + extra, []byte("planted")})
		res := verifyBytes(t, rezip(t, remanifest(mut)), Options{})
		if res.Valid || !strings.Contains(names(res), extra) {
			t.Errorf("adding %s (manifests rewritten) not detected and located:\n%s", extra, names(res))
		}
	}
}

func TestTruncatedAndGarbage(t *testing.T) {
	f := newFixture(t)
	refused := func(b []byte) bool {
		res, err := Verify(context.Background(), bytes.NewReader(b), int64(len(b)), Options{})
		if err != nil {
			return errors.Is(err, ErrUnreadable)
		}
		return !res.Valid && len(res.Problems) > 0
	}
	for _, n := range []int{0, 1, 22, len(f.zip) / 3, len(f.zip) - 23, len(f.zip) - 1} {
		if !refused(f.zip[:n]) {
			t.Errorf("zip truncated to %d bytes accepted", n)
		}
	}
	if !refused(append([]byte("garbage"), f.zip...)) {
		t.Error("zip with a garbage prefix accepted")
	}
}

// TestInteropCoreutils: the unzipped bag passes coreutils' checksum tools,
// as an RFC 8493 validator would check it.
func TestInteropCoreutils(t *testing.T) {
	for _, tool := range []string{"sha256sum", "sha512sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	f := newFixture(t)
	dir := t.TempDir()
	for _, e := range f.entries {
		p := filepath.Join(dir, filepath.FromSlash(e.name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, e.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base := filepath.Join(dir, strings.Split(f.entries[0].name, "/")[0])
	for _, c := range [][]string{{"sha256sum", "-c", "--strict", "manifest-sha256.txt"}, {"sha512sum", "-c", "--strict", "manifest-sha512.txt"}, {"sha256sum", "-c", "--strict", "tagmanifest-sha256.txt"}, {"sha512sum", "-c", "--strict", "tagmanifest-sha512.txt"}} {
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Dir = base
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
}

// TestLegacyBundle: a bundle written by an earlier version of Exhibit
// (testdata/README.md) still verifies, pinned to its device's first key.
func TestLegacyBundle(t *testing.T) {
	b, err := os.ReadFile("testdata/legacy-v1.zip")
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := os.ReadFile("testdata/legacy-v1.pem")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	res := verifyBytes(t, b, Options{Trusted: []ed25519.PublicKey{pub}})
	if !res.Valid {
		t.Fatalf("legacy bundle invalid:\n%s", names(res))
	}
	if res.Case != "Op Lester & <Co> 26" || len(res.Exhibits) != 2 || len(res.Keys) != 2 || !res.Keys[0].Pinned {
		t.Fatalf("legacy bundle read as %+v", res)
	}
}

// replaceIn returns the fixture's entries with one textual replacement in
// the file at path (relative to the base directory), manifests rewritten.
func replaceIn(t testing.TB, path, old, new string) []byte {
	t.Helper()
	f := newFixture(t)
	mut := append([]entry(nil), f.entries...)
	for i, e := range mut {
		if rel(e.name) == path {
			if !bytes.Contains(e.data, []byte(old)) {
				t.Fatalf("%s has no %q", path, old)
			}
			mut[i].data = bytes.Replace(e.data, []byte(old), []byte(new), 1)
			return rezip(t, remanifest(fixOxum(mut)))
		}
	}
	t.Fatalf("no %s in the fixture", path)
	return nil
}

// TestIndexDecodedStrictly: exhibits.json is decoded as records are
// (docs/records.md §1): a repeated or case-variant member would make other
// readers see another index than the one verified.
func TestIndexDecodedStrictly(t *testing.T) {
	for _, tt := range []struct{ name, old, new, want string }{
		{"duplicate member", `"case": "CASE-7",`, `"case": "OTHER-CASE", "case": "CASE-7",`, "duplicate"},
		{"case-variant member", `"case": "CASE-7",`, `"Case": "CASE-7",`, "unknown"},
		{"case-variant nested member", `"origin":`, `"Origin":`, "unknown"},
	} {
		res := verifyBytes(t, replaceIn(t, FileIndex, tt.old, tt.new), Options{})
		if res.Valid || !strings.Contains(names(res), FileIndex) || !strings.Contains(names(res), tt.want) {
			t.Errorf("%s: not refused with %q:\n%s", tt.name, tt.want, names(res))
		}
	}
}

// fixOxum rewrites bag-info.txt's Payload-Oxum to match the payload, as an
// attacker who changed a file's size would.
func fixOxum(entries []entry) []entry {
	out := append([]entry(nil), entries...)
	var octets, files int
	for _, e := range out {
		if strings.HasPrefix(rel(e.name), "data/") {
			octets += len(e.data)
			files++
		}
	}
	for i, e := range out {
		if rel(e.name) == "bag-info.txt" {
			lines := strings.SplitAfter(string(e.data), "\n")
			for j, l := range lines {
				if strings.HasPrefix(l, "Payload-Oxum: ") {
					lines[j] = fmt.Sprintf("Payload-Oxum: %d.%d\n", octets, files)
				}
			}
			out[i].data = []byte(strings.Join(lines, ""))
		}
	}
	return out
}

// A device's bundle has no hub section: a trusted witness key changes
// nothing about it (a device bundle carries no cosignature to check), and
// hub files added to it are files that are not part of the bundle.
func TestDeviceBundleWithWitnessOption(t *testing.T) {
	f := newFixture(t)
	res := verifyBytes(t, f.zip, Options{Witnesses: []string{"example.org/witness/hub-1+01234567+BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}})
	if !res.Valid || res.Hub != nil {
		t.Fatalf("valid %v, hub %+v:\n%s", res.Valid, res.Hub, names(res))
	}
	base := f.entries[0].name[:strings.Index(f.entries[0].name, "/")+1]
	added := append(append([]entry(nil), f.entries...), entry{base + FileHubCheckpoint, []byte("x\n")}, entry{base + FileWitnessVKey, []byte("y\n")})
	res = verifyBytes(t, rezip(t, remanifest(fixOxum(added))), Options{})
	if res.Valid || len(res.Problems) != 2 || !strings.Contains(names(res), FileHubCheckpoint+": a file that is not part of an Exhibit bundle") ||
		!strings.Contains(names(res), FileWitnessVKey+": a file that is not part of an Exhibit bundle") {
		t.Fatalf("hub files in a device bundle:\n%s", names(res))
	}
}
