package bagit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/exhibit-forensics/exhibit/chain"
)

// A Report is the outcome of Validate.
type Report struct {
	BaseDir string
	// Problems lists every reason the bag is not valid, sorted by Path,
	// Manifest and Line. The bag is valid when it is empty.
	Problems []Problem
	// SHA256 holds the computed SHA-256 of every payload file that could
	// be read intact, by path ("data/…"), whether or not it matched its
	// manifest line.
	SHA256 map[string]chain.Hash
	// Info is bag-info.txt in file order (nil if absent or unreadable).
	Info []Tag
	// PayloadOctets and PayloadFiles are the actual Payload-Oxum.
	PayloadOctets int64
	PayloadFiles  int
}

// Valid reports whether no problem was found.
func (r *Report) Valid() bool { return len(r.Problems) == 0 }

// Err returns nil for a valid bag, else an *InvalidError listing every
// problem; errors.Is finds each problem's sentinel through it.
func (r *Report) Err() error {
	if r.Valid() {
		return nil
	}
	return &InvalidError{BaseDir: r.BaseDir, Problems: r.Problems}
}

// An InvalidError reports a bag that failed validation.
type InvalidError struct {
	BaseDir  string
	Problems []Problem
}

func (e *InvalidError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "bagit: bag %s is not valid (%d problems)", quote(e.BaseDir), len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n\t")
		b.WriteString(p.Error())
	}
	return b.String()
}

func (e *InvalidError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// algorithm is a checksum algorithm Validate can verify.
type algorithm struct {
	hexLen int
	sum    func(Digests) []byte
}

var algorithms = map[string]algorithm{
	"sha256": {64, func(d Digests) []byte { return d.SHA256[:] }},
	"sha512": {128, func(d Digests) []byte { return d.SHA512[:] }},
}

type manifest struct {
	name    string
	alg     string
	tag     bool
	entries []manifestEntry
}

// manifestName reports whether a base-directory path names a payload or tag
// manifest, and its algorithm.
func manifestName(p string) (alg string, tag, ok bool) {
	if strings.Contains(p, "/") || !strings.HasSuffix(p, ".txt") {
		return "", false, false
	}
	if a, found := strings.CutPrefix(p, "tagmanifest-"); found {
		return strings.TrimSuffix(a, ".txt"), true, true
	}
	if a, found := strings.CutPrefix(p, "manifest-"); found {
		return strings.TrimSuffix(a, ".txt"), false, true
	}
	return "", false, false
}

type validator struct {
	b       *Bag
	rep     *Report
	dropped int
	texts   map[string][]byte  // tag files read into memory
	digests map[string]Digests // every file read intact
	failed  map[string]bool    // files found corrupt
	// infoLines is bag-info.txt with line numbers.
	infoLines []infoLine
	// progress adds bytes read to the caller's progress.
	progress func(n int64)
}

func (v *validator) add(p Problem) {
	if len(v.rep.Problems) >= v.b.limits.MaxProblems {
		v.dropped++
		return
	}
	v.rep.Problems = append(v.rep.Problems, p)
}

func (v *validator) addLines(path string, errs []lineError) {
	for _, e := range errs {
		v.add(Problem{Path: path, Line: e.line, Err: e.err})
	}
}

// Validate checks the bag against RFC 8493 and the profile in
// docs/bagit-profile.md: bagit.txt; bag-info.txt syntax and Payload-Oxum;
// every payload manifest (manifest-sha256.txt is required;
// manifest-sha512.txt is checked when present) and tag manifest lists
// every file it must exactly once, lists nothing absent, and every digest
// matches. Each file is read once, SHA-256 and SHA-512 computed together.
// Every problem found is reported in the Report; the error is non-nil only
// when validation could not finish (ctx done, or the underlying reader
// failed), and then the Report is nil.
func (b *Bag) Validate(ctx context.Context) (*Report, error) {
	v := &validator{
		b:       b,
		rep:     &Report{BaseDir: b.base, SHA256: map[string]chain.Hash{}},
		texts:   map[string][]byte{},
		digests: map[string]Digests{},
		failed:  map[string]bool{},
	}
	var payload, tags []*bagFile
	for _, f := range b.files {
		if strings.HasPrefix(f.path, "data/") {
			payload = append(payload, f)
			v.rep.PayloadOctets += int64(f.zf.UncompressedSize64)
		} else {
			tags = append(tags, f)
		}
	}
	v.rep.PayloadFiles = len(payload)
	if !b.dataDir {
		v.add(Problem{Path: "data/", Err: fmt.Errorf("%w: no payload directory data/", ErrMissingRequired)})
	}

	if err := v.declaration(); err != nil {
		return nil, err
	}
	if _, ok := b.byPath["fetch.txt"]; ok {
		v.add(Problem{Path: "fetch.txt", Err: fmt.Errorf("%w: fetch.txt (bags with files to fetch are not accepted; a bundle must be complete)", ErrUnsupported)})
	}
	manifests, err := v.manifests(tags)
	if err != nil {
		return nil, err
	}
	need512 := false
	for _, m := range manifests {
		need512 = need512 || m.alg == "sha512"
	}
	if err := v.bagInfo(); err != nil {
		return nil, err
	}

	var total int64
	for _, f := range b.files {
		total += int64(f.zf.UncompressedSize64)
	}
	v.progress = progressOf(b.Progress, total)
	for _, f := range b.files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if t, ok := v.texts[f.path]; ok {
			v.digests[f.path] = digestsOf(t)
			v.progress(int64(f.zf.UncompressedSize64))
			continue
		}
		if v.failed[f.path] {
			v.progress(int64(f.zf.UncompressedSize64))
			continue // corrupt; reported once already
		}
		if err := v.hashFile(ctx, f, need512); err != nil {
			return nil, err
		}
	}
	for _, f := range payload {
		if d, ok := v.digests[f.path]; ok {
			v.rep.SHA256[f.path] = d.SHA256
		}
	}

	v.oxum()
	for _, m := range manifests {
		if m.tag {
			v.checkManifest(m, tags)
		} else {
			v.checkManifest(m, payload)
		}
	}

	sort.SliceStable(v.rep.Problems, func(i, j int) bool {
		p, q := v.rep.Problems[i], v.rep.Problems[j]
		if p.Path != q.Path {
			return p.Path < q.Path
		}
		if p.Manifest != q.Manifest {
			return p.Manifest < q.Manifest
		}
		return p.Line < q.Line
	})
	if v.dropped > 0 {
		v.rep.Problems = append(v.rep.Problems, Problem{Err: fmt.Errorf("%w: %d more not recorded", ErrTooManyProblems, v.dropped)})
	}
	return v.rep, nil
}

// hashFile streams one file through both hashes. A corrupt entry becomes
// a problem; any other read error ends validation.
func (v *validator) hashFile(ctx context.Context, f *bagFile, need512 bool) error {
	rc, err := v.b.open(f)
	if err == nil {
		var d Digests
		d, err = hashCopy(ctx, countingReader{rc, v.progress}, nil, !need512)
		rc.Close()
		if err == nil {
			v.digests[f.path] = d
			return nil
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, ErrEntryCorrupt) {
		v.add(Problem{Path: f.path, Err: unwrapEntry(err)})
		return nil
	}
	return fmt.Errorf("bagit: reading %s: %w", quote(f.path), err)
}

func unwrapEntry(err error) error {
	var ee *EntryError
	if errors.As(err, &ee) {
		return ee.Err
	}
	return err
}

// readTag reads a tag file that is parsed (and hashed from memory). It
// returns nil, nil when the problem was recorded.
func (v *validator) readTag(f *bagFile) ([]byte, error) {
	b, err := v.b.ReadFile(f.path, v.b.limits.MaxTagFileSize)
	switch {
	case err == nil:
		v.texts[f.path] = b
		return b, nil
	case errors.Is(err, ErrEntryCorrupt):
		v.failed[f.path] = true
		v.add(Problem{Path: f.path, Err: unwrapEntry(err)})
		return nil, nil
	case errors.Is(err, ErrTooLarge):
		// Still hashed (streaming) for the tag manifests.
		v.add(Problem{Path: f.path, Err: unwrapEntry(err)})
		return nil, nil
	}
	return nil, fmt.Errorf("bagit: reading %s: %w", quote(f.path), err)
}

func (v *validator) declaration() error {
	f := v.b.byPath["bagit.txt"]
	if f == nil {
		v.add(Problem{Path: "bagit.txt", Err: fmt.Errorf("%w: no bag declaration bagit.txt", ErrMissingRequired)})
		return nil
	}
	text, err := v.readTag(f)
	if text == nil {
		return err
	}
	v.addLines("bagit.txt", parseDeclaration(string(text)))
	return nil
}

func (v *validator) manifests(tags []*bagFile) ([]manifest, error) {
	var out []manifest
	for _, f := range tags {
		alg, tag, ok := manifestName(f.path)
		if !ok {
			continue
		}
		a, known := algorithms[alg]
		if !known {
			v.add(Problem{Path: f.path, Err: fmt.Errorf("%w: checksum algorithm %s (only sha256 and sha512 are verified)", ErrUnsupported, quote(alg))})
			continue
		}
		text, err := v.readTag(f)
		if text == nil {
			if err != nil {
				return nil, err
			}
			continue
		}
		entries, errs := parseManifest(string(text), a.hexLen)
		v.addLines(f.path, errs)
		out = append(out, manifest{name: f.path, alg: alg, tag: tag, entries: entries})
	}
	if v.b.byPath["manifest-sha256.txt"] == nil {
		v.add(Problem{Path: "manifest-sha256.txt", Err: fmt.Errorf("%w: no SHA-256 payload manifest", ErrMissingRequired)})
	}
	return out, nil
}

type infoLine struct {
	Tag
	line int
}

func (v *validator) bagInfo() error {
	f := v.b.byPath["bag-info.txt"]
	if f == nil {
		return nil
	}
	text, err := v.readTag(f)
	if text == nil {
		return err
	}
	lines, errs := parseBagInfo(string(text))
	v.addLines("bag-info.txt", errs)
	for _, l := range lines {
		v.rep.Info = append(v.rep.Info, l.Tag)
		if strings.EqualFold(l.Label, "Bagging-Date") {
			if err := checkBaggingDate(l.Value); err != nil {
				v.add(Problem{Path: "bag-info.txt", Line: l.line, Err: err})
			}
		}
	}
	v.infoLines = lines
	return nil
}

// oxum checks Payload-Oxum (RFC 8493 §2.2.2): at most once, well formed,
// equal to the payload's octet and file counts.
func (v *validator) oxum() {
	first := 0
	for _, l := range v.infoLines {
		if !strings.EqualFold(l.Label, "Payload-Oxum") {
			continue
		}
		if first != 0 {
			v.add(Problem{Path: "bag-info.txt", Line: l.line, Err: fmt.Errorf("%w: Payload-Oxum repeated (first on line %d)", ErrOxum, first)})
			continue
		}
		first = l.line
		octets, streams, err := parseOxum(l.Value)
		if err != nil {
			v.add(Problem{Path: "bag-info.txt", Line: l.line, Err: err})
			continue
		}
		if octets != v.rep.PayloadOctets || streams != int64(v.rep.PayloadFiles) {
			v.add(Problem{Path: "bag-info.txt", Line: l.line, Err: fmt.Errorf("%w: Payload-Oxum %d.%d, payload has %d bytes in %d files",
				ErrOxum, octets, streams, v.rep.PayloadOctets, v.rep.PayloadFiles)})
		}
	}
}

// checkManifest checks one manifest against the files it must cover: the
// payload files for a payload manifest, the tag files other than tag
// manifests for a tag manifest.
func (v *validator) checkManifest(m manifest, files []*bagFile) {
	a := algorithms[m.alg]
	seen := make(map[string]int, len(m.entries))
	for _, e := range m.entries {
		prob := func(err error) { v.add(Problem{Path: e.path, Manifest: m.name, Line: e.line, Err: err}) }
		if first, dup := seen[e.path]; dup {
			prob(fmt.Errorf("%w: also on line %d", ErrListedTwice, first))
			continue
		}
		seen[e.path] = e.line
		if err := checkPath(e.path); err != nil {
			prob(err)
			continue
		}
		payload := strings.HasPrefix(e.path, "data/")
		_, isTagManifest := tagManifestName(e.path)
		switch {
		case !m.tag && !payload:
			prob(fmt.Errorf("%w: a payload manifest may list only files under data/", ErrManifestPath))
			continue
		case m.tag && payload:
			prob(fmt.Errorf("%w: a tag manifest must not list payload files", ErrManifestPath))
			continue
		case m.tag && isTagManifest:
			prob(fmt.Errorf("%w: a tag manifest must not list tag manifests", ErrManifestPath))
			continue
		}
		f := v.b.byPath[e.path]
		if f == nil {
			if m.tag {
				prob(fmt.Errorf("%w: not in the bag", ErrMissingTagFile))
			} else {
				prob(fmt.Errorf("%w: not in the bag", ErrMissingFromPayload))
			}
			continue
		}
		d, ok := v.digests[e.path]
		if !ok {
			continue // unreadable; reported once already
		}
		if got := a.sum(d); !bytes.Equal(got, e.digest) {
			prob(fmt.Errorf("%w: manifest has %x, file has %x", ErrDigestMismatch, e.digest, got))
		}
	}
	for _, f := range files {
		if _, isTagManifest := tagManifestName(f.path); m.tag && isTagManifest {
			continue
		}
		if _, ok := seen[f.path]; !ok {
			v.add(Problem{Path: f.path, Manifest: m.name, Err: ErrNotInManifest})
		}
	}
}

func tagManifestName(p string) (alg string, ok bool) {
	alg, tag, ok := manifestName(p)
	return alg, ok && tag
}
