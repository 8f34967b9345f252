// Package bundle writes and verifies Exhibit's evidence bundles: zipped
// BagIt 1.0 bags (RFC 8493) that carry a case's originals together with
// every signed record about them, an inclusion proof for each record, the
// signed checkpoint those proofs lead to, the device's public keys, a
// custody timeline and a human-readable report — everything needed to check
// the evidence offline, without trusting the police's software.
//
// The layout, and how to verify a bundle by hand, are specified in
// docs/bundle.md. Export writes a bundle from a ledger; Verify checks one
// using nothing but the bundle (and optionally pinned keys).
package bundle

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"golang.org/x/mod/sumdb/note"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/bagit"
)

// Paths inside the bag (relative to its base directory).
const (
	DirExhibits    = "data/exhibits/"
	DirRecords     = "data/records/"
	DirProofs      = "data/proofs/"
	DirKeys        = "data/keys/"
	FileIndex      = "data/exhibits.json"
	FileCustody    = "data/custody.jsonl"
	FileReport     = "data/report.html"
	FileReadme     = "data/README.txt"
	FileCheckpoint = "data/log/checkpoint"
	FileVKeys      = "data/log/vkeys.txt"

	recordExt = ".dsse.json"
	proofExt  = ".tlog-proof"
	keyExt    = ".pem"

	// IndexVersion is the version line of exhibits.json.
	IndexVersion = "exhibit-bundle/v1"
)

// RecordPath returns where a record's envelope is kept.
func RecordPath(h chain.Hash) string { return DirRecords + h.Hex() + recordExt }

// ProofPath returns where a record's tlog-proof is kept.
func ProofPath(h chain.Hash) string { return DirProofs + h.Hex() + proofExt }

// KeyPath returns where a public key is kept.
func KeyPath(keyID string) string { return DirKeys + keyID + keyExt }

// Index is exhibits.json: what the bundle holds, by exhibit.
type Index struct {
	Version  string         `json:"version"`
	Bundle   string         `json:"bundle"`
	Case     string         `json:"case"`
	Exported time.Time      `json:"exported"`
	Exporter chain.Person   `json:"exporter"`
	Log      IndexLog       `json:"log"`
	Exhibits []IndexExhibit `json:"exhibits"`
	// KeyRecords are the device chain's records (key enrolment, rotation,
	// retirement), in order.
	KeyRecords []chain.Hash `json:"keyRecords"`
	// Hub is set on a bundle a hub exported (docs/bundle.md, "Bundles a
	// hub exports").
	Hub *IndexHub `json:"hub,omitempty"`
}

// IndexLog names the log and the checkpoint the proofs lead to.
type IndexLog struct {
	Origin string `json:"origin"`
	Size   uint64 `json:"size"`
}

// IndexExhibit is one exhibit in the index.
type IndexExhibit struct {
	Ref         string       `json:"ref"`
	ID          string       `json:"id"`
	Kind        string       `json:"kind"`
	DerivedFrom string       `json:"derivedFrom,omitempty"`
	PartOf      string       `json:"partOf,omitempty"`
	Files       []IndexFile  `json:"files"`
	Records     []chain.Hash `json:"records"` // chain order, this bundle's export record last
}

// IndexFile is one original in the payload.
type IndexFile struct {
	Name   string     `json:"name"` // the subject name in the records
	Path   string     `json:"path"` // where it is in the bag
	SHA256 chain.Hash `json:"sha256"`
	Size   int64      `json:"size"`
}

// CustodyLine is one line of custody.jsonl: a record, as a person reads a
// custody timeline. Verify re-derives every line from the records.
type CustodyLine struct {
	Index   uint64     `json:"index"`
	Record  chain.Hash `json:"record"`
	Exhibit string     `json:"exhibit,omitempty"`
	Seq     uint64     `json:"seq"`
	Kind    chain.Kind `json:"kind"`
	Time    time.Time  `json:"time"`
	Actor   string     `json:"actor,omitempty"`
	From    string     `json:"from,omitempty"`
	To      string     `json:"to,omitempty"`
	Device  string     `json:"device"`
	KeyID   string     `json:"keyid"`
	Note    string     `json:"note,omitempty"`
}

// custodyLine derives a record's custody line.
func custodyLine(index uint64, r *chain.Record) CustodyLine {
	p := r.Statement.Predicate
	c := CustodyLine{Index: index, Record: r.Hash, Seq: p.Seq, Kind: r.Kind, Time: p.Time.UTC(), Device: p.Device.ID, KeyID: p.Device.KeyID, Note: p.Note}
	if p.Exhibit != nil {
		c.Exhibit = p.Exhibit.Ref
	}
	if p.Actor != nil {
		c.Actor = p.Actor.Name
	}
	if h := p.Handover; h != nil {
		c.From = h.From.Name + " (" + h.From.ID + ", " + h.From.AuthMethod + ")"
		c.To = h.To.Name + " (" + h.To.ID + ", " + h.To.AuthMethod + ")"
	}
	if p.Export != nil && c.Note == "" {
		c.Note = "exported in " + p.Export.Bundle
	}
	return c
}

// custodyJSONL renders custody lines, one compact JSON object per line, as
// docs/bundle.md specifies byte for byte: members in CustodyLine's order,
// empty optional members left out, strings escaped only where JSON requires
// it ('"', '\\' and U+0000–U+001F) — what an ordinary JSON writer produces,
// so that a second implementation can re-derive the file. Records are
// decoded strictly, so every string is valid UTF-8 (anything else is an
// error here, not a silent replacement).
func custodyJSONL(lines []CustodyLine) ([]byte, error) {
	return custodyLines(lines, func(l CustodyLine) ([]byte, error) {
		return jsonv2.Marshal(l, jsontext.EscapeForHTML(false), jsontext.EscapeForJS(false))
	})
}

// custodyJSONLLegacy renders custody lines as versions before custodyJSONL
// did, with encoding/json, which also escapes '<', '>', '&', U+2028 and
// U+2029 (as \u003c, \u003e, \u0026, \u2028, \u2029). Verify accepts a
// timeline in either form, so that bundles written then still verify.
func custodyJSONLLegacy(lines []CustodyLine) ([]byte, error) {
	return custodyLines(lines, func(l CustodyLine) ([]byte, error) { return json.Marshal(l) })
}

func custodyLines(lines []CustodyLine, marshal func(CustodyLine) ([]byte, error)) ([]byte, error) {
	var b []byte
	for _, l := range lines {
		j, err := marshal(l)
		if err != nil {
			return nil, err
		}
		b = append(append(b, j...), '\n')
	}
	return b, nil
}

// nameTime is the layout of the export time in a bundle name.
const nameTime = "20060102T150405Z"

// ErrBundleName reports a bag base directory name that is not a bundle
// name (docs/bundle.md, "Names").
var ErrBundleName = errors.New("not a bundle name")

// BundleName returns the bag's base directory name for an export of caseRef
// at t whose checkpoint is of size logSize (docs/bundle.md, "Names"):
//
//	exhibit-<chain.EscapeCaseRef(caseRef)>-<t in UTC, YYYYMMDDTHHMMSSZ>-<logSize>
//
// The log size makes names unique on a device: every export appends its
// exported records to the log, so no two exports from one log have the same
// checkpoint size, even within one second. The case reference is escaped
// reversibly (ParseBundleName gives it back).
func BundleName(caseRef string, t time.Time, logSize uint64) string {
	return "exhibit-" + chain.EscapeCaseRef(caseRef) + "-" + t.UTC().Format(nameTime) + "-" + strconv.FormatUint(logSize, 10)
}

// legacyBundleName is the name versions before BundleName's log size and
// escaping gave a bundle: the case with every character outside
// [A-Za-z0-9._-] replaced by '_', leading dots removed ("file" if nothing is
// left), and the time. Such names are not unique and not reversible; Verify
// accepts them on bundles written by those versions.
func legacyBundleName(caseRef string, t time.Time) string {
	return "exhibit-" + safeName(caseRef, 64) + "-" + t.UTC().Format(nameTime)
}

// ParseBundleName splits a name made by BundleName into the case reference,
// the export time (to the second) and the log size. It accepts only
// BundleName's own output for a valid case reference.
func ParseBundleName(name string) (caseRef string, t time.Time, logSize uint64, err error) {
	bad := func(why string) error { return fmt.Errorf("%w: %q: %s", ErrBundleName, clipName(name), why) }
	rest, ok := strings.CutPrefix(name, "exhibit-")
	if !ok {
		return "", time.Time{}, 0, bad(`does not start with "exhibit-"`)
	}
	i := strings.LastIndexByte(rest, '-')
	if i < 0 {
		return "", time.Time{}, 0, bad("no log size")
	}
	num := rest[i+1:]
	logSize, perr := strconv.ParseUint(num, 10, 64)
	if perr != nil || strconv.FormatUint(logSize, 10) != num {
		return "", time.Time{}, 0, bad("the log size is not a decimal without leading zeros")
	}
	rest = rest[:i]
	if len(rest) < len(nameTime)+2 || rest[len(rest)-len(nameTime)-1] != '-' {
		return "", time.Time{}, 0, bad("no export time")
	}
	t, perr = time.Parse(nameTime, rest[len(rest)-len(nameTime):])
	if perr != nil {
		return "", time.Time{}, 0, bad("the export time is not YYYYMMDDTHHMMSSZ")
	}
	caseRef, perr = chain.UnescapeCaseRef(rest[:len(rest)-len(nameTime)-1])
	if perr != nil {
		return "", time.Time{}, 0, fmt.Errorf("%w: %w", ErrBundleName, perr)
	}
	if perr := chain.ValidCaseRef(caseRef); perr != nil {
		return "", time.Time{}, 0, fmt.Errorf("%w: %w", ErrBundleName, perr)
	}
	if BundleName(caseRef, t, logSize) != name {
		return "", time.Time{}, 0, bad("not in canonical form")
	}
	return caseRef, t, logSize, nil
}

// checkBundleName reports an error unless base, a bag's base directory, is
// the name the index gives: BundleName of its case, export time and log
// size, or, for bundles written by earlier versions, legacyBundleName.
func checkBundleName(base string, idx *Index) error {
	want := BundleName(idx.Case, idx.Exported, idx.Log.Size)
	if base == want || base == legacyBundleName(idx.Case, idx.Exported) {
		return nil
	}
	if _, _, _, err := ParseBundleName(base); err != nil {
		return fmt.Errorf("the bag's base directory is not a bundle name (want %q): %w", want, err)
	}
	return fmt.Errorf("the bag's base directory %q is not the name of this index's case, export time and log size, %q", base, want)
}

func clipName(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// safeName keeps letters, digits, '.', '_' and '-' of s (other characters
// become '_'), at most max bytes, never starting with '.'.
func safeName(s string, max int) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= max {
			break
		}
	}
	out := strings.TrimLeft(b.String(), ".")
	if len(out) > max {
		out = out[:max]
	}
	if out == "" || !utf8.ValidString(out) {
		return "file"
	}
	return out
}

// refDir returns the payload directory of an exhibit reference: the
// reference with its one '/' replaced by '-' ("JS/1" → "data/exhibits/JS-1/").
// For a valid exhibit reference (chain.ParseRef: capital initials, '/', a
// number) this is reversible and collision-free, since neither part can
// contain '-'; Verify checks that every reference in the index is valid.
func refDir(ref string) string { return DirExhibits + strings.ReplaceAll(ref, "/", "-") + "/" }

// short abbreviates a hash or key id for messages.
func short(s string) string {
	if len(s) > 23 {
		return s[:23] + "…"
	}
	return s
}

// bagInfo returns the bag-info.txt elements Export writes (before the
// Bagging-Date and Payload-Oxum the BagIt writer adds). Every one is derived
// from the index, so Verify can re-derive and compare them.
func bagInfo(idx *Index) []bagit.Tag {
	n := len(idx.KeyRecords)
	for _, e := range idx.Exhibits {
		n += len(e.Records)
	}
	return []bagit.Tag{
		{Label: "Source-Organization", Value: "Exhibit evidence system"},
		{Label: "External-Identifier", Value: idx.Case},
		{Label: "External-Description", Value: fmt.Sprintf("Evidence bundle for case %s: %d exhibits, %d signed records, log %s at size %d",
			idx.Case, len(idx.Exhibits), n, idx.Log.Origin, idx.Log.Size)},
		{Label: "Bag-Group-Identifier", Value: idx.Bundle},
		{Label: "Exhibit-Log-Origin", Value: idx.Log.Origin},
		{Label: "Exhibit-Log-Size", Value: fmt.Sprint(idx.Log.Size)},
	}
}

// vkeysText returns data/log/vkeys.txt: the signed-note verifier key of
// every device key, one per line, in the order the keys began signing.
func vkeysText(origin string, ring *chain.Keyring) ([]byte, error) {
	var b []byte
	for _, span := range ring.Spans() {
		vk, err := note.NewEd25519VerifierKey(origin, span.Public)
		if err != nil {
			return nil, err
		}
		b = append(b, vk+"\n"...)
	}
	return b, nil
}
