package bundle

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/bagit"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
	"github.com/exhibit-forensics/exhibit/internal/atomicfile"
)

// ExportResult describes a written bundle.
type ExportResult struct {
	Name     string
	Exhibits int
	Records  int
	Payload  int64 // bytes of originals
	Size     uint64
	// Superseded lists the case's exhibits left out because a repair
	// superseded their over-limit first records (the exhibits that
	// supersede them are in the bundle).
	Superseded []store.Supersession
}

// ExportOptions are Export's optional settings.
type ExportOptions struct {
	// Progress, if set, is called as the originals are written (nearly all
	// of a bundle's bytes), with the bytes written so far and the total.
	Progress func(done, total int64)
}

// A Source is what Export needs of an evidence store; *ledger.Ledger is one.
// ExportSet chooses the exhibits (from the signed records, after the
// store's checks); Exported signs, in one transaction, an exported record
// on each exhibit's chain and a checkpoint covering them; the rest reads.
type Source interface {
	Identity() store.Identity
	Now() time.Time
	ExportSet(ctx context.Context, caseRef string) ([]store.Exhibit, []store.Supersession, error)
	ChainRecords(ctx context.Context, chainID string) ([]store.StoredRecord, error)
	TreeSize(ctx context.Context) (uint64, error)
	Keyring(ctx context.Context) (*chain.Keyring, error)
	Exported(ctx context.Context, refs []string, actor chain.Person, at time.Time, ex chain.Export) ([]*chain.Record, store.Checkpoint, error)
	Prove(ctx context.Context, index uint64, cp store.Checkpoint) (*tlog.Proof, error)
	blobstore.Fetcher
	blobstore.Statter
}

// Export writes the bundle of caseRef to out. It first records, on each
// exhibit's chain and in one transaction, that the exhibit is being
// exported (who, when, which bundle, and the digests of the bundle's
// derived files), with a checkpoint covering those records; then it writes
// the bag, streaming originals from the blob store. If writing fails, the
// export records stay in the log as the record of an attempt.
func Export(ctx context.Context, l Source, caseRef string, exporter chain.Person, out io.Writer, opt ExportOptions) (*ExportResult, error) {
	if err := chain.ValidCaseRef(caseRef); err != nil {
		return nil, err
	}
	// Which exhibits: from the signed records, after the store's checks.
	exs, skipped, err := l.ExportSet(ctx, caseRef)
	if err != nil {
		return nil, err
	}
	if len(exs) == 0 {
		return nil, fmt.Errorf("case %q has no exhibits in this store", caseRef)
	}
	if exporter.Name == "" {
		exporter.Name = l.Identity().Producer
	}
	now := l.Now()
	id := l.Identity()

	// Gather every record of every exhibit, and the device chain.
	type exRecs struct {
		ex   store.Exhibit
		recs []store.StoredRecord
	}
	var all []exRecs
	for _, ex := range exs {
		recs, err := l.ChainRecords(ctx, ex.ID)
		if err != nil {
			return nil, err
		}
		all = append(all, exRecs{ex, recs})
	}
	keyRecs, err := l.ChainRecords(ctx, "device:"+id.DeviceID)
	if err != nil {
		return nil, err
	}

	// The index, custody timeline and report describe the records as they
	// stand before this export.
	idx := Index{Version: IndexVersion, Case: caseRef, Exported: now, Exporter: exporter} // Bundle: below
	var custody []CustodyLine
	decoded := map[chain.Hash]*chain.Record{}
	indexOf := map[chain.Hash]uint64{}
	for _, kr := range keyRecs {
		r, err := kr.Decode()
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", kr.Index, err)
		}
		decoded[kr.Hash] = r
		indexOf[kr.Hash] = kr.Index
		idx.KeyRecords = append(idx.KeyRecords, kr.Hash)
		custody = append(custody, custodyLine(kr.Index, r))
	}
	var payload []payloadFile
	for _, er := range all {
		ie := IndexExhibit{Ref: er.ex.Ref, ID: er.ex.ID, Kind: er.ex.Kind, DerivedFrom: er.ex.DerivedFrom, PartOf: er.ex.PartOf}
		used := map[string]bool{}
		for i, b := range er.ex.Blobs {
			info, err := l.Stat(ctx, b.Hash)
			if err != nil {
				return nil, fmt.Errorf("%s: original %s: %w", er.ex.Ref, b.Hash, err)
			}
			fname := safeName(b.Name, 100)
			if used[fname] {
				fname = fmt.Sprintf("%d-%s", i+1, fname)
			}
			used[fname] = true
			f := IndexFile{Name: b.Name, Path: refDir(er.ex.Ref) + fname, SHA256: b.Hash, Size: info.Size}
			ie.Files = append(ie.Files, f)
			payload = append(payload, payloadFile{f.Path, b.Hash, info.Size})
		}
		for _, sr := range er.recs {
			r, err := sr.Decode()
			if err != nil {
				return nil, fmt.Errorf("record %d: %w", sr.Index, err)
			}
			decoded[sr.Hash] = r
			indexOf[sr.Hash] = sr.Index
			ie.Records = append(ie.Records, sr.Hash)
			custody = append(custody, custodyLine(sr.Index, r))
		}
		idx.Exhibits = append(idx.Exhibits, ie)
	}
	sort.Slice(custody, func(i, j int) bool { return custody[i].Index < custody[j].Index })
	custodyBytes, err := custodyJSONL(custody)
	if err != nil {
		return nil, err
	}
	// The log section is known only after the export records: fill it in
	// after, but the index's digest must be signed first. So the index
	// names the origin now and the checkpoint size as the size before the
	// export records plus their number.
	size, err := l.TreeSize(ctx)
	if err != nil {
		return nil, err
	}
	idx.Log = IndexLog{Origin: id.Origin, Size: size + uint64(len(all))}
	// That size also makes the bundle's name unique (BundleName).
	name := BundleName(caseRef, now, idx.Log.Size)
	idx.Bundle = name
	report, err := renderReport(reportData{Index: &idx, Custody: custody, Records: decoded, KeyRecords: keyRecs, Exhibits: exs})
	if err != nil {
		return nil, err
	}
	readme := []byte(readmeText(name))
	// exhibits.json lists this export's records too, but their hashes are
	// not known before they are signed; Verify checks the index against
	// the records it finds, so the index is written after signing and
	// covered by the manifests, while custody, report and readme are
	// covered by the export records' digests.
	derived := []chain.Subject{
		chain.SubjectFor(FileCustody, chain.Sum(custodyBytes)),
		chain.SubjectFor(FileReport, chain.Sum(report)),
		chain.SubjectFor(FileReadme, chain.Sum(readme)),
	}
	refs := make([]string, len(all))
	for i, er := range all {
		refs[i] = er.ex.Ref
	}
	expRecs, cp, err := l.Exported(ctx, refs, exporter, now, chain.Export{Case: caseRef, Bundle: name, Files: derived})
	if err != nil {
		return nil, fmt.Errorf("record the export: %w", err)
	}
	if cp.Size != idx.Log.Size {
		return nil, fmt.Errorf("the log grew while exporting (checkpoint size %d, expected %d): export again", cp.Size, idx.Log.Size)
	}
	for i, r := range expRecs {
		decoded[r.Hash] = r
		indexOf[r.Hash] = size + uint64(i)
		idx.Exhibits[i].Records = append(idx.Exhibits[i].Records, r.Hash)
	}
	indexBytes, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return nil, err
	}
	indexBytes = append(indexBytes, '\n')

	// Write the bag.
	w := bagit.NewZipWriter(out, name, bagit.Options{Time: now})
	res := &ExportResult{Name: name, Exhibits: len(all), Superseded: skipped}
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
		if err := addBlob(ctx, w, l, pf, written); err != nil {
			return nil, err
		}
		res.Payload += pf.size
	}
	var proofsFor []chain.Hash
	for _, h := range idx.KeyRecords {
		proofsFor = append(proofsFor, h)
	}
	for _, ie := range idx.Exhibits {
		proofsFor = append(proofsFor, ie.Records...)
	}
	for _, h := range proofsFor {
		r := decoded[h]
		if err := addBytes(ctx, w, RecordPath(h), r.Envelope, true); err != nil {
			return nil, err
		}
		p, err := l.Prove(ctx, indexOf[h], cp)
		if err != nil {
			return nil, err
		}
		if err := addBytes(ctx, w, ProofPath(h), p.Marshal(), true); err != nil {
			return nil, err
		}
		res.Records++
	}
	ring, err := l.Keyring(ctx)
	if err != nil {
		return nil, err
	}
	vkeys, err := vkeysText(id.Origin, ring)
	if err != nil {
		return nil, err
	}
	for _, span := range ring.Spans() {
		pemBytes, err := PublicKeyPEM(span.Public)
		if err != nil {
			return nil, err
		}
		if err := addBytes(ctx, w, KeyPath(span.KeyID), pemBytes, true); err != nil {
			return nil, err
		}
	}
	for _, f := range []struct {
		path string
		b    []byte
	}{
		{FileCheckpoint, cp.Note},
		{FileVKeys, vkeys},
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
	res.Size = cp.Size
	return res, nil
}

type payloadFile struct {
	path string
	hash chain.Hash
	size int64
}

// addBlob streams one original into the bag and checks, as it passes, that
// the bytes are the ones the records name.
func addBlob(ctx context.Context, w *bagit.ZipWriter, blobs blobstore.Fetcher, pf payloadFile, report func(n int64)) error {
	rc, _, err := blobs.Open(ctx, pf.hash)
	if err != nil {
		return fmt.Errorf("original %s: %w", pf.hash, err)
	}
	defer rc.Close()
	d, err := w.AddPayload(ctx, pf.path, bagit.CountReads(rc, report), false)
	if err != nil {
		return fmt.Errorf("original %s: %w", pf.hash, err)
	}
	if d.SHA256 != pf.hash {
		return fmt.Errorf("original %s: the stored bytes now hash to %s: %w (run exhibit log fsck)", pf.hash, d.SHA256, blobstore.ErrCorrupt)
	}
	return nil
}

func addBytes(ctx context.Context, w *bagit.ZipWriter, path string, b []byte, compress bool) error {
	if _, err := w.AddPayload(ctx, path, bytes.NewReader(b), compress); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// ExportFile writes the bundle of caseRef (Export) to a new file at path,
// mode 0600: the bytes go to a temporary file beside it, are fsynced, and
// are linked into place only when the bundle is complete, so a partial
// bundle never appears under path; a file already at path (or one that
// appears meanwhile) is never replaced — the error then wraps fs.ErrExist.
func ExportFile(ctx context.Context, l Source, caseRef string, exporter chain.Person, path string, opt ExportOptions) (*ExportResult, error) {
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("%s already exists: choose another name (a bundle is never overwritten): %w", path, fs.ErrExist)
	}
	var res *ExportResult
	err := atomicfile.WriteNew(path, 0o600, func(w io.Writer) error {
		var err error
		res, err = Export(ctx, l, caseRef, exporter, w, opt)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}
