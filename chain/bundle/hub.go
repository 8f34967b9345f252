package bundle

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/bagit"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

// Paths of a bundle a hub exports (docs/bundle.md, "Bundles a hub
// exports"), beside the v1 layout.
const (
	FileWitnessVKey   = "data/log/witness-vkey.txt"
	DirHub            = "data/hub/"
	DirHubRecords     = "data/hub/records/"
	DirHubProofs      = "data/hub/proofs/"
	DirHubKeys        = "data/hub/keys/"
	FileHubCheckpoint = "data/hub/checkpoint"
)

// HubRecordPath returns where a record of the hub's log is kept.
func HubRecordPath(h chain.Hash) string { return DirHubRecords + h.Hex() + recordExt }

// HubProofPath returns where a hub record's tlog-proof is kept.
func HubProofPath(h chain.Hash) string { return DirHubProofs + h.Hex() + proofExt }

// HubKeyPath returns where a key of the hub's log is kept.
func HubKeyPath(keyID string) string { return DirHubKeys + keyID + keyExt }

// IndexHub is the hub section of exhibits.json in a bundle a hub exported:
// the hub's log, the checkpoint of it the bundle carries, the witness key's
// name, and the hub records the bundle holds.
type IndexHub struct {
	Origin  string `json:"origin"`
	Size    uint64 `json:"size"`
	Witness string `json:"witness"`
	// KeyRecords are the hub log's device chain, in order.
	KeyRecords []chain.Hash `json:"keyRecords"`
	// Records are the hub log's chain about the agent log the bundle is
	// from (chain.WitnessedChain), in order, up to the hub checkpoint;
	// this bundle's exported record is among them.
	Records []chain.Hash `json:"records"`
}

// HubLog is what ExportHub needs of the hub's own log (api/hub/hublog).
type HubLog interface {
	Identity() store.Identity
	// Exported records the export, on the chain of the agent log whose
	// co-signed checkpoint is cosigned, with time at; ex gives the export
	// section from the log index the record gets. It returns the record,
	// its index and a co-signed checkpoint of the hub's log covering it.
	Exported(ctx context.Context, cosigned []byte, actor chain.Person, at time.Time, ex func(index uint64) (chain.Export, error)) (*chain.Record, uint64, []byte, error)
	ChainRecords(ctx context.Context, chainID string) ([]store.StoredRecord, error)
	Prove(ctx context.Context, index uint64, cp []byte) (*tlog.Proof, error)
}

// HubInput is what a hub's bundle is made from: the case's exhibits as one
// agent's log holds them (the hub's mirror of it), the checkpoint of that
// log the hub co-signed, and the hub's own log. api/hub/hubexport chooses
// them.
type HubInput struct {
	Case     string
	Exporter chain.Person
	Now      time.Time
	// Agent is the mirror of the agent's log; Origin its origin; DeviceID
	// the agent device.
	Agent    store.Reader
	Origin   string
	DeviceID string
	// Checkpoint is the agent's checkpoint with the hub's cosignature; it
	// must cover every record of Exhibits and of the agent's device chain.
	Checkpoint []byte
	// WitnessVKey is the hub witness's verifier key (witness.VerifierKey).
	WitnessVKey string
	Exhibits    []store.Exhibit
	Blobs       interface {
		blobstore.Fetcher
		blobstore.Statter
	}
	Hub HubLog
}

// ExportHub writes a bundle a hub exports (docs/bundle.md, "Bundles a hub
// exports"): the v1 layout of one agent log's records of the case, proven
// against a checkpoint the hub co-signed, with the hub's log records
// (its synced record of that checkpoint, its exported record of this
// bundle) proven against a checkpoint of the hub's log that the witness
// key co-signs. The hub cannot sign on the agent's chains, so its exported
// record is in its own log.
func ExportHub(ctx context.Context, in HubInput, out io.Writer, opt ExportOptions) (*ExportResult, error) {
	if err := chain.ValidCaseRef(in.Case); err != nil {
		return nil, err
	}
	if len(in.Exhibits) == 0 {
		return nil, fmt.Errorf("case %q has no exhibits in this log", in.Case)
	}
	if in.Exporter.Name == "" {
		return nil, errors.New("export: the exporter's name is required")
	}
	text, _, ok := bytes.Cut(in.Checkpoint, []byte("\n\n"))
	if !ok {
		return nil, errors.New("export: the co-signed checkpoint is not a signed note")
	}
	acp, err := tlog.ParseCheckpoint(append(bytes.Clone(text), '\n'))
	if err != nil {
		return nil, fmt.Errorf("export: the co-signed checkpoint: %w", err)
	}
	if acp.Origin != in.Origin {
		return nil, fmt.Errorf("export: the co-signed checkpoint is of log %s, not %s", acp.Origin, in.Origin)
	}
	now := in.Now.UTC()

	keyRecs, err := in.Agent.ChainRecords(ctx, "device:"+in.DeviceID)
	if err != nil {
		return nil, err
	}
	idx := Index{Version: IndexVersion, Case: in.Case, Exported: now, Exporter: in.Exporter,
		Log: IndexLog{Origin: in.Origin, Size: acp.Size}}
	var custody []CustodyLine
	decoded := map[chain.Hash]*chain.Record{}
	indexOf := map[chain.Hash]uint64{}
	ring := chain.NewKeyring()
	take := func(sr store.StoredRecord) (*chain.Record, error) {
		if sr.Index >= acp.Size {
			return nil, fmt.Errorf("export: record %d of %s is beyond the co-signed checkpoint of size %d: sync the agent first", sr.Index, in.Origin, acp.Size)
		}
		r, err := sr.Decode()
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", sr.Index, err)
		}
		decoded[sr.Hash] = r
		indexOf[sr.Hash] = sr.Index
		custody = append(custody, custodyLine(sr.Index, r))
		return r, nil
	}
	for _, kr := range keyRecs {
		if kr.Index >= acp.Size {
			break // keys rotated after the checkpoint play no part
		}
		r, err := take(kr)
		if err != nil {
			return nil, err
		}
		if err := ring.Apply(kr.Index, r); err != nil {
			return nil, fmt.Errorf("record %d: %w", kr.Index, err)
		}
		idx.KeyRecords = append(idx.KeyRecords, kr.Hash)
	}
	var payload []payloadFile
	for _, ex := range in.Exhibits {
		recs, err := in.Agent.ChainRecords(ctx, ex.ID)
		if err != nil {
			return nil, err
		}
		ie := IndexExhibit{Ref: ex.Ref, ID: ex.ID, Kind: ex.Kind, DerivedFrom: ex.DerivedFrom, PartOf: ex.PartOf}
		for _, sr := range recs {
			if sr.Index >= acp.Size {
				break // after the checkpoint: in a later bundle
			}
			if _, err := take(sr); err != nil {
				return nil, err
			}
			ie.Records = append(ie.Records, sr.Hash)
		}
		if len(ie.Records) == 0 {
			return nil, fmt.Errorf("export: exhibit %s begins after the co-signed checkpoint of size %d: sync the agent first", ex.Ref, acp.Size)
		}
		used := map[string]bool{}
		for i, b := range ex.Blobs {
			info, err := in.Blobs.Stat(ctx, b.Hash)
			if err != nil {
				return nil, fmt.Errorf("%s: original %s: %w", ex.Ref, b.Hash, err)
			}
			fname := safeName(b.Name, 100)
			if used[fname] {
				fname = fmt.Sprintf("%d-%s", i+1, fname)
			}
			used[fname] = true
			f := IndexFile{Name: b.Name, Path: refDir(ex.Ref) + fname, SHA256: b.Hash, Size: info.Size}
			ie.Files = append(ie.Files, f)
			payload = append(payload, payloadFile{f.Path, b.Hash, info.Size})
		}
		idx.Exhibits = append(idx.Exhibits, ie)
	}
	sort.Slice(custody, func(i, j int) bool { return custody[i].Index < custody[j].Index })
	custodyBytes, err := custodyJSONL(custody)
	if err != nil {
		return nil, err
	}

	// The hub records the export in its own log; the bundle's name comes
	// from the log index that record gets.
	hubID := in.Hub.Identity()
	var report, readme []byte
	expRec, expIndex, hubCP, err := in.Hub.Exported(ctx, in.Checkpoint, in.Exporter, now, func(index uint64) (chain.Export, error) {
		idx.Bundle = BundleName(in.Case, now, index+1)
		var err error
		report, err = renderReport(reportData{Index: &idx, Custody: custody, Records: decoded, KeyRecords: keyRecs, Exhibits: in.Exhibits})
		if err != nil {
			return chain.Export{}, err
		}
		readme = []byte(hubReadmeText(idx.Bundle))
		return chain.Export{Case: in.Case, Bundle: idx.Bundle, Files: []chain.Subject{
			chain.SubjectFor(FileCustody, chain.Sum(custodyBytes)),
			chain.SubjectFor(FileReport, chain.Sum(report)),
			chain.SubjectFor(FileReadme, chain.Sum(readme)),
		}}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("record the export in the hub's log: %w", err)
	}
	htext, _, _ := bytes.Cut(hubCP, []byte("\n\n"))
	hcp, err := tlog.ParseCheckpoint(append(bytes.Clone(htext), '\n'))
	if err != nil {
		return nil, fmt.Errorf("the hub log's checkpoint: %w", err)
	}
	hubKeyRecs, err := in.Hub.ChainRecords(ctx, "device:"+hubID.DeviceID)
	if err != nil {
		return nil, err
	}
	hubRecs, err := in.Hub.ChainRecords(ctx, chain.WitnessedChain(in.Origin))
	if err != nil {
		return nil, err
	}
	wname, _, _ := cutVKey(in.WitnessVKey)
	idx.Hub = &IndexHub{Origin: hubID.Origin, Size: hcp.Size, Witness: wname}
	hubRing := chain.NewKeyring()
	var hubAll []store.StoredRecord
	for _, sr := range hubKeyRecs {
		if sr.Index >= hcp.Size {
			break
		}
		r, err := sr.Decode()
		if err != nil {
			return nil, fmt.Errorf("hub record %d: %w", sr.Index, err)
		}
		if err := hubRing.Apply(sr.Index, r); err != nil {
			return nil, fmt.Errorf("hub record %d: %w", sr.Index, err)
		}
		idx.Hub.KeyRecords = append(idx.Hub.KeyRecords, sr.Hash)
		hubAll = append(hubAll, sr)
	}
	sawExport := false
	for _, sr := range hubRecs {
		if sr.Index >= hcp.Size {
			break
		}
		sawExport = sawExport || (sr.Index == expIndex && sr.Hash == expRec.Hash)
		idx.Hub.Records = append(idx.Hub.Records, sr.Hash)
		hubAll = append(hubAll, sr)
	}
	if !sawExport {
		return nil, fmt.Errorf("the hub log's chain of %s does not hold the export record at %d", in.Origin, expIndex)
	}
	indexBytes, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return nil, err
	}
	indexBytes = append(indexBytes, '\n')

	// Write the bag.
	name := idx.Bundle
	w := bagit.NewZipWriter(out, name, bagit.Options{Time: now})
	res := &ExportResult{Name: name, Exhibits: len(idx.Exhibits)}
	var total, done int64
	for _, pf := range payload {
		total += pf.size
	}
	written := func(n int64) {
		done += n
		if opt.Progress != nil && n > 0 {
			opt.Progress(done, total)
		}
	}
	for _, pf := range payload {
		if err := addBlob(ctx, w, in.Blobs, pf, written); err != nil {
			return nil, err
		}
		res.Payload += pf.size
	}
	proofsFor := append([]chain.Hash(nil), idx.KeyRecords...)
	for _, ie := range idx.Exhibits {
		proofsFor = append(proofsFor, ie.Records...)
	}
	for _, h := range proofsFor {
		hashes, err := tlog.InclusionProof(ctx, in.Agent, indexOf[h], acp.Size)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", indexOf[h], err)
		}
		p := tlog.Proof{Index: indexOf[h], Hashes: hashes, Checkpoint: in.Checkpoint}
		if err := tlog.VerifyInclusion(p.Index, acp.Size, h, p.Hashes, acp.Root); err != nil {
			return nil, fmt.Errorf("record %d: the mirror's tree does not match the co-signed checkpoint: %w", p.Index, err)
		}
		if err := addBytes(ctx, w, RecordPath(h), decoded[h].Envelope, true); err != nil {
			return nil, err
		}
		if err := addBytes(ctx, w, ProofPath(h), p.Marshal(), true); err != nil {
			return nil, err
		}
		res.Records++
	}
	for _, sr := range hubAll {
		p, err := in.Hub.Prove(ctx, sr.Index, hubCP)
		if err != nil {
			return nil, err
		}
		if err := addBytes(ctx, w, HubRecordPath(sr.Hash), sr.Envelope, true); err != nil {
			return nil, err
		}
		if err := addBytes(ctx, w, HubProofPath(sr.Hash), p.Marshal(), true); err != nil {
			return nil, err
		}
	}
	vkeys, err := vkeysText(in.Origin, ring)
	if err != nil {
		return nil, err
	}
	for _, set := range []struct {
		ring *chain.Keyring
		path func(string) string
	}{{ring, KeyPath}, {hubRing, HubKeyPath}} {
		for _, span := range set.ring.Spans() {
			pemBytes, err := PublicKeyPEM(span.Public)
			if err != nil {
				return nil, err
			}
			if err := addBytes(ctx, w, set.path(span.KeyID), pemBytes, true); err != nil {
				return nil, err
			}
		}
	}
	for _, f := range []struct {
		path string
		b    []byte
	}{
		{FileCheckpoint, in.Checkpoint},
		{FileVKeys, vkeys},
		{FileWitnessVKey, []byte(in.WitnessVKey + "\n")},
		{FileHubCheckpoint, hubCP},
		{FileIndex, indexBytes},
		{FileCustody, custodyBytes},
		{FileReport, report},
		{FileReadme, readme},
	} {
		if err := addBytes(ctx, w, f.path, f.b, true); err != nil {
			return nil, err
		}
	}
	for _, t := range bagInfo(&idx) {
		if err := w.AddInfo(t.Label, t.Value); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	res.Size = acp.Size
	return res, nil
}

// cutVKey splits a signed-note verifier key name+keyid+key.
func cutVKey(vkey string) (name, id, key string) {
	i := bytes.IndexByte([]byte(vkey), '+')
	if i < 0 {
		return vkey, "", ""
	}
	name, rest := vkey[:i], vkey[i+1:]
	j := bytes.IndexByte([]byte(rest), '+')
	if j < 0 {
		return name, rest, ""
	}
	return name, rest[:j], rest[j+1:]
}
