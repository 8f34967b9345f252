package bagit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestBitFlipEachFile flips one bit of each file's content (re-zipping with
// a correct zip CRC, so only the manifests can catch it) and checks that
// Validate names the file. Three positions per file: first, middle, last.
func TestBitFlipEachFile(t *testing.T) {
	sample := writeSample(t)
	bag, err := openBytes(sample, Limits{})
	must(t, err)
	for _, f := range bag.Files() {
		if f.Size == 0 {
			continue
		}
		for _, pos := range []int64{0, f.Size / 2, f.Size - 1} {
			t.Run(fmt.Sprintf("%s@%d", f.Path, pos), func(t *testing.T) {
				z := rezip(t, sample, replaceBody(f.Path, func(b []byte) []byte { b[pos] ^= 1; return b }))
				rep := validateBytes(t, z)
				if rep.Valid() {
					t.Fatal("bit flip not detected")
				}
				for _, p := range rep.Problems {
					if p.Path == f.Path || p.Manifest == f.Path {
						return
					}
				}
				t.Fatalf("no problem names %s: %v", f.Path, rep.Err())
			})
		}
	}
}

// TestRawBitFlipEachEntry flips a bit inside each entry's stored or
// compressed bytes in the archive itself; the zip CRC (or the deflate
// decoder) catches it and the problem names the entry.
func TestRawBitFlipEachEntry(t *testing.T) {
	sample := writeSample(t)
	bag, err := openBytes(sample, Limits{})
	must(t, err)
	for _, f := range bag.files {
		if f.zf.CompressedSize64 == 0 {
			continue
		}
		t.Run(f.path, func(t *testing.T) {
			off, err := f.zf.DataOffset()
			must(t, err)
			z := append([]byte(nil), sample...)
			z[off+int64(f.zf.CompressedSize64/2)] ^= 0x10
			rep := validateBytes(t, z)
			if !hasProblem(rep, f.path, "", ErrEntryCorrupt) {
				t.Fatalf("corruption of %s not reported against it: %v", f.path, rep.Err())
			}
			if _, ok := rep.SHA256[f.path]; ok {
				t.Error("a corrupt entry's digest was returned")
			}
		})
	}
}

// want is one expected problem.
type want struct {
	path, manifest string
	line           int
	err            error
}

func TestValidateProblems(t *testing.T) {
	sample := writeSample(t)
	noTagManifests := func(es []zent) []zent {
		return dropEntry("tagmanifest-sha512.txt")(dropEntry("tagmanifest-sha256.txt")(es))
	}
	appendLine := func(line string) func([]byte) []byte {
		return func(b []byte) []byte { return append(b, line...) }
	}
	setLine := func(n int, line string) func([]byte) []byte {
		return func(b []byte) []byte {
			lines := strings.SplitAfter(string(b), "\n")
			lines[n-1] = line
			return []byte(strings.Join(lines, ""))
		}
	}
	chain := func(ms ...func([]zent) []zent) func([]zent) []zent {
		return func(es []zent) []zent {
			for _, m := range ms {
				es = m(es)
			}
			return es
		}
	}
	add := func(rel, body string) func([]zent) []zent {
		return func(es []zent) []zent { return append(es, zent{name: base + rel, body: []byte(body)}) }
	}
	sha256Line := func(rel string) string {
		bag, err := openBytes(sample, Limits{})
		must(t, err)
		m, err := bag.ReadFile("manifest-sha256.txt", 0)
		must(t, err)
		for l := range strings.Lines(string(m)) {
			if strings.HasSuffix(l, "  "+rel+"\n") {
				return l
			}
		}
		t.Fatalf("no manifest line for %s", rel)
		return ""
	}
	pub := "data/keys/kiosk-1.pub"

	tests := []struct {
		name   string
		mutate func([]zent) []zent
		want   []want
	}{
		{"missing payload file", dropEntry(pub), []want{
			{"bag-info.txt", "", 4, ErrOxum},
			{pub, "manifest-sha256.txt", 3, ErrMissingFromPayload},
			{pub, "manifest-sha512.txt", 3, ErrMissingFromPayload},
		}},
		{"payload file not in manifests", add("data/smuggled.jpg", "x"), []want{
			{"bag-info.txt", "", 4, ErrOxum},
			{"data/smuggled.jpg", "manifest-sha256.txt", 0, ErrNotInManifest},
			{"data/smuggled.jpg", "manifest-sha512.txt", 0, ErrNotInManifest},
		}},
		{"tag file not in tag manifests", add("notes.txt", "x"), []want{
			{"notes.txt", "tagmanifest-sha256.txt", 0, ErrNotInManifest},
			{"notes.txt", "tagmanifest-sha512.txt", 0, ErrNotInManifest},
		}},
		{"path listed twice", chain(noTagManifests, replaceBody("manifest-sha256.txt", func(b []byte) []byte { return append(b, sha256Line(pub)...) })), []want{
			{pub, "manifest-sha256.txt", 6, ErrListedTwice},
		}},
		{"uppercase hex is fine", chain(noTagManifests, replaceBody("manifest-sha256.txt", func(b []byte) []byte {
			return []byte(strings.ToUpper(string(b[:64])) + string(b[64:]))
		})), nil},
		{"crlf line endings are fine", chain(noTagManifests, replaceBody("manifest-sha256.txt", func(b []byte) []byte {
			return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
		}), replaceBody("bag-info.txt", func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte("\r")) })), nil},
		{"tab separator is fine", chain(noTagManifests, replaceBody("manifest-sha512.txt", func(b []byte) []byte {
			return bytes.ReplaceAll(b, []byte("  data/"), []byte("\tdata/"))
		})), nil},
		{"manifest syntax", chain(noTagManifests, replaceBody("manifest-sha256.txt", setLine(2, "nothex  data/custody.jsonl\n"))), []want{
			{"data/custody.jsonl", "manifest-sha256.txt", 0, ErrNotInManifest},
			{"manifest-sha256.txt", "", 2, ErrSyntax},
		}},
		{"short checksum", chain(noTagManifests, replaceBody("manifest-sha512.txt", setLine(1, "abcd  data/Núñez/empty.txt\n"))), []want{
			{"data/Núñez/empty.txt", "manifest-sha512.txt", 0, ErrNotInManifest},
			{"manifest-sha512.txt", "", 1, ErrSyntax},
		}},
		{"empty line", chain(noTagManifests, replaceBody("manifest-sha256.txt", appendLine("\n"))), []want{
			{"manifest-sha256.txt", "", 6, ErrSyntax},
		}},
		{"payload manifest lists a tag file", chain(noTagManifests, replaceBody("manifest-sha256.txt", appendLine(strings.Repeat("0", 64)+"  bagit.txt\n"))), []want{
			{"bagit.txt", "manifest-sha256.txt", 6, ErrManifestPath},
		}},
		{"manifest path escapes", chain(noTagManifests, replaceBody("manifest-sha256.txt", appendLine(strings.Repeat("0", 64)+"  data/../../etc/passwd\n"))), []want{
			{"data/../../etc/passwd", "manifest-sha256.txt", 6, ErrUnsafePath},
		}},
		{"tag manifest lists a payload file", replaceBody("tagmanifest-sha256.txt", appendLine(strings.Repeat("0", 64)+"  data/custody.jsonl\n")), []want{
			{"data/custody.jsonl", "tagmanifest-sha256.txt", 6, ErrManifestPath},
		}},
		{"tag manifest lists a tag manifest", replaceBody("tagmanifest-sha256.txt", appendLine(strings.Repeat("0", 64)+"  tagmanifest-sha512.txt\n")), []want{
			{"tagmanifest-sha512.txt", "tagmanifest-sha256.txt", 6, ErrManifestPath},
		}},
		{"tag manifest lists a missing file", replaceBody("tagmanifest-sha256.txt", appendLine(strings.Repeat("0", 64)+"  gone.txt\n")), []want{
			{"gone.txt", "tagmanifest-sha256.txt", 6, ErrMissingTagFile},
		}},
		{"wrong oxum", chain(noTagManifests, replaceBody("bag-info.txt", setLine(4, "Payload-Oxum: 1.5\n"))), []want{
			{"bag-info.txt", "", 4, ErrOxum},
		}},
		{"repeated oxum", chain(noTagManifests, replaceBody("bag-info.txt", appendLine("payload-oxum: 1.5\n"))), []want{
			{"bag-info.txt", "", 5, ErrOxum},
		}},
		{"malformed oxum", chain(noTagManifests, replaceBody("bag-info.txt", setLine(4, "Payload-Oxum: 1572987 files\n"))), []want{
			{"bag-info.txt", "", 4, ErrOxum},
		}},
		{"bag-info syntax", chain(noTagManifests, replaceBody("bag-info.txt", appendLine("No-Space:here\nBagging-Date: 2 Oct 2025\n"))), []want{
			{"bag-info.txt", "", 5, ErrSyntax},
			{"bag-info.txt", "", 6, ErrSyntax},
		}},
		{"bag-info BOM", chain(noTagManifests, replaceBody("bag-info.txt", func(b []byte) []byte { return append([]byte("\ufeff"), b...) })), []want{
			{"bag-info.txt", "", 0, ErrSyntax},
		}},
		{"old BagIt version", chain(noTagManifests, replaceBody("bagit.txt", setLine(1, "BagIt-Version: 0.97\n"))), []want{
			{"bagit.txt", "", 1, ErrUnsupported},
		}},
		{"other encoding", chain(noTagManifests, replaceBody("bagit.txt", setLine(2, "Tag-File-Character-Encoding: ISO-8859-1\n"))), []want{
			{"bagit.txt", "", 2, ErrUnsupported},
		}},
		{"declaration with three lines", chain(noTagManifests, replaceBody("bagit.txt", appendLine("Extra: x\n"))), []want{
			{"bagit.txt", "", 0, ErrSyntax},
		}},
		{"no bagit.txt", chain(noTagManifests, dropEntry("bagit.txt")), []want{
			{"bagit.txt", "", 0, ErrMissingRequired},
		}},
		{"no sha256 manifest", chain(noTagManifests, dropEntry("manifest-sha256.txt")), []want{
			{"manifest-sha256.txt", "", 0, ErrMissingRequired},
		}},
		{"sha512 manifest is optional", chain(noTagManifests, dropEntry("manifest-sha512.txt")), nil},
		{"md5 manifest", chain(noTagManifests, add("manifest-md5.txt", "d41d8cd98f00b204e9800998ecf8427e  data/Núñez/empty.txt\n")), []want{
			{"manifest-md5.txt", "", 0, ErrUnsupported},
		}},
		{"fetch.txt", chain(noTagManifests, add("fetch.txt", "https://example.org/x 1 data/x\n")), []want{
			{"fetch.txt", "", 0, ErrUnsupported},
		}},
		{"no payload directory", func([]zent) []zent {
			return []zent{{name: base + "bagit.txt", body: []byte(declaration)}, {name: base + "manifest-sha256.txt"}}
		}, []want{
			{"data/", "", 0, ErrMissingRequired},
		}},
		{"several problems at once", chain(
			replaceBody("data/custody.jsonl", func(b []byte) []byte { b[0] ^= 1; return b }),
			replaceBody(pub, func(b []byte) []byte { b[1] ^= 1; return b }),
			dropEntry("data/records/0001.dsse.json"),
		), []want{
			{"bag-info.txt", "", 4, ErrOxum},
			{"data/custody.jsonl", "manifest-sha256.txt", 2, ErrDigestMismatch},
			{"data/custody.jsonl", "manifest-sha512.txt", 2, ErrDigestMismatch},
			{pub, "manifest-sha256.txt", 3, ErrDigestMismatch},
			{pub, "manifest-sha512.txt", 3, ErrDigestMismatch},
			{"data/records/0001.dsse.json", "manifest-sha256.txt", 5, ErrMissingFromPayload},
			{"data/records/0001.dsse.json", "manifest-sha512.txt", 5, ErrMissingFromPayload},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z := rezip(t, sample, tt.mutate)
			rep := validateBytes(t, z)
			var got []string
			for _, p := range rep.Problems {
				got = append(got, fmt.Sprintf("%s|%s|%d", p.Path, p.Manifest, p.Line))
			}
			var wantS []string
			for _, w := range tt.want {
				wantS = append(wantS, fmt.Sprintf("%s|%s|%d", w.path, w.manifest, w.line))
			}
			// Tag-manifest mismatches caused by editing a tag file are
			// expected and not listed in the table.
			got = dropTagManifestNoise(rep.Problems, got)
			if strings.Join(got, "\n") != strings.Join(wantS, "\n") {
				t.Fatalf("problems:\n%v\nwant:\n%s", rep.Err(), strings.Join(wantS, "\n"))
			}
			for i, w := range tt.want {
				if p := filterNoise(rep.Problems)[i]; !errors.Is(p.Err, w.err) || !errors.Is(rep.Err(), w.err) {
					t.Errorf("problem %v: want %v", p, w.err)
				}
			}
			if err := rep.Err(); err != nil && !strings.Contains(err.Error(), rep.Problems[0].Error()) {
				t.Errorf("Err() = %q does not list the problems", err)
			}
			if (len(tt.want) == 0) != rep.Valid() {
				t.Errorf("Valid() = %v with %d problems", rep.Valid(), len(rep.Problems))
			}
		})
	}
}

func isTagManifestNoise(p Problem) bool {
	_, tm := tagManifestName(p.Manifest)
	return tm && errors.Is(p.Err, ErrDigestMismatch)
}

func filterNoise(ps []Problem) []Problem {
	var out []Problem
	for _, p := range ps {
		if !isTagManifestNoise(p) {
			out = append(out, p)
		}
	}
	return out
}

func dropTagManifestNoise(ps []Problem, s []string) []string {
	var out []string
	for i, p := range ps {
		if !isTagManifestNoise(p) {
			out = append(out, s[i])
		}
	}
	return out
}

// TestPercentEncodedPaths: a foreign bag whose file name holds "%" lists it
// as %25 (RFC 8493 §2.1.3) and validates; a bare "%" is a syntax error.
func TestPercentEncodedPaths(t *testing.T) {
	body := []byte("50% off\n")
	mk := func(listed string) []byte {
		return zipOf(t, []zent{
			{name: "b/bagit.txt", body: []byte(declaration)},
			{name: "b/data/100%.txt", body: body},
			{name: "b/manifest-sha256.txt", body: []byte(digestsOf(body).SHA256.Hex() + "  " + listed + "\n")},
		})
	}
	if rep := validateBytes(t, mk("data/100%25.txt")); !rep.Valid() {
		t.Errorf("%%25 not decoded: %v", rep.Err())
	}
	rep := validateBytes(t, mk("data/100%.txt"))
	if !hasProblem(rep, "manifest-sha256.txt", "", ErrSyntax) || !hasProblem(rep, "data/100%.txt", "manifest-sha256.txt", ErrNotInManifest) {
		t.Errorf("bare %% accepted: %v", rep.Err())
	}
}

// TestTagFileFailures: a corrupt tag file is reported once; a tag file
// over MaxTagFileSize is reported but still checked by the tag manifests.
func TestTagFileFailures(t *testing.T) {
	sample := writeSample(t)
	bag, err := openBytes(sample, Limits{})
	must(t, err)
	f := bag.byPath["bag-info.txt"]
	off, err := f.zf.DataOffset()
	must(t, err)
	z := append([]byte(nil), sample...)
	z[off] ^= 1
	rep := validateBytes(t, z)
	if len(rep.Problems) != 1 || rep.Problems[0].Path != "bag-info.txt" || !errors.Is(rep.Problems[0].Err, ErrEntryCorrupt) {
		t.Errorf("corrupt bag-info.txt: %v", rep.Err())
	}

	bag, err = openBytes(sample, Limits{MaxTagFileSize: 200})
	must(t, err)
	rep, err = bag.Validate(context.Background())
	must(t, err)
	var got []string
	for _, p := range rep.Problems {
		if !errors.Is(p.Err, ErrTooLarge) {
			t.Errorf("unexpected problem %v", p)
		}
		got = append(got, p.Path)
	}
	if strings.Join(got, " ") != "manifest-sha256.txt manifest-sha512.txt tagmanifest-sha256.txt tagmanifest-sha512.txt" {
		t.Errorf("over-size tag files reported: %v", got)
	}
}

func TestMaxProblems(t *testing.T) {
	var lines strings.Builder
	for i := range 50 {
		fmt.Fprintf(&lines, "%064x  data/missing-%d\n", i, i)
	}
	z := zipOf(t, []zent{
		{name: "b/bagit.txt", body: []byte(declaration)},
		{name: "b/data/"},
		{name: "b/manifest-sha256.txt", body: []byte(lines.String())},
	})
	bag, err := openBytes(z, Limits{MaxProblems: 10})
	must(t, err)
	rep, err := bag.Validate(context.Background())
	must(t, err)
	if len(rep.Problems) != 11 || !errors.Is(rep.Problems[10].Err, ErrTooManyProblems) {
		t.Fatalf("got %d problems, last %v", len(rep.Problems), rep.Problems[len(rep.Problems)-1])
	}
	if got := rep.Problems[10].Error(); got != "too many problems: 40 more not recorded" {
		t.Errorf("overflow problem = %v", rep.Problems[10])
	}
}

// failingReaderAt fails every read once armed: an I/O error, not a bad bag.
type failingReaderAt struct {
	r     *bytes.Reader
	armed bool
}

var errDisk = errors.New("read error: disk unplugged")

func (f *failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if f.armed {
		return 0, errDisk
	}
	return f.r.ReadAt(p, off)
}

func TestValidateIOError(t *testing.T) {
	z := writeSample(t)
	fr := &failingReaderAt{r: bytes.NewReader(z)}
	bag, err := OpenZip(fr, int64(len(z)), Limits{})
	must(t, err)
	fr.armed = true
	if rep, err := bag.Validate(context.Background()); !errors.Is(err, errDisk) || rep != nil {
		t.Fatalf("Validate with failing reader = %v, %v; want the read error and no report", rep, err)
	}
	if _, err := bag.ReadFile("bagit.txt", 0); !errors.Is(err, errDisk) || errors.Is(err, ErrEntryCorrupt) {
		t.Errorf("ReadFile with failing reader = %v", err)
	}
}

func TestValidateCancelled(t *testing.T) {
	bag, err := openBytes(writeSample(t), Limits{})
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if rep, err := bag.Validate(ctx); !errors.Is(err, context.Canceled) || rep != nil {
		t.Fatalf("Validate(cancelled) = %v, %v", rep, err)
	}
}

func TestProblemError(t *testing.T) {
	for _, tt := range []struct {
		p    Problem
		want string
	}{
		{Problem{Path: "data/a", Manifest: "manifest-sha256.txt", Line: 3, Err: ErrDigestMismatch}, `"data/a": manifest-sha256.txt line 3: digest mismatch`},
		{Problem{Path: "data/a", Manifest: "manifest-sha256.txt", Err: ErrNotInManifest}, `"data/a": manifest-sha256.txt: not listed in manifest`},
		{Problem{Path: "bag-info.txt", Line: 2, Err: ErrSyntax}, `"bag-info.txt" line 2: syntax error`},
		{Problem{Path: "bagit.txt", Err: ErrMissingRequired}, `"bagit.txt": required element missing`},
	} {
		if got := tt.p.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}
