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
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

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

// custodyJSONL renders custody lines, one JSON object per line.
func custodyJSONL(lines []CustodyLine) ([]byte, error) {
	var b strings.Builder
	for _, l := range lines {
		j, err := json.Marshal(l)
		if err != nil {
			return nil, err
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	return []byte(b.String()), nil
}

// BundleName returns the bag's base directory name for a case exported at t.
func BundleName(caseRef string, t time.Time) string {
	return "exhibit-" + safeName(caseRef, 64) + "-" + t.UTC().Format("20060102T150405Z")
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

// refDir returns the payload directory of an exhibit reference.
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
