package bundle

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/bagit"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

// A Problem is one reason a bundle is not valid, located: the file in the
// bag (relative to its base directory) and, where it applies, the record
// and the line.
type Problem struct {
	File   string `json:"file,omitempty"`
	Record string `json:"record,omitempty"`
	Line   int    `json:"line,omitempty"`
	What   string `json:"what"`
}

func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, " line %d", p.Line)
		}
	}
	if p.Record != "" {
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "(record %s)", short(p.Record))
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(p.What)
	return b.String()
}

// Result is what Verify found.
type Result struct {
	Valid      bool              `json:"valid"`
	Bundle     string            `json:"bundle"`
	Case       string            `json:"case,omitempty"`
	Origin     string            `json:"origin,omitempty"`
	Checkpoint *CheckpointResult `json:"checkpoint,omitempty"`
	// Hub is set for a bundle a hub exported.
	Hub      *HubResult      `json:"hub,omitempty"`
	Exhibits []ExhibitResult `json:"exhibits"`
	Keys     []KeyResult     `json:"keys"`
	Records  int             `json:"records"`
	Problems []Problem       `json:"problems"`
	Warnings []string        `json:"warnings"`
}

// CheckpointResult is the checkpoint the proofs lead to.
type CheckpointResult struct {
	Size uint64     `json:"size"`
	Root chain.Hash `json:"root"`
}

// ExhibitResult summarises one exhibit.
type ExhibitResult struct {
	Ref     string      `json:"ref"`
	Kind    string      `json:"kind"`
	Files   []IndexFile `json:"files"`
	Records int         `json:"records"`
}

// KeyResult is one device key.
type KeyResult struct {
	KeyID  string `json:"keyid"`
	From   uint64 `json:"from"`
	Until  string `json:"until"`
	Pinned bool   `json:"pinned"`
}

// Options configure Verify.
type Options struct {
	// Limits bound what the zip may contain; bagit.DefaultLimits if zero.
	Limits bagit.Limits
	// Trusted are public keys the caller trusts (published by the force
	// for the device). If set, the log's first key must be one of them;
	// later keys are trusted through the rotation records the previous key
	// signed.
	Trusted []ed25519.PublicKey
	// Witnesses are witness verifier keys the caller trusts
	// (witness.VerifierKey form: name+keyid+base64 key). If set, a bundle
	// a hub exported must name one of them in log/witness-vkey.txt and
	// carry its cosignatures; if not, Verify checks the cosignatures with
	// the key the bundle names and says it was not checked against a
	// trusted one. Bundles of a device ignore it.
	Witnesses []string
	// Progress, if set, is called as the bundle's files are read and
	// hashed (nearly all of the work), with the bytes read so far and the
	// total.
	Progress func(done, total int64)
}

const (
	maxIndexSize   = 64 << 20
	maxCustodySize = 256 << 20
	maxSmallFile   = 1 << 20
)

// verifier holds the state of one verification.
type verifier struct {
	ctx  context.Context
	bag  *bagit.Bag
	rep  *bagit.Report
	res  *Result
	opt  Options
	base string
}

func (v *verifier) add(file, record string, format string, args ...any) {
	v.res.Problems = append(v.res.Problems, Problem{File: file, Record: record, What: fmt.Sprintf(format, args...)})
}

// ErrUnreadable reports input that cannot be read as a zip archive at all,
// so that nothing about it can be verified: it has no zip end record at its
// end (empty, not a zip, truncated, data appended; bagit.ErrNotZip), or the
// end record's central directory cannot be located or walked
// (bagit.ErrCentralDirectory). Verify wraps the bagit error too. exhibit
// verify exits 2 for it, as for a file it cannot open, and 1 for a bundle
// it could read but found invalid (docs/bundle.md, "Exit status").
var ErrUnreadable = errors.New("not readable as a zip archive")

// Verify checks a zipped bundle of the given size. It returns an error only
// when verification cannot run: the input cannot be read as a zip archive
// at all (ErrUnreadable), a read fails, or ctx ends. Every defect of an
// archive that could be read — hostile structure or names, not a bag, not
// a valid bundle — is a Problem in a Result whose Valid is false.
func Verify(ctx context.Context, r io.ReaderAt, size int64, opt Options) (*Result, error) {
	res := &Result{Exhibits: []ExhibitResult{}, Keys: []KeyResult{}, Problems: []Problem{}, Warnings: []string{}}
	lim := opt.Limits
	if lim == (bagit.Limits{}) {
		lim = bagit.DefaultLimits()
	}
	bag, err := bagit.OpenZip(r, size, lim)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, bagit.ErrNotZip) || errors.Is(err, bagit.ErrCentralDirectory) {
			return nil, fmt.Errorf("bundle: %w: %w", ErrUnreadable, err)
		}
		p := Problem{What: err.Error()}
		var ee *bagit.EntryError
		if errors.As(err, &ee) {
			p.File = ee.Entry
		}
		res.Problems = append(res.Problems, p)
		return res, nil
	}
	res.Bundle = bag.BaseDir()
	bag.Progress = opt.Progress
	rep, err := bag.Validate(ctx)
	if err != nil {
		return nil, err
	}
	v := &verifier{ctx: ctx, bag: bag, rep: rep, res: res, opt: opt, base: bag.BaseDir()}
	for _, p := range rep.Problems {
		q := Problem{File: p.Path, Line: p.Line, What: p.Err.Error()}
		if p.Manifest != "" {
			q.What = p.Manifest + ": " + q.What
		}
		res.Problems = append(res.Problems, q)
	}
	if err := v.evidence(); err != nil {
		return nil, err
	}
	sort.SliceStable(res.Problems, func(i, j int) bool {
		a, b := res.Problems[i], res.Problems[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	res.Valid = len(res.Problems) == 0
	return res, nil
}

// read returns a small file's bytes, or records why it cannot.
func (v *verifier) read(path string, max int64) ([]byte, bool) {
	b, err := v.bag.ReadFile(path, max)
	if err != nil {
		v.add(path, "", "%v", err)
		return nil, false
	}
	return b, true
}

type loaded struct {
	rec   *chain.Record
	path  string
	index uint64
	ok    bool // inclusion proven
}

// evidence runs every check above BagIt.
func (v *verifier) evidence() error {
	files := map[string]bool{}
	for _, f := range v.bag.Files() {
		files[f.Path] = true
	}
	// The index.
	var idx Index
	if b, ok := v.read(FileIndex, maxIndexSize); ok {
		if err := chain.UnmarshalStrict(b, &idx); err != nil {
			v.add(FileIndex, "", "not a valid index: %v", err)
		} else if idx.Version != IndexVersion {
			v.add(FileIndex, "", "version %q, want %q", idx.Version, IndexVersion)
		} else if idx.Hub != nil {
			// The name's log size is the hub's (hub).
		} else if err := checkBundleName(v.base, &idx); err != nil {
			v.add(FileIndex, "", "%v", err)
		}
	}
	v.res.Case, v.res.Origin = idx.Case, idx.Log.Origin
	if idx.Bundle != "" && idx.Bundle != v.base {
		v.add(FileIndex, "", "names bundle %q but the bag's base directory is %q", idx.Bundle, v.base)
	}

	// Keys.
	pems := map[string]ed25519.PublicKey{}
	for p := range files {
		if !strings.HasPrefix(p, DirKeys) {
			continue
		}
		id, ok := strings.CutSuffix(strings.TrimPrefix(p, DirKeys), keyExt)
		b, rok := v.read(p, maxSmallFile)
		if !ok || !rok {
			if !ok {
				v.add(p, "", "unexpected file in %s", DirKeys)
			}
			continue
		}
		pub, err := parsePublicKey(b)
		if err != nil {
			v.add(p, "", "%v", err)
			continue
		}
		if chain.KeyID(pub) != id {
			v.add(p, "", "holds key %s, not the key its name says", short(chain.KeyID(pub)))
			continue
		}
		pems[id] = pub
	}

	// The checkpoint.
	var cp *tlog.Checkpoint
	cpBytes, cpOK := v.read(FileCheckpoint, tlog.MaxNoteSize)
	if cpOK {
		var vs []note.Verifier
		for _, pub := range pems {
			nv, err := tlog.NewVerifier(idx.Log.Origin, pub)
			if err == nil {
				vs = append(vs, nv)
			}
		}
		c, _, err := tlog.Open(cpBytes, idx.Log.Origin, note.VerifierList(vs...))
		if err != nil {
			v.add(FileCheckpoint, "", "%v", err)
		} else {
			cp = c
			v.res.Checkpoint = &CheckpointResult{Size: c.Size, Root: c.Root}
			if c.Size != idx.Log.Size {
				v.add(FileIndex, "", "log size %d, but the checkpoint is of size %d", idx.Log.Size, c.Size)
			}
		}
	}

	// Records and their proofs.
	recs, byHash := v.loadRecords(files, DirRecords, DirProofs, "record", func(l *loaded) { v.proof(l, cp, cpBytes) })
	v.res.Records = len(recs)

	// Chains and keys, in log order.
	sort.Slice(recs, func(i, j int) bool { return recs[i].index < recs[j].index })
	checker := chain.NewChecker()
	for i, l := range recs {
		if !l.ok {
			continue // its position in the log is not established
		}
		if i > 0 && recs[i-1].ok && recs[i-1].index == l.index {
			v.add(l.path, l.rec.Hash.String(), "claims log index %d, as does %s", l.index, recs[i-1].path)
			continue
		}
		if err := checker.Check(l.index, l.rec); err != nil {
			v.add(l.path, l.rec.Hash.String(), "%v", err)
		}
	}
	v.keys(checker.Keys, pems, cp, cpBytes, idx.Log.Origin, recs)
	v.index(&idx, files, byHash, checker)
	v.derived(&idx, checker.Keys)
	if idx.Hub != nil {
		v.hub(&idx, files, cp, cpBytes)
	}
	return v.ctx.Err()
}

// proof checks a record's tlog-proof against the bundle's checkpoint.
func (v *verifier) proof(l *loaded, cp *tlog.Checkpoint, cpBytes []byte) {
	v.proofAt(l, ProofPath(l.rec.Hash), FileCheckpoint, "log", cp, cpBytes)
}

// proofAt checks the tlog-proof at path of record l against the
// checkpoint cpBytes (the file cpFile; cp is nil if it did not verify,
// which is reported elsewhere); log names the log in messages.
func (v *verifier) proofAt(l *loaded, path, cpFile, log string, cp *tlog.Checkpoint, cpBytes []byte) {
	b, ok := v.read(path, tlog.MaxNoteSize+64*64+tlog.MaxCheckpointSize)
	if !ok {
		return
	}
	p, err := tlog.ParseProof(b)
	if err != nil {
		v.add(path, l.rec.Hash.String(), "%v", err)
		return
	}
	l.index = p.Index
	if !bytes.Equal(p.Checkpoint, cpBytes) {
		v.add(path, l.rec.Hash.String(), "leads to a different checkpoint from %s", cpFile)
		return
	}
	if cp == nil {
		return // the checkpoint's own problem is reported
	}
	if err := tlog.VerifyInclusion(p.Index, cp.Size, l.rec.Hash, p.Hashes, cp.Root); err != nil {
		v.add(path, l.rec.Hash.String(), "inclusion proof at %s index %d fails: %v", log, p.Index, err)
		return
	}
	l.ok = true
}

// keys checks the key files against the key timeline, the checkpoint's
// signer, and the caller's pinned keys.
func (v *verifier) keys(ring *chain.Keyring, pems map[string]ed25519.PublicKey, cp *tlog.Checkpoint, cpBytes []byte, origin string, recs []*loaded) {
	spans := ring.Spans()
	if len(spans) == 0 {
		v.add(DirKeys, "", "no key-enrolled record: the device's keys cannot be established")
		return
	}
	for _, s := range spans {
		until := "now"
		if s.Until != math.MaxUint64 {
			until = fmt.Sprintf("log index %d (%s)", s.Until, s.EndedBy)
		}
		v.res.Keys = append(v.res.Keys, KeyResult{KeyID: s.KeyID, From: s.From, Until: until})
		if pub, ok := pems[s.KeyID]; !ok || !bytes.Equal(pub, s.Public) {
			v.add(KeyPath(s.KeyID), "", "the key the records enrol is missing from the bundle")
		}
	}
	for id := range pems {
		if _, ok := ring.Span(id); !ok {
			v.add(KeyPath(id), "", "a key no record of this log enrols")
		}
	}
	// The checkpoint must be signed by a key valid at its last index.
	if cp != nil && cp.Size > 0 {
		valid := false
		for _, s := range spans {
			nv, err := tlog.NewVerifier(origin, s.Public)
			if err != nil {
				continue
			}
			if _, _, err := tlog.Open(cpBytes, origin, note.VerifierList(nv)); err == nil && ring.ValidAt(s.KeyID, cp.Size-1) == nil {
				valid = true
			}
		}
		if !valid {
			v.add(FileCheckpoint, "", "not signed by a key valid at log index %d", cp.Size-1)
		}
	}
	// Every record of the log names the log's device.
	if len(recs) > 0 && origin != "" {
		for _, l := range recs {
			if !strings.HasSuffix(origin, "/"+l.rec.Statement.Predicate.Device.ID) {
				v.add(l.path, l.rec.Hash.String(), "signed by device %s, which does not keep log %s", l.rec.Statement.Predicate.Device.ID, origin)
				break
			}
		}
	}
	// Pinning.
	first := spans[0]
	if len(v.opt.Trusted) == 0 {
		v.res.Warnings = append(v.res.Warnings, fmt.Sprintf(
			"no trusted key was given: the bundle is consistent and signed by device key %s; compare it with the fingerprint the force publishes, or pass it with --key", first.KeyID))
		return
	}
	for i := range v.res.Keys {
		v.res.Keys[i].Pinned = true // trust follows rotations from the first key
	}
	for _, t := range v.opt.Trusted {
		if bytes.Equal(t, first.Public) {
			return
		}
	}
	for i := range v.res.Keys {
		v.res.Keys[i].Pinned = false
	}
	v.add(KeyPath(first.KeyID), "", "the log's first key is not one of the trusted keys given")
}

// index checks exhibits.json, the originals, the export records and the
// custody timeline against the records.
func (v *verifier) index(idx *Index, files map[string]bool, byHash map[chain.Hash]*loaded, checker *chain.Checker) {
	listed := map[chain.Hash]bool{}
	for i, h := range idx.KeyRecords {
		listed[h] = true
		l := byHash[h]
		if l == nil {
			v.add(FileIndex, h.String(), "lists a key record that is not in %s", DirRecords)
		} else if !l.rec.Kind.IsKey() || l.rec.Statement.Predicate.Seq != uint64(i+1) {
			v.add(FileIndex, h.String(), "key record %d of the index is #%d %s", i+1, l.rec.Statement.Predicate.Seq, l.rec.Kind)
		}
	}
	sizes := map[string]int64{}
	for _, f := range v.bag.Files() {
		sizes[f.Path] = f.Size
	}
	exhibitIDs := map[string]bool{}
	for _, ie := range idx.Exhibits {
		exhibitIDs[ie.ID] = true
	}
	payloadListed := map[string]bool{}
	exportRecs := map[chain.Hash]bool{}
	refs := map[string]bool{}
	for _, ie := range idx.Exhibits {
		// The reference names the exhibit's folder (refDir), which is
		// reversible only for valid references.
		if _, _, err := chain.ParseRef(ie.Ref); err != nil {
			v.add(FileIndex, "", "exhibit %q: %v", ie.Ref, err)
		} else if refs[ie.Ref] {
			v.add(FileIndex, "", "exhibit %s is listed twice", ie.Ref)
		}
		refs[ie.Ref] = true
		er := ExhibitResult{Ref: ie.Ref, Kind: ie.Kind, Files: ie.Files, Records: len(ie.Records)}
		v.res.Exhibits = append(v.res.Exhibits, er)
		if len(ie.Records) == 0 {
			v.add(FileIndex, "", "exhibit %s lists no records", ie.Ref)
			continue
		}
		var chainRecs []*chain.Record
		for i, h := range ie.Records {
			listed[h] = true
			l := byHash[h]
			if l == nil {
				v.add(FileIndex, h.String(), "exhibit %s: record %d is not in %s", ie.Ref, i+1, DirRecords)
				continue
			}
			p := l.rec.Statement.Predicate
			if p.Chain != ie.ID || p.Seq != uint64(i+1) {
				v.add(FileIndex, h.String(), "exhibit %s: its record %d is #%d of chain %s", ie.Ref, i+1, p.Seq, p.Chain)
			}
			chainRecs = append(chainRecs, l.rec)
		}
		if len(chainRecs) != len(ie.Records) {
			continue
		}
		if seq, head := checker.Head(ie.ID); seq != uint64(len(ie.Records)) || head != ie.Records[len(ie.Records)-1] {
			v.add(FileIndex, "", "exhibit %s: the bundle's records of its chain end at #%d, the index lists %d", ie.Ref, seq, len(ie.Records))
		}
		first := chainRecs[0].Statement.Predicate.Exhibit
		if first == nil || first.ID != ie.ID || first.Ref != ie.Ref || first.Kind != ie.Kind || first.DerivedFrom != ie.DerivedFrom || first.PartOf != ie.PartOf {
			v.add(FileIndex, chainRecs[0].Hash.String(), "exhibit %s: the index does not match the exhibit's first record", ie.Ref)
		}
		if first != nil {
			for what, ref := range map[string]string{"derivedFrom": first.DerivedFrom, "partOf": first.PartOf} {
				if ref != "" && !exhibitIDs[ref] {
					v.add(FileIndex, chainRecs[0].Hash.String(), "exhibit %s: %s names exhibit %s, which is not in this bundle", ie.Ref, what, ref)
				}
			}
		}
		v.originals(ie, chainRecs[0], payloadListed)
		v.members(ie, chainRecs, byHash)
		for _, f := range ie.Files {
			if sz, ok := sizes[f.Path]; ok && sz != f.Size {
				v.add(FileIndex, "", "exhibit %s: %s is %d bytes, the index says %d", ie.Ref, f.Path, sz, f.Size)
			}
		}
		if idx.Hub != nil {
			// A hub cannot sign on the agent's chains: its exported
			// record is in its own log (hub).
			continue
		}
		last := chainRecs[len(chainRecs)-1]
		exp := last.Statement.Predicate.Export
		if last.Kind != chain.KindExported || exp == nil || exp.Bundle != v.base || exp.Case != idx.Case {
			v.add(RecordPath(last.Hash), last.Hash.String(), "exhibit %s: the chain's last record is not the record of this export", ie.Ref)
			continue
		}
		exportRecs[last.Hash] = true
		if lp := last.Statement.Predicate; !lp.Time.Equal(idx.Exported) || lp.Actor == nil || *lp.Actor != idx.Exporter {
			v.add(FileIndex, last.Hash.String(), "exhibit %s: the index's export time or exporter differs from the signed export record", ie.Ref)
		}
		v.exportFiles(exp.Files, last.Hash, files)
	}
	for h, l := range byHash {
		if !listed[h] {
			v.add(l.path, h.String(), "a record the index does not list")
		}
	}
	for p := range files {
		if strings.HasPrefix(p, DirExhibits) && !payloadListed[p] {
			v.add(p, "", "a file in %s that no record names", DirExhibits)
		}
	}
	known := map[string]bool{FileIndex: true, FileCustody: true, FileReport: true, FileReadme: true, FileCheckpoint: true, FileVKeys: true}
	if idx.Hub != nil {
		known[FileWitnessVKey] = true
	}
	for p := range files {
		if idx.Hub != nil && strings.HasPrefix(p, DirHub) {
			continue // hub checks them
		}
		if strings.HasPrefix(p, "data/") && !known[p] && !strings.HasPrefix(p, DirExhibits) && !strings.HasPrefix(p, DirRecords) &&
			!strings.HasPrefix(p, DirProofs) && !strings.HasPrefix(p, DirKeys) {
			v.add(p, "", "a file that is not part of an Exhibit bundle")
		}
	}
	v.custody(byHash, exportRecs)
}

// exportFiles checks the derived files a signed export record names.
func (v *verifier) exportFiles(fs []chain.Subject, rec chain.Hash, files map[string]bool) {
	for _, f := range fs {
		want, _ := f.SHA256()
		got, ok := v.rep.SHA256[f.Name]
		switch {
		case !ok && !files[f.Name]:
			v.add(f.Name, rec.String(), "named by the export record but missing")
		case ok && got != want:
			v.add(f.Name, rec.String(), "has SHA-256 %s, but the signed export record says %s", got, want)
		}
	}
}

// members checks every sealed record of an image set against the pictures
// it names (docs/records.md, "Pictures"): each member's record is in the
// bundle and is the first record of an image exhibit that is part of this
// set, with that reference and shot.
func (v *verifier) members(ie IndexExhibit, recs []*chain.Record, byHash map[chain.Hash]*loaded) {
	for _, r := range recs {
		for i, m := range r.Statement.Predicate.Members {
			l := byHash[m.Record]
			if l == nil {
				v.add(RecordPath(r.Hash), r.Hash.String(), "image set %s: member %d (%s, shot %s) names a record that is not in this bundle", ie.Ref, i+1, m.Ref, m.Shot)
				continue
			}
			p := l.rec.Statement.Predicate
			switch {
			case p.Seq != 1 || p.Exhibit == nil || p.Exhibit.ID != m.ID || p.Exhibit.Ref != m.Ref || p.Exhibit.Kind != chain.ExhibitImage:
				v.add(RecordPath(r.Hash), r.Hash.String(), "image set %s: member %d is not the first record of picture %s", ie.Ref, i+1, m.Ref)
			case p.Exhibit.PartOf != ie.ID:
				v.add(RecordPath(r.Hash), r.Hash.String(), "image set %s: member %s is not part of this set", ie.Ref, m.Ref)
			case p.Image == nil || p.Image.Shot != m.Shot:
				v.add(RecordPath(r.Hash), r.Hash.String(), "image set %s: member %s is not a picture of shot %s", ie.Ref, m.Ref, m.Shot)
			}
		}
	}
}

// derived checks the files Export derives from signed data — the
// signed-note verifier keys and bag-info.txt — by deriving them again: a
// change made to them, even with every manifest rewritten to match, shows.
func (v *verifier) derived(idx *Index, ring *chain.Keyring) {
	if want, err := vkeysText(idx.Log.Origin, ring); err == nil {
		if got, ok := v.read(FileVKeys, maxSmallFile); ok && !bytes.Equal(got, want) {
			v.add(FileVKeys, "", "does not match the keys the records enrol")
		}
	}
	if v.rep.Info == nil {
		return // bagit reported why
	}
	want := append(bagInfo(idx), bagit.Tag{Label: "Bagging-Date", Value: idx.Exported.UTC().Format("2006-01-02")})
	var got []bagit.Tag
	for _, t := range v.rep.Info {
		if t.Label != "Payload-Oxum" { // checked against the payload by bagit
			got = append(got, t)
		}
	}
	if len(got) != len(want) {
		v.add("bag-info.txt", "", "has %d elements besides Payload-Oxum, %d are derived from the index", len(got), len(want))
		return
	}
	for i := range want {
		if got[i] != want[i] {
			v.res.Problems = append(v.res.Problems, Problem{File: "bag-info.txt", Line: i + 1,
				What: fmt.Sprintf("%s: %q differs from what the signed index gives: %q", got[i].Label, got[i].Value, want[i].Value)})
		}
	}
}

// originals checks an exhibit's payload files against its first record.
func (v *verifier) originals(ie IndexExhibit, first *chain.Record, payloadListed map[string]bool) {
	subjects := map[chain.Hash]string{}
	for _, s := range first.Statement.Subject {
		h, _ := s.SHA256()
		subjects[h] = s.Name
	}
	seen := map[chain.Hash]bool{}
	for _, f := range ie.Files {
		payloadListed[f.Path] = true
		if !strings.HasPrefix(f.Path, refDir(ie.Ref)) {
			v.add(FileIndex, "", "exhibit %s: file %q is outside %s", ie.Ref, f.Path, refDir(ie.Ref))
		}
		name, ok := subjects[f.SHA256]
		if !ok {
			v.add(FileIndex, first.Hash.String(), "exhibit %s: %s is not an original its first record names", ie.Ref, f.Path)
			continue
		}
		seen[f.SHA256] = true
		if name != f.Name {
			v.add(FileIndex, first.Hash.String(), "exhibit %s: %s is named %q in the index but %q in the record", ie.Ref, f.Path, f.Name, name)
		}
		got, ok := v.rep.SHA256[f.Path]
		switch {
		case !ok:
			v.add(f.Path, first.Hash.String(), "exhibit %s: original missing or unreadable", ie.Ref)
		case got != f.SHA256:
			v.add(f.Path, first.Hash.String(), "exhibit %s: original has SHA-256 %s, the signed record says %s", ie.Ref, got, f.SHA256)
		}
	}
	for h, name := range subjects {
		if !seen[h] {
			v.add(FileIndex, first.Hash.String(), "exhibit %s: the original %q (%s) its first record names is not in the bundle", ie.Ref, name, h)
		}
	}
}

// custody re-derives custody.jsonl from the records and compares.
func (v *verifier) custody(byHash map[chain.Hash]*loaded, exportRecs map[chain.Hash]bool) {
	got, ok := v.read(FileCustody, maxCustodySize)
	if !ok {
		return
	}
	var lines []CustodyLine
	for h, l := range byHash {
		if !exportRecs[h] && l.ok {
			lines = append(lines, custodyLine(l.index, l.rec))
		}
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i].Index < lines[j].Index })
	// The current form, or the form of earlier versions, whole.
	bad := -1
	for _, derive := range []func([]CustodyLine) ([]byte, error){custodyJSONL, custodyJSONLLegacy} {
		want, err := derive(lines)
		if err != nil {
			v.add(FileCustody, "", "%v", err)
			return
		}
		if bytes.Equal(got, want) {
			return
		}
		bad = max(bad, firstDifferentLine(got, want))
	}
	rec := ""
	if bad < len(lines) {
		rec = lines[bad].Record.String()
	}
	v.res.Problems = append(v.res.Problems, Problem{File: FileCustody, Line: bad + 1, Record: rec,
		What: "does not match the signed records (the timeline must be re-derivable from them)"})
}

// firstDifferentLine returns the 0-based index of the first line at which
// a and b differ (they are known to differ).
func firstDifferentLine(a, b []byte) int {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range max(len(al), len(bl)) {
		if i >= len(al) || i >= len(bl) || al[i] != bl[i] {
			return i
		}
	}
	return max(len(al), len(bl))
}

// parsePublicKey reads a PKIX PEM Ed25519 public key.
func parsePublicKey(b []byte) (ed25519.PublicKey, error) {
	blk, rest := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" || len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("not a single PEM PUBLIC KEY block")
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("a %T key, not Ed25519", k)
	}
	return pub, nil
}

// ParsePublicKey reads a PKIX PEM Ed25519 public key, as bundles carry them.
func ParsePublicKey(b []byte) (ed25519.PublicKey, error) { return parsePublicKey(b) }

// PublicKeyPEM encodes pub as a PKIX "PUBLIC KEY" PEM block, the form
// bundles carry and openssl reads (`openssl pkeyutl -verify -pubin -inkey
// K.pem -rawin`).
func PublicKeyPEM(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// loadRecords reads the records under recDir (each named by its hash,
// checked), calls prove with each, and reports every file under proofDir
// that proves no record read (what names the kind of record in the
// message).
func (v *verifier) loadRecords(files map[string]bool, recDir, proofDir, what string, prove func(*loaded)) ([]*loaded, map[chain.Hash]*loaded) {
	var recs []*loaded
	byHash := map[chain.Hash]*loaded{}
	for p := range files {
		if !strings.HasPrefix(p, recDir) {
			continue
		}
		hexName, ok := strings.CutSuffix(strings.TrimPrefix(p, recDir), recordExt)
		want, err := chain.ParseHex(hexName)
		if !ok || err != nil {
			v.add(p, "", "unexpected file in %s", recDir)
			continue
		}
		b, ok := v.read(p, chain.MaxRecordSize)
		if !ok {
			continue
		}
		if got := chain.Sum(b); got != want {
			v.add(p, want.String(), "the file hashes to %s, not to the record hash its name gives", got)
			continue
		}
		r, err := chain.DecodeRecord(b)
		if err != nil {
			v.add(p, want.String(), "%v", err)
			continue
		}
		l := &loaded{rec: r, path: p}
		recs = append(recs, l)
		byHash[r.Hash] = l
		prove(l)
	}
	for p := range files {
		if strings.HasPrefix(p, proofDir) {
			hexName, ok := strings.CutSuffix(strings.TrimPrefix(p, proofDir), proofExt)
			h, err := chain.ParseHex(hexName)
			if !ok || err != nil || byHash[h] == nil {
				v.add(p, "", "a proof for no %s in this bundle", what)
			}
		}
	}
	return recs, byHash
}
