package bundle

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
)

type reportData struct {
	Index      *Index
	Custody    []CustodyLine
	Records    map[chain.Hash]*chain.Record
	KeyRecords []store.StoredRecord
	Exhibits   []store.Exhibit
}

type reportKey struct {
	KeyID string
	From  uint64
	Until string
}

type reportExhibit struct {
	IndexExhibit
	Lines []CustodyLine
}

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"when":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"short": func(h chain.Hash) string { return h.Hex()[:16] },
	"size": func(n int64) string {
		switch {
		case n >= 1<<30:
			return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
		case n >= 1<<20:
			return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
		case n >= 1<<10:
			return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
		}
		return fmt.Sprintf("%d bytes", n)
	},
}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Evidence bundle — case {{.Index.Case}}</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; color: #1d2733; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #c8d0d9; }
.meta { color: #4a5866; } table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #e3e8ee; vertical-align: top; }
th { background: #f1f4f7; font-weight: 600; } code { font: 13px ui-monospace, monospace; word-break: break-all; }
.box { background: #f1f6fb; border: 1px solid #c9d9ea; padding: .8rem 1rem; border-radius: 4px; }
@media print { body { margin: 0; } .box { border-color: #888; } }
</style>
</head>
<body>
<h1>Evidence bundle — case {{.Index.Case}}</h1>
<p class="meta">Bundle <code>{{.Index.Bundle}}</code>, exported {{when .Index.Exported}} by {{.Index.Exporter.Name}}.
{{len .Exhibits}} exhibits. Log <code>{{.Index.Log.Origin}}</code> at size {{.Index.Log.Size}}.</p>

<div class="box">
<p><strong>How to check this bundle.</strong> Run <code>exhibit verify {{.Index.Bundle}}.zip</code>. It checks, offline,
every file against the BagIt manifests, every record's signature against the device keys included here (and that each key
was valid when it signed), every custody link, and every record's inclusion proof against the signed checkpoint.
Any changed byte makes it report the bundle invalid and name the file or record. The same checks can be made by hand
with common tools: see <code>data/README.txt</code>.</p>
<p>Compare the device key fingerprints below with those the force publishes for this device.</p>
</div>

<h2>Exhibits</h2>
<table>
<tr><th>Exhibit</th><th>Kind</th><th>Original</th><th>Size</th><th>SHA-256</th></tr>
{{range .Index.Exhibits}}{{$ex := .}}{{range .Files}}
<tr><td>{{$ex.Ref}}</td><td>{{$ex.Kind}}</td><td>{{.Name}}<br><code>{{.Path}}</code></td><td>{{size .Size}}</td><td><code>{{.SHA256.Hex}}</code></td></tr>
{{end}}{{end}}
</table>

<h2>Custody timeline</h2>
{{range .Exhibits}}
<h3>{{.Ref}}</h3>
<table>
<tr><th>#</th><th>When</th><th>What</th><th>Who</th><th>Record</th></tr>
{{range .Lines}}<tr><td>{{.Seq}}</td><td>{{when .Time}}</td><td>{{.Kind}}{{if .Note}}<br><span class="meta">{{.Note}}</span>{{end}}</td>
<td>{{if .From}}from {{.From}}<br>to {{.To}}{{else}}{{.Actor}}{{end}}</td><td><code>{{short .Record}}</code> (log {{.Index}})</td></tr>
{{end}}</table>
{{end}}
<p class="meta">The record of this export itself is the last record of each exhibit's chain; it is not listed above
because it carries the digests of this report and of the custody timeline.</p>

<h2>Device keys</h2>
<table>
<tr><th>Key (SHA-256 of the Ed25519 public key)</th><th>Signs from log index</th><th>Until</th></tr>
{{range .Keys}}<tr><td><code>{{.KeyID}}</code></td><td>{{.From}}</td><td>{{.Until}}</td></tr>
{{end}}</table>
</body>
</html>
`))

// renderReport renders report.html.
func renderReport(d reportData) ([]byte, error) {
	ring := chain.NewKeyring()
	for _, kr := range d.KeyRecords {
		r := d.Records[kr.Hash]
		if err := ring.Apply(kr.Index, r); err != nil {
			return nil, err
		}
	}
	var keys []reportKey
	for _, s := range ring.Spans() {
		until := "now"
		if s.Until != math.MaxUint64 {
			until = fmt.Sprintf("log index %d (%s)", s.Until, s.EndedBy)
		}
		keys = append(keys, reportKey{KeyID: s.KeyID, From: s.From, Until: until})
	}
	var exs []reportExhibit
	for _, ie := range d.Index.Exhibits {
		re := reportExhibit{IndexExhibit: ie}
		for _, c := range d.Custody {
			if c.Exhibit == ie.Ref {
				re.Lines = append(re.Lines, c)
			}
		}
		exs = append(exs, re)
	}
	var b bytes.Buffer
	err := reportTmpl.Execute(&b, struct {
		Index    *Index
		Exhibits []reportExhibit
		Keys     []reportKey
	}{d.Index, exs, keys})
	return b.Bytes(), err
}

// readmeText explains how to verify the bundle by hand.
func readmeText(name string) string {
	return `Evidence bundle ` + name + `

This is a BagIt 1.0 bag (RFC 8493). Everything in it can be checked offline.

With Exhibit:   exhibit verify ` + name + `.zip

By hand, from the bag's base directory:
1. Fixity: sha256sum -c manifest-sha256.txt; sha512sum -c manifest-sha512.txt;
   sha256sum -c tagmanifest-sha256.txt. Every file under data/ must be listed.
2. Records: data/records/<sha256 of the file>.dsse.json is a DSSE envelope
   (payloadType application/vnd.in-toto+json). Each signature is Ed25519 over
   "DSSEv1 <len(type)> <type> <len(payload)> <payload>" (payload base64-decoded),
   by the key data/keys/<keyid>.pem, e.g.
   openssl pkeyutl -verify -pubin -inkey data/keys/<keyid>.pem -rawin -in pae.bin -sigfile sig.bin
3. Originals: each record's subject digest is the SHA-256 of a file listed in
   data/exhibits.json (under data/exhibits/).
4. Custody: each record's predicate has chain, seq and prev (the SHA-256 of the
   chain's previous record file); seq counts up from 1.
5. Log: data/proofs/<record sha256>.tlog-proof is a C2SP tlog-proof of the
   record's inclusion in the device's RFC 6962 Merkle log; the leaf is the 32-byte
   record hash. The proof ends with the signed checkpoint (C2SP tlog-checkpoint),
   also in data/log/checkpoint.
6. Keys: the device chain's records (key-enrolled, key-rotated, key-retired),
   checked in log order, say from which log index each key may sign and until
   when. Every record's signatures, and the checkpoint's (for a checkpoint of
   size N: by a key valid at log index N-1), must verify with a key those
   records make valid there. Trust only the signed key records for this:
   data/keys/*.pem and data/log/vkeys.txt are copies of the keys they enrol, for
   convenience, and could have been edited. Compare the first key's fingerprint
   with the one the force publishes for the device.
The formats are specified in the Exhibit source tree: docs/records.md,
docs/log.md, docs/bundle.md.
`
}

// hubReadmeText is readmeText for a bundle a hub exported, with how to
// check what the hub adds.
func hubReadmeText(name string) string {
	return readmeText(name) + `
This bundle was exported by a hub (docs/bundle.md, "Bundles a hub exports"):
7. Witness: data/log/witness-vkey.txt is the hub witness's verifier key
   (name+keyid+base64(0x04 || key)). Compare it with the key the force
   publishes for its hub (exhibit verify --witness VKEY). data/log/checkpoint
   carries its cosignature (C2SP tlog-cosignature, cosignature/v1) beside the
   device's signature; data/hub/checkpoint, a checkpoint of the hub's own log,
   carries one too.
8. Hub log: data/hub/records/ are records of the hub's own log, each with its
   proof in data/hub/proofs/ against data/hub/checkpoint, signed by the keys
   the hub log's key records (also there) enrol. A "synced" record names the
   SHA-256 of data/log/checkpoint (the hub co-signed it), and an "exported"
   record names this bundle and the SHA-256 of custody.jsonl, report.html and
   this file. The exhibits' own chains have no exported record of this bundle.
`
}
