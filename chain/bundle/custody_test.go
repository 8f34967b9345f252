package bundle

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

// TestCustodyEncoding pins custody.jsonl byte for byte to the rule in
// docs/bundle.md: compact JSON, members in a fixed order, empty optional
// members left out, and strings escaped minimally — only '"', '\' and
// U+0000–U+001F, the last as \b \f \n \r \t or \u00xx — so that a second
// implementation's ordinary JSON writer produces the same bytes.
func TestCustodyEncoding(t *testing.T) {
	h := chain.Sum([]byte("r"))
	lines := []CustodyLine{
		{Index: 3, Record: h, Exhibit: "JS/1", Seq: 2, Kind: chain.KindTransferred, Time: time.Date(2026, 11, 27, 9, 0, 1, 250000000, time.UTC),
			Actor: "Jo <Smith> & Co", From: "A \"B\" (a, password)", To: "C\\D (c, card)", Device: "dev", KeyID: "k",
			Note: "tab\there\nnew line \x01\x1f\x7f é \u2028\u2029 </script> 😀"},
		{Index: 0, Record: h, Seq: 1, Kind: chain.KindKeyEnrolled, Time: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC), Device: "dev", KeyID: "k"},
	}
	got, err := custodyJSONL(lines)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"index":3,"record":"` + h.String() + `","exhibit":"JS/1","seq":2,"kind":"transferred","time":"2026-11-27T09:00:01.25Z",` +
		`"actor":"Jo <Smith> & Co","from":"A \"B\" (a, password)","to":"C\\D (c, card)","device":"dev","keyid":"k",` +
		`"note":"tab\there\nnew line \u0001\u001f` + "\x7f é \u2028\u2029 </script> 😀" + `"}` + "\n" +
		`{"index":0,"record":"` + h.String() + `","seq":1,"kind":"key-enrolled","time":"2026-11-27T09:00:00Z","device":"dev","keyid":"k"}` + "\n"
	if string(got) != want {
		t.Fatalf("custody.jsonl:\n got %s\nwant %s", got, want)
	}
	// Bundles written by earlier versions used encoding/json's escaping
	// of <, >, & and U+2028/U+2029; Verify still accepts that form.
	legacy, err := custodyJSONLLegacy(lines)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(legacy, []byte(`"Jo \u003cSmith\u003e \u0026 Co"`)) || !bytes.Contains(legacy, []byte(`\u2028\u2029`)) {
		t.Fatalf("legacy custody.jsonl: %s", legacy)
	}
}

// TestCustodyInBundle: an exported bundle's timeline holds <, > and & as
// themselves, and verifies.
func TestCustodyInBundle(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	l := testLedger(t, func() time.Time { now = now.Add(time.Second); return now })
	importFile(t, l, "CASE-1", "a.txt", "a")
	if _, err := l.Append(context.Background(), "JS/1", chain.KindSealed, chain.Person{Name: "Jo <Smith> & Co"}, func(st *chain.Statement) error {
		st.Predicate.Note = "sealed in bag <SEAL-42> & signed"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	at := now.Add(time.Second)
	a := chain.Party{Person: chain.Person{ID: "a", Name: "A & B"}, AuthMethod: "password", AuthAt: at}
	b := chain.Party{Person: chain.Person{ID: "c", Name: "<C>"}, AuthMethod: "card", AuthAt: at}
	if _, err := l.Transfer(context.Background(), "JS/1", a, b, "to the lab", "SEAL-42"); err != nil {
		t.Fatal(err)
	}
	_, zipped := export(t, l, "CASE-1")
	if res := verifyBytes(t, zipped, Options{}); !res.Valid {
		t.Fatalf("bundle invalid:\n%s", names(res))
	}
	var custody string
	for _, e := range unzipEntries(t, zipped) {
		if rel(e.name) == FileCustody {
			custody = string(e.data)
		}
	}
	for _, want := range []string{`"actor":"Jo <Smith> & Co"`, `"note":"sealed in bag <SEAL-42> & signed"`, `"from":"A & B (a, password)","to":"<C> (c, card)"`} {
		if !strings.Contains(custody, want) {
			t.Errorf("custody.jsonl does not contain %s:\n%s", want, custody)
		}
	}
}

// TestReadmeKeyRule: README.txt tells a reader by hand which keys open the
// checkpoint — those the signed key records make valid at its last index —
// not the editable copies in data/log/vkeys.txt.
func TestReadmeKeyRule(t *testing.T) {
	r := readmeText("exhibit-CASE-7-20261127T090012Z-12")
	flat := strings.Join(strings.Fields(r), " ")
	if strings.Contains(flat, "verifies with the keys in data/log/vkeys.txt") {
		t.Fatalf("README.txt sends the reader to vkeys.txt for the checkpoint's key:\n%s", r)
	}
	for _, want := range []string{"by a key valid at log index N-1", "Trust only the signed key records", "could have been edited"} {
		if !strings.Contains(flat, want) {
			t.Errorf("README.txt does not say %q:\n%s", want, r)
		}
	}
}

// TestCheckpointKeyIsFromTheRecords: an attacker who re-signs the
// checkpoint with a key of their own, and adds that key to data/keys/ and
// data/log/vkeys.txt (and rewrites the manifests), is caught: the key that
// opens a checkpoint must be one the signed key records make valid at its
// last index (docs/bundle.md, step 4 and 6).
func TestCheckpointKeyIsFromTheRecords(t *testing.T) {
	f := newFixture(t)
	var cpOld []byte
	var origin string
	for _, e := range f.entries {
		if rel(e.name) == FileCheckpoint {
			cpOld = e.data
		}
	}
	body, _, _ := bytes.Cut(cpOld, []byte("\n\n"))
	origin, _, _ = strings.Cut(string(body), "\n")
	c, err := tlog.ParseCheckpoint(append(body, '\n'))
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, _ := ed25519.GenerateKey(rand.NewChaCha8([32]byte{66}))
	s, err := tlog.NewSigner(origin, priv)
	if err != nil {
		t.Fatal(err)
	}
	cpNew, err := tlog.Sign(c, s)
	if err != nil {
		t.Fatal(err)
	}
	vk, err := note.NewEd25519VerifierKey(origin, pub)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := PublicKeyPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	base := f.entries[0].name[:strings.Index(f.entries[0].name, "/")+1]
	mut := append([]entry(nil), f.entries...)
	for i, e := range mut {
		switch r := rel(e.name); {
		case r == FileCheckpoint || strings.HasPrefix(r, DirProofs):
			mut[i].data = bytes.Replace(e.data, cpOld, cpNew, 1)
		case r == FileVKeys:
			mut[i].data = append(bytes.Clone(e.data), vk+"\n"...)
		}
	}
	mut = append(mut, entry{base + KeyPath(chain.KeyID(pub)), pemBytes})
	res := verifyBytes(t, rezip(t, remanifest(fixOxum(mut))), Options{})
	if res.Valid || !strings.Contains(names(res), FileCheckpoint+": not signed by a key valid at log index") {
		t.Fatalf("checkpoint signed by a key no record enrols:\n%s", names(res))
	}
}

// TestProofExtraLineRefused: a tlog-proof may carry an "extra" line in
// C2SP, but Exhibit never writes one and its data is not authenticated; a
// bundle whose proof gained one (manifests rewritten) has been changed, and
// the verifier must say so (log.md §4).
func TestProofExtraLineRefused(t *testing.T) {
	f := newFixture(t)
	var proof string
	for _, e := range f.entries {
		if strings.HasPrefix(rel(e.name), DirProofs) {
			proof = rel(e.name)
			break
		}
	}
	b := replaceIn(t, proof, tlog.ProofHeader+"\n", tlog.ProofHeader+"\nextra ZXhoaWJpdA==\n")
	if res := verifyBytes(t, b, Options{}); res.Valid || !strings.Contains(names(res), proof) {
		t.Fatalf("proof with an extra line accepted or not located:\n%s", names(res))
	}
}
