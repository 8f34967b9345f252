package hubexport_test

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
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/exhibit-forensics/exhibit/api/hub/hubexport"
	"github.com/exhibit-forensics/exhibit/api/hub/hubexport/hubexporttest"
	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/bundle"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
	"github.com/exhibit-forensics/exhibit/chain/witness"
)

func verify(t testing.TB, b []byte, opt bundle.Options) *bundle.Result {
	t.Helper()
	res, err := bundle.Verify(context.Background(), bytes.NewReader(b), int64(len(b)), opt)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return res
}

func problems(r *bundle.Result) string {
	var ps []string
	for _, p := range r.Problems {
		ps = append(ps, p.String())
	}
	return strings.Join(ps, "\n")
}

func TestExportVerify(t *testing.T) {
	s := hubexporttest.NewScenario(t)
	res, b, err := s.Export("CASE-1", hubexport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Device != s.A.ID() || res.Exhibits != 2 {
		t.Fatalf("exported %d exhibits of device %s, want 2 of %s", res.Exhibits, res.Device, s.A.ID())
	}
	size, _ := s.A.L.TreeSize(s.Ctx)
	if res.Checkpoint != size {
		t.Fatalf("bundle proven against the checkpoint of size %d, want the latest co-signed, %d", res.Checkpoint, size)
	}

	// Trusting the witness key: valid, trusted, nothing to warn of but the
	// device key.
	r := verify(t, b, bundle.Options{Witnesses: []string{s.VKey}})
	if !r.Valid {
		t.Fatalf("hub bundle invalid:\n%s", problems(r))
	}
	if r.Hub == nil || !r.Hub.Trusted || r.Hub.Witness != s.VKey || r.Hub.Synced == nil || r.Hub.Exported == nil || r.Hub.Cosigned.IsZero() {
		t.Fatalf("hub result %+v", r.Hub)
	}
	if len(r.Exhibits) != 2 || r.Exhibits[0].Ref != "JS/1" || r.Exhibits[0].Records != 2 {
		t.Fatalf("exhibits %+v", r.Exhibits)
	}
	for _, w := range r.Warnings {
		if strings.Contains(w, "--witness") {
			t.Fatalf("warned of an untrusted witness with --witness given: %s", w)
		}
	}

	// Without a trusted witness key: valid, with the key named and a warning.
	r = verify(t, b, bundle.Options{})
	if !r.Valid || r.Hub.Trusted {
		t.Fatalf("valid %v trusted %v:\n%s", r.Valid, r.Hub.Trusted, problems(r))
	}
	warned := false
	for _, w := range r.Warnings {
		warned = warned || (strings.Contains(w, "--witness") && strings.Contains(w, s.VKey))
	}
	if !warned {
		t.Fatalf("no warning naming the witness key: %q", r.Warnings)
	}

	// Pinned device key and witness key together.
	r = verify(t, b, bundle.Options{Witnesses: []string{s.VKey}, Trusted: []ed25519.PublicKey{firstKey(t, s.A)}})
	if !r.Valid {
		t.Fatalf("invalid with both keys pinned:\n%s", problems(r))
	}

	// Another witness key trusted: refused, located.
	other := witness.VerifierKey(hubexporttest.WitnessName, ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32)).Public().(ed25519.PublicKey))
	r = verify(t, b, bundle.Options{Witnesses: []string{other}})
	if r.Valid || !hasProblem(r, bundle.FileWitnessVKey) {
		t.Fatalf("a bundle co-signed by an untrusted witness passed or was not located:\n%s", problems(r))
	}

	// The hub's log recorded the export, and it passes fsck.
	recs, err := s.Log.ChainRecords(s.Ctx, chain.WitnessedChain(s.A.L.Identity().Origin))
	if err != nil {
		t.Fatal(err)
	}
	last, err := recs[len(recs)-1].Decode()
	if err != nil {
		t.Fatal(err)
	}
	if last.Kind != chain.KindExported || last.Statement.Predicate.Export.Bundle != res.Name || *last.Statement.Predicate.Actor != hubexporttest.Officer {
		t.Fatalf("the hub log's last record of the agent is %s %+v", last.Kind, last.Statement.Predicate.Export)
	}
	rep, err := s.HubLedger.Fsck(s.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("hub log fsck: %+v", rep.Problems)
	}
}

func firstKey(t testing.TB, a *hubexporttest.Agent) ed25519.PublicKey {
	ring, err := a.L.Keyring(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ring.Spans()[0].Public
}

func hasProblem(r *bundle.Result, file string) bool {
	for _, p := range r.Problems {
		if p.File == file || strings.HasPrefix(p.File, file) {
			return true
		}
	}
	return false
}

// Two exports of one case get two names (the hub log's size is in them)
// and both verify.
func TestExportTwice(t *testing.T) {
	s := hubexporttest.NewScenario(t)
	r1, b1, err := s.Export("CASE-1", hubexport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r2, b2, err := s.Export("CASE-1", hubexport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r1.Name == r2.Name {
		t.Fatalf("two exports named %s", r1.Name)
	}
	for _, b := range [][]byte{b1, b2} {
		if r := verify(t, b, bundle.Options{Witnesses: []string{s.VKey}}); !r.Valid {
			t.Fatalf("invalid:\n%s", problems(r))
		}
	}
}

func TestExportSeveralDevices(t *testing.T) {
	s := hubexporttest.NewScenario(t)
	_, _, err := s.Export("SHARED", hubexport.Options{})
	if !errors.Is(err, hubexport.ErrSeveralDevices) || !strings.Contains(err.Error(), s.A.ID()) || !strings.Contains(err.Error(), s.B.ID()) || !strings.Contains(err.Error(), "--device") {
		t.Fatalf("a case on two devices: %v", err)
	}
	for a, ref := range map[*hubexporttest.Agent]string{s.A: "JS/3", s.B: "JS/1"} {
		res, b, err := s.Export("SHARED", hubexport.Options{Device: a.ID()})
		if err != nil {
			t.Fatal(err)
		}
		if res.Device != a.ID() || res.Exhibits != 1 {
			t.Fatalf("exported %+v", res)
		}
		r := verify(t, b, bundle.Options{Witnesses: []string{s.VKey}})
		if !r.Valid || r.Origin != a.L.Identity().Origin || r.Exhibits[0].Ref != ref {
			t.Fatalf("device %s: valid %v origin %s:\n%s", a.ID(), r.Valid, r.Origin, problems(r))
		}
	}
	if _, _, err := s.Export("SHARED", hubexport.Options{Device: "no-such-device"}); err == nil || !strings.Contains(err.Error(), "not enrolled") {
		t.Fatalf("unknown device: %v", err)
	}
	if _, _, err := s.Export("NO-CASE", hubexport.Options{}); !errors.Is(err, hubexport.ErrNoCase) {
		t.Fatalf("unknown case: %v", err)
	}
}

// Records the hub holds but has not co-signed are not exported: the
// bundle waits for the witness.
func TestExportNotWitnessed(t *testing.T) {
	s := hubexporttest.NewScenario(t)
	s.ImportFile(s.A, "CASE-1", "late.txt", []byte("late"))
	s.Push(s.A)
	if _, _, err := s.Export("CASE-1", hubexport.Options{}); !errors.Is(err, hubexport.ErrNotWitnessed) {
		t.Fatalf("export before the witness co-signed: %v", err)
	}
	s.Witness(s.A)
	res, b, err := s.Export("CASE-1", hubexport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Exhibits != 3 {
		t.Fatalf("%d exhibits", res.Exhibits)
	}
	if r := verify(t, b, bundle.Options{Witnesses: []string{s.VKey}}); !r.Valid {
		t.Fatalf("invalid:\n%s", problems(r))
	}
}

// entry is one zip entry.
type entry struct {
	name string
	data []byte
}

func unzip(t testing.TB, b []byte) []entry {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var out []entry
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		d, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, entry{zf.Name, d})
	}
	return out
}

// rezip writes entries as a zip after recomputing every BagIt manifest, as
// an attacker who knows BagIt would: only the evidence checks can then
// catch a change.
func rezip(t testing.TB, entries []entry) []byte {
	t.Helper()
	base := entries[0].name[:strings.Index(entries[0].name, "/")+1]
	type sum struct{ path, s256, s512 string }
	sums := func(keep func(rel string) bool) []sum {
		var out []sum
		for _, e := range entries {
			rel := strings.TrimPrefix(e.name, base)
			if keep(rel) {
				a, b := sha256.Sum256(e.data), sha512.Sum512(e.data)
				out = append(out, sum{rel, hex.EncodeToString(a[:]), hex.EncodeToString(b[:])})
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
		return out
	}
	text := func(ss []sum, long bool) []byte {
		var b strings.Builder
		for _, s := range ss {
			d := s.s256
			if long {
				d = s.s512
			}
			fmt.Fprintf(&b, "%s  %s\n", d, s.path)
		}
		return []byte(b.String())
	}
	set := func(rel string, data []byte) {
		for i := range entries {
			if entries[i].name == base+rel {
				entries[i].data = data
			}
		}
	}
	var oxBytes, oxFiles int
	for _, e := range entries {
		if strings.HasPrefix(strings.TrimPrefix(e.name, base), "data/") {
			oxBytes += len(e.data)
			oxFiles++
		}
	}
	for i, e := range entries {
		if e.name == base+"bag-info.txt" {
			lines := strings.Split(string(e.data), "\n")
			for j, l := range lines {
				if strings.HasPrefix(l, "Payload-Oxum: ") {
					lines[j] = fmt.Sprintf("Payload-Oxum: %d.%d", oxBytes, oxFiles)
				}
			}
			entries[i].data = []byte(strings.Join(lines, "\n"))
		}
	}
	payload := sums(func(rel string) bool { return strings.HasPrefix(rel, "data/") })
	set("manifest-sha256.txt", text(payload, false))
	set("manifest-sha512.txt", text(payload, true))
	tags := sums(func(rel string) bool {
		return !strings.HasPrefix(rel, "data/") && !strings.HasPrefix(rel, "tagmanifest-")
	})
	set("tagmanifest-sha256.txt", text(tags, false))
	set("tagmanifest-sha512.txt", text(tags, true))
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)})
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

func relName(name string) string { return name[strings.Index(name, "/")+1:] }

// tampering is a change to a hub bundle and the file Verify must name.
type tampering struct {
	name string
	file string // the file (or folder) a problem must name
	// change edits the entries (relative name → data); it returns false
	// if it found nothing to change.
	change func(t testing.TB, s *hubexporttest.Scenario, files map[string][]byte) bool
	// opt: verify with these options (the trusted witness key by default).
	noWitness bool
}

// firstWith returns the first file name with prefix, in sorted order,
// whose content contains sub.
func firstWith(files map[string][]byte, prefix, sub string) string {
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if strings.HasPrefix(n, prefix) && bytes.Contains(files[n], []byte(sub)) {
			return n
		}
	}
	return ""
}

// hubRecordOf returns the hub record file of kind k.
func hubRecordOf(t testing.TB, files map[string][]byte, k chain.Kind) string {
	for n, b := range files {
		if strings.HasPrefix(n, bundle.DirHubRecords) {
			r, err := chain.DecodeRecord(b)
			if err == nil && r.Kind == k {
				return n
			}
		}
	}
	t.Fatalf("no hub %s record", k)
	return ""
}

// cosignWith replaces the witness cosignature on a signed note with one by
// another key under the same name.
func cosignWith(t testing.TB, msg []byte, priv ed25519.PrivateKey) []byte {
	text, _, _ := bytes.Cut(msg, []byte("\n\n"))
	lines := strings.Split(string(msg[len(text)+2:]), "\n")
	var kept []string
	for _, l := range lines {
		if l != "" && !strings.HasPrefix(l, "— "+hubexporttest.WitnessName+" ") {
			kept = append(kept, l)
		}
	}
	cos, err := witness.NewCosigner(hubexporttest.WitnessName, priv, func() time.Time { return time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC) })
	if err != nil {
		t.Fatal(err)
	}
	signed, err := note.Sign(&note.Note{Text: string(text) + "\n"}, cos)
	if err != nil {
		t.Fatal(err)
	}
	_, sig, _ := bytes.Cut(signed, []byte("\n\n"))
	return append([]byte(string(text)+"\n\n"+strings.Join(kept, "\n")+"\n"), sig...)
}

// dropCosignature removes the witness's signature line from a note.
func dropCosignature(msg []byte) []byte {
	var out []string
	for _, l := range strings.SplitAfter(string(msg), "\n") {
		if !strings.HasPrefix(l, "— "+hubexporttest.WitnessName+" ") {
			out = append(out, l)
		}
	}
	return []byte(strings.Join(out, ""))
}

var otherWitness = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))

var tamperings = []tampering{
	{name: "agent record byte", file: bundle.DirRecords, change: func(t testing.TB, s *hubexporttest.Scenario, f map[string][]byte) bool {
		n := firstWith(f, bundle.DirRecords, "")
		f[n] = bytes.Replace(f[n], []byte(`"sig":"`), []byte(`"sig":"A`), 1)
		return true
	}},
	{name: "cosignature removed", file: bundle.FileCheckpoint, change: func(t testing.TB, s *hubexporttest.Scenario, f map[string][]byte) bool {
		f[bundle.FileCheckpoint] = dropCosignature(f[bundle.FileCheckpoint])
		return true
	}},
	{name: "cosignature by another key", file: bundle.FileCheckpoint, change: func(t testing.TB, s *hubexporttest.Scenario, f map[string][]byte) bool {
		f[bundle.FileCheckpoint] = cosignWith(t, f[bundle.FileCheckpoint], otherWitness)
		return true
	}},
	{name: "another witness key named and used", file: bundle.FileWitnessVKey, change: func(t testing.TB, s *hubexporttest.Scenario, f map[string][]byte) bool {
		// An impostor hub: its own key in witness-vkey.txt, its
		// cosignatures everywhere. Only the trusted key catches it.
		f[bundle.FileCheckpoint] = cosignWith(t, f[bundle.FileCheckpoint], otherWitness)
		f[bundle.FileHubCheckpoint] = cosignWith(t, f[bundle.FileHubCheckpoint], otherWitness)
		f[bundle.FileWitnessVKey] = []byte(witness.VerifierKey(hubexporttest.WitnessName, otherWitness.Public().(ed25519.PublicKey)) + "\n")
		return true
	}},
	{name: "witness key file damaged", file: bundle.FileWitnessVKey, noWitness: true, change: func(t testing.TB, s *hubexporttest.Scenario, f map[string][]byte) bool {
		f[bundle.FileWitnessVKey] = bytes.Replace(f[bundle.FileWitnessVKey], []byte("+"), []byte("-"), 1)
		return true
	}},
	{name: "hub checkpoint cosignature removed", file: bundle.FileHubCheckpoint, change: func(t testing.TB, s *hubexporttest.Scenario, f map[string][]byte) bool {
		f[bundle.FileHubCheckpoint] = dropCosignature(f[bundle.FileHubCheckpoint])
		return true
	}},
	{name: "hub checkpoint root changed", file: bundle.FileHubCheckpoint, change: func(t testing.TB, s *hubexporttest.Scenario, f map[string][]byte) bool {
		lines := strings.SplitN(string(f[bundle.FileHubCheckpoint]), "\n", 4)
		lines[2] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
		f[bundle.FileHubCheckpoint] = []byte(strings.Join(lines, "\n"))
		return true
	}},
	{name: "hub proof hash changed", file: bundle.DirHubProofs, change: func(t testing.TB, s *hubexporttest.Scenario, f map[string][]byte) bool {
		n := hubRecordOf(t, f, chain.KindSynced)
		h, _ := chain.ParseHex(strings.TrimSuffix(strings.TrimPrefix(n, bundle.DirHubRecords), ".dsse.json"))
		p, err := tlog.ParseProof(f[bundle.HubProofPath(h)])
		if err != nil || len(p.Hashes) == 0 {
			t.Fatalf("proof %v with %d hashes", err, len(p.Hashes))
		}
		p.Hashes[0][0] ^= 1
		f[bundle.HubProofPath(h)] = p.Marshal()
		return true
	}},
	{name: "hub record byte", file: bundle.DirHubRecords, change: func(t testing.TB, s *hubexporttest.Scenario, f map[string][]byte) bool {
		n := hubRecordOf(t, f, chain.KindSynced)
		f[n] = bytes.Replace(f[n], []byte(`"sig":"`), []byte(`"sig":"A`), 1)
		return true
	}},
	{name: "synced record removed", file: bundle.DirHubRecords, change: func(t testing.TB, s *hubexporttest.Scenario, f map[string][]byte) bool {
		n := hubRecordOf(t, f, chain.KindSynced)
		delete(f, n)
		h, _ := chain.ParseHex(strings.TrimSuffix(strings.TrimPrefix(n, bundle.DirHubRecords), ".dsse.json"))
		delete(f, bundle.HubProofPath(h))
		return true
	}},
	{name: "hub export record removed", file: bundle.FileIndex, change: func(t testing.TB, s *hubexporttest.Scenario, f map[string][]byte) bool {
		n := hubRecordOf(t, f, chain.KindExported)
		delete(f, n)
		h, _ := chain.ParseHex(strings.TrimSuffix(strings.TrimPrefix(n, bundle.DirHubRecords), ".dsse.json"))
		delete(f, bundle.HubProofPath(h))
		return true
	}},
	{name: "hub key replaced", file: bundle.DirHubKeys, change: func(t testing.TB, s *hubexporttest.Scenario, f map[string][]byte) bool {
		for n := range f {
			if strings.HasPrefix(n, bundle.DirHubKeys) {
				pub := otherWitness.Public().(ed25519.PublicKey)
				pem, _ := bundle.PublicKeyPEM(pub)
				delete(f, n)
				f[bundle.HubKeyPath(chain.KeyID(pub))] = pem
				return true
			}
		}
		return false
	}},
	{name: "index hub size", file: bundle.FileHubCheckpoint, change: func(t testing.TB, s *hubexporttest.Scenario, f map[string][]byte) bool {
		i := bytes.Index(f[bundle.FileIndex], []byte(`"hub": {`))
		j := bytes.Index(f[bundle.FileIndex][i:], []byte(`"size": `)) + i + len(`"size": `)
		f[bundle.FileIndex] = append(append(bytes.Clone(f[bundle.FileIndex][:j]), '9'), f[bundle.FileIndex][j:]...)
		return true
	}},
	{name: "custody line", file: bundle.FileCustody, change: func(t testing.TB, s *hubexporttest.Scenario, f map[string][]byte) bool {
		if !bytes.Contains(f[bundle.FileCustody], []byte(`"seq":1,`)) {
			return false
		}
		f[bundle.FileCustody] = bytes.Replace(f[bundle.FileCustody], []byte(`"seq":1,`), []byte(`"seq":9,`), 1)
		return true
	}},
	{name: "report", file: bundle.FileReport, change: func(t testing.TB, s *hubexporttest.Scenario, f map[string][]byte) bool {
		f[bundle.FileReport] = append(f[bundle.FileReport], ' ')
		return true
	}},
	{name: "original", file: bundle.DirExhibits, change: func(t testing.TB, s *hubexporttest.Scenario, f map[string][]byte) bool {
		n := firstWith(f, bundle.DirExhibits, "")
		f[n] = append(f[n], '!')
		return true
	}},
	{name: "hub section removed", file: bundle.DirHub, change: func(t testing.TB, s *hubexporttest.Scenario, f map[string][]byte) bool {
		// Passing a hub bundle off as a device's: the agent's chains lack
		// their exported records, and the hub's files are unaccounted for.
		i := bytes.Index(f[bundle.FileIndex], []byte(`,
  "hub": {`))
		f[bundle.FileIndex] = append(bytes.Clone(f[bundle.FileIndex][:i]), []byte("\n}\n")...)
		return true
	}},
}

// tamper applies a tampering to a bundle's entries and rezips them with
// the manifests recomputed.
func tamper(t testing.TB, s *hubexporttest.Scenario, entries []entry, tt tampering) []byte {
	t.Helper()
	base := entries[0].name[:strings.Index(entries[0].name, "/")+1]
	files := map[string][]byte{}
	for _, e := range entries {
		files[relName(e.name)] = bytes.Clone(e.data)
	}
	if !tt.change(t, s, files) {
		t.Fatalf("%s: nothing to change", tt.name)
	}
	var out []entry
	for _, e := range entries { // the original order, changes applied
		if d, ok := files[relName(e.name)]; ok {
			out = append(out, entry{e.name, d})
			delete(files, relName(e.name))
		}
	}
	var added []string
	for n := range files {
		added = append(added, n)
	}
	sort.Strings(added)
	for _, n := range added {
		out = append(out, entry{base + n, files[n]})
	}
	return rezip(t, out)
}

func TestTamperingDetected(t *testing.T) {
	s := hubexporttest.NewScenario(t)
	_, b, err := s.Export("CASE-1", hubexport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	entries := unzip(t, b)
	for _, tt := range tamperings {
		t.Run(tt.name, func(t *testing.T) {
			opt := bundle.Options{Witnesses: []string{s.VKey}}
			if tt.noWitness {
				opt = bundle.Options{}
			}
			r := verify(t, tamper(t, s, entries, tt), opt)
			if r.Valid {
				t.Fatal("tampered bundle passed")
			}
			if !hasProblem(r, tt.file) {
				t.Fatalf("no problem located in %s:\n%s", tt.file, problems(r))
			}
		})
	}
}
