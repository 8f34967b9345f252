package bundle

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
	"github.com/exhibit-forensics/exhibit/chain/witness"
)

// HubResult is what Verify found of the hub in a bundle a hub exported.
type HubResult struct {
	Origin string `json:"origin"` // the hub's log
	Size   uint64 `json:"size"`   // its checkpoint's size
	// Witness is the witness key the bundle names (log/witness-vkey.txt);
	// Trusted is set when it is one the caller gave (Options.Witnesses).
	Witness string `json:"witness"`
	Trusted bool   `json:"trusted"`
	// Cosigned is when the witness co-signed the agent's checkpoint.
	Cosigned time.Time `json:"cosigned,omitzero"`
	// Synced and Exported are the hub log's records of the checkpoint and
	// of this export, by log index.
	Synced   *uint64 `json:"synced,omitempty"`
	Exported *uint64 `json:"exported,omitempty"`
}

// hub checks what a bundle a hub exported adds (docs/bundle.md, "Bundles a
// hub exports"): the witness key, its cosignature on the agent's
// checkpoint, the hub's log (its checkpoint co-signed by the witness, its
// keys and records with their proofs), its synced record of the agent's
// checkpoint and its exported record of this bundle.
func (v *verifier) hub(idx *Index, files map[string]bool, acp *tlog.Checkpoint, acpBytes []byte) {
	h := idx.Hub
	hr := &HubResult{Origin: h.Origin, Size: h.Size}
	v.res.Hub = hr

	// The witness key.
	var wv note.Verifier
	if b, ok := v.read(FileWitnessVKey, maxSmallFile); ok {
		line, rest, found := bytes.Cut(b, []byte("\n"))
		var err error
		switch {
		case !found || len(rest) != 0:
			v.add(FileWitnessVKey, "", "must be one verifier key on one line ending in LF")
		default:
			wv, err = witness.ParseVerifierKey(string(line))
			if err != nil {
				v.add(FileWitnessVKey, "", "%v", err)
			} else if wv.Name() != h.Witness {
				v.add(FileWitnessVKey, "", "the key is named %q, the index names witness %q", wv.Name(), h.Witness)
				wv = nil
			}
		}
		if wv != nil {
			hr.Witness = string(line)
			if len(v.opt.Witnesses) == 0 {
				v.res.Warnings = append(v.res.Warnings, fmt.Sprintf(
					"no trusted witness key was given: the cosignatures verify with the key the bundle names, %s; compare it with the hub's published key, or pass it with --witness", hr.Witness))
			} else {
				for _, t := range v.opt.Witnesses {
					tv, err := witness.ParseVerifierKey(strings.TrimSpace(t))
					if err == nil && tv.Name() == wv.Name() && tv.KeyHash() == wv.KeyHash() && strings.TrimSpace(t) == hr.Witness {
						hr.Trusted = true
					}
				}
				if !hr.Trusted {
					v.add(FileWitnessVKey, "", "the witness key %s is not one of the trusted witness keys given", hr.Witness)
				}
			}
		}
	}

	// The witness's cosignature on the agent's checkpoint.
	if wv != nil && acpBytes != nil {
		if n, err := note.Open(acpBytes, note.VerifierList(wv)); err != nil {
			v.add(FileCheckpoint, "", "carries no valid cosignature by the hub's witness key %s: %v", wv.Name(), err)
		} else {
			for _, s := range n.Sigs {
				if s.Name == wv.Name() && s.Hash == wv.KeyHash() {
					if t, err := witness.CosignatureTime(s); err == nil {
						hr.Cosigned = t
					}
				}
			}
		}
	}

	// The hub's checkpoint: co-signed by the witness (which anchors the
	// hub's log to the witness key) and signed by a hub key (below).
	var hcp *tlog.Checkpoint
	hcpBytes, hcpOK := v.read(FileHubCheckpoint, tlog.MaxNoteSize)
	if hcpOK && wv != nil {
		n, err := note.Open(hcpBytes, note.VerifierList(wv))
		if err != nil {
			v.add(FileHubCheckpoint, "", "carries no valid cosignature by the hub's witness key %s: %v", wv.Name(), err)
		} else if c, err := tlog.ParseCheckpoint([]byte(n.Text)); err != nil {
			v.add(FileHubCheckpoint, "", "%v", err)
		} else if c.Origin != h.Origin || c.Size != h.Size {
			v.add(FileHubCheckpoint, "", "is of log %s at size %d, the index says %s at size %d", c.Origin, c.Size, h.Origin, h.Size)
		} else {
			hcp = c
		}
	}

	// The hub's keys.
	pems := map[string]ed25519.PublicKey{}
	for p := range files {
		if !strings.HasPrefix(p, DirHub) {
			continue
		}
		if p == FileHubCheckpoint || strings.HasPrefix(p, DirHubRecords) || strings.HasPrefix(p, DirHubProofs) {
			continue
		}
		id, ok := strings.CutSuffix(strings.TrimPrefix(p, DirHubKeys), keyExt)
		if !strings.HasPrefix(p, DirHubKeys) || !ok {
			v.add(p, "", "a file that is not part of an Exhibit bundle")
			continue
		}
		b, ok := v.read(p, maxSmallFile)
		if !ok {
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

	// The hub's records and their proofs against its checkpoint.
	recs, byHash := v.loadRecords(files, DirHubRecords, DirHubProofs, "hub record", func(l *loaded) { v.hubProof(l, hcp, hcpBytes) })
	sort.Slice(recs, func(i, j int) bool { return recs[i].index < recs[j].index })
	checker := chain.NewChecker()
	for i, l := range recs {
		if !l.ok {
			continue
		}
		if i > 0 && recs[i-1].ok && recs[i-1].index == l.index {
			v.add(l.path, l.rec.Hash.String(), "claims hub log index %d, as does %s", l.index, recs[i-1].path)
			continue
		}
		if err := checker.Check(l.index, l.rec); err != nil {
			v.add(l.path, l.rec.Hash.String(), "%v", err)
		}
		if !strings.HasSuffix(h.Origin, "/"+l.rec.Statement.Predicate.Device.ID) {
			v.add(l.path, l.rec.Hash.String(), "signed by device %s, which does not keep the hub's log %s", l.rec.Statement.Predicate.Device.ID, h.Origin)
		}
	}
	ring := checker.Keys
	spans := ring.Spans()
	if len(spans) == 0 {
		v.add(DirHubKeys, "", "no key-enrolled record of the hub's log: its keys cannot be established")
	}
	for _, s := range spans {
		if pub, ok := pems[s.KeyID]; !ok || !bytes.Equal(pub, s.Public) {
			v.add(HubKeyPath(s.KeyID), "", "the key the hub's records enrol is missing from the bundle")
		}
	}
	for id := range pems {
		if _, ok := ring.Span(id); !ok {
			v.add(HubKeyPath(id), "", "a key no record of the hub's log enrols")
		}
	}
	if hcp != nil && hcp.Size > 0 {
		valid := false
		for _, s := range spans {
			nv, err := tlog.NewVerifier(h.Origin, s.Public)
			if err != nil {
				continue
			}
			if _, _, err := tlog.Open(hcpBytes, h.Origin, note.VerifierList(nv)); err == nil && ring.ValidAt(s.KeyID, hcp.Size-1) == nil {
				valid = true
			}
		}
		if !valid {
			v.add(FileHubCheckpoint, "", "not signed by a key of the hub's log valid at log index %d", hcp.Size-1)
		}
	}

	// The index's lists are the hub's chains, complete.
	listed := map[chain.Hash]bool{}
	chainOf := chain.WitnessedChain(idx.Log.Origin)
	for what, list := range map[string][]chain.Hash{"device:": h.KeyRecords, chainOf: h.Records} {
		for i, hh := range list {
			listed[hh] = true
			l := byHash[hh]
			if l == nil {
				v.add(FileIndex, hh.String(), "lists a hub record that is not in %s", DirHubRecords)
				continue
			}
			p := l.rec.Statement.Predicate
			if p.Seq != uint64(i+1) || (what == chainOf && p.Chain != chainOf) || (what == "device:" && !l.rec.Kind.IsKey()) {
				v.add(FileIndex, hh.String(), "hub record %d of the index's list is #%d of chain %s", i+1, p.Seq, p.Chain)
			}
		}
	}
	for hh, l := range byHash {
		if !listed[hh] {
			v.add(l.path, hh.String(), "a hub record the index does not list")
		}
	}
	if n := len(h.Records); n > 0 && byHash[h.Records[n-1]] != nil {
		if seq, head := checker.Head(chainOf); seq != uint64(n) || head != h.Records[n-1] {
			v.add(FileIndex, "", "the hub's records of log %s end at #%d, the index lists %d", idx.Log.Origin, seq, n)
		}
	}

	// The synced record of the agent's checkpoint, and the exported
	// record of this bundle.
	cpDigest := chain.Sum(acpBytes)
	var synced, exported *loaded
	for _, hh := range h.Records {
		l := byHash[hh]
		if l == nil || !l.ok {
			continue
		}
		p := l.rec.Statement.Predicate
		w := p.Witnessed
		if w == nil || acp == nil || w.Origin != idx.Log.Origin || w.Size != acp.Size || w.Root != acp.Root {
			continue
		}
		if d, _ := l.rec.Statement.Subject[0].SHA256(); d != cpDigest {
			continue
		}
		switch {
		case l.rec.Kind == chain.KindSynced && synced == nil:
			synced = l
		case l.rec.Kind == chain.KindExported && p.Export != nil && p.Export.Bundle == v.base:
			if exported != nil {
				v.add(l.path, hh.String(), "a second exported record of this bundle")
			}
			exported = l
		}
	}
	if acp != nil {
		if synced == nil {
			v.add(FileCheckpoint, "", "the hub's log holds no synced record of this co-signed checkpoint")
		} else {
			hr.Synced = &synced.index
		}
	}
	if exported == nil {
		v.add(FileIndex, "", "the hub's log holds no exported record of bundle %s from this checkpoint", v.base)
		return
	}
	hr.Exported = &exported.index
	p := exported.rec.Statement.Predicate
	if p.Export.Case != idx.Case {
		v.add(exported.path, exported.rec.Hash.String(), "the hub's export record is of case %q, the index's is %q", p.Export.Case, idx.Case)
	}
	if !p.Time.Equal(idx.Exported) || p.Actor == nil || *p.Actor != idx.Exporter {
		v.add(FileIndex, exported.rec.Hash.String(), "the index's export time or exporter differs from the hub's signed export record")
	}
	if want := BundleName(idx.Case, idx.Exported, exported.index+1); v.base != want {
		v.add(FileIndex, exported.rec.Hash.String(), "the bag's base directory %q is not the name the hub's export record gives, %q", v.base, want)
	}
	v.exportFiles(p.Export.Files, exported.rec.Hash, files)
}

// hubProof checks a hub record's tlog-proof against the hub's checkpoint.
func (v *verifier) hubProof(l *loaded, cp *tlog.Checkpoint, cpBytes []byte) {
	v.proofAt(l, HubProofPath(l.rec.Hash), FileHubCheckpoint, "hub log", cp, cpBytes)
}
