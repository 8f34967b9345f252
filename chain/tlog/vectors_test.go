package tlog_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
	"github.com/exhibit-forensics/exhibit/chain/tlog/tlogtest"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.txtar (then -write-corpus rewrites the fuzz seed corpora made from it)")

// The vector log: 13 test records, a checkpoint at size 13, proofs of
// leaves 0, 5 and 12, and broken variants of the proof of leaf 5.
const (
	vectorSize  = 13
	vectorIndex = 5
	vectorsFile = "testdata/vectors.txtar"
)

// badProofs are the broken variants of the good proof of leaf vectorIndex,
// each with the error VerifyProof (after ParseProof) must return.
var badProofs = []struct {
	name string
	want error
	make func(t testing.TB, good *tlog.Proof, env vectorEnv) []byte
}{
	{"bitflip-hash", tlog.ErrInvalidProof, func(t testing.TB, p *tlog.Proof, _ vectorEnv) []byte {
		q := cloneProof(p)
		q.Hashes[1][0] ^= 0x01
		return q.Marshal()
	}},
	{"wrong-index", tlog.ErrInvalidProof, func(t testing.TB, p *tlog.Proof, _ vectorEnv) []byte {
		q := cloneProof(p)
		q.Index++
		return q.Marshal()
	}},
	{"index-beyond-size", tlog.ErrOutOfRange, func(t testing.TB, p *tlog.Proof, _ vectorEnv) []byte {
		q := cloneProof(p)
		q.Index = vectorSize
		return q.Marshal()
	}},
	{"missing-hash", tlog.ErrInvalidProof, func(t testing.TB, p *tlog.Proof, _ vectorEnv) []byte {
		q := cloneProof(p)
		q.Hashes = q.Hashes[:len(q.Hashes)-1]
		return q.Marshal()
	}},
	{"extra-hash", tlog.ErrInvalidProof, func(t testing.TB, p *tlog.Proof, _ vectorEnv) []byte {
		q := cloneProof(p)
		q.Hashes = append(q.Hashes, chain.Sum([]byte("extra")))
		return q.Marshal()
	}},
	{"extra-line", tlog.ErrMalformedProof, func(t testing.TB, p *tlog.Proof, _ vectorEnv) []byte {
		// C2SP allows it; Exhibit refuses unauthenticated bytes (log.md §4).
		return bytes.Replace(p.Marshal(), []byte(tlog.ProofHeader+"\n"), []byte(tlog.ProofHeader+"\nextra ZXhoaWJpdA==\n"), 1)
	}},
	{"garbage-prefix", tlog.ErrMalformedProof, func(t testing.TB, p *tlog.Proof, _ vectorEnv) []byte {
		return append([]byte("garbage\n"), p.Marshal()...)
	}},
	{"truncated", tlog.ErrMalformedProof, func(t testing.TB, p *tlog.Proof, _ vectorEnv) []byte {
		m := p.Marshal()
		return m[:bytes.Index(m, []byte("\n\n"))+1]
	}},
	{"leading-zero-index", tlog.ErrMalformedProof, func(t testing.TB, p *tlog.Proof, _ vectorEnv) []byte {
		return bytes.Replace(p.Marshal(), []byte("\nindex 5\n"), []byte("\nindex 05\n"), 1)
	}},
	{"trailing-whitespace", tlog.ErrMalformedProof, func(t testing.TB, p *tlog.Proof, _ vectorEnv) []byte {
		return bytes.Replace(p.Marshal(), []byte("\nindex 5\n"), []byte("\nindex 5 \n"), 1)
	}},
	{"crlf", tlog.ErrMalformedProof, func(t testing.TB, p *tlog.Proof, _ vectorEnv) []byte {
		return bytes.ReplaceAll(p.Marshal(), []byte("\n"), []byte("\r\n"))
	}},
	{"other-key", tlog.ErrSignature, func(t testing.TB, p *tlog.Proof, env vectorEnv) []byte {
		q := cloneProof(p)
		q.Checkpoint = mustSign(t, env.checkpoint, mustSigner(t, testOrigin, "impostor"))
		return q.Marshal()
	}},
	{"other-origin", tlog.ErrOriginMismatch, func(t testing.TB, p *tlog.Proof, env vectorEnv) []byte {
		q := cloneProof(p)
		c := env.checkpoint
		c.Origin = "exhibit-forensics.github.io/log/other-device"
		q.Checkpoint = mustSign(t, c, mustSigner(t, testOrigin, "log"))
		return q.Marshal()
	}},
	{"tampered-checkpoint", tlog.ErrSignature, func(t testing.TB, p *tlog.Proof, _ vectorEnv) []byte {
		q := cloneProof(p)
		q.Checkpoint = bytes.Replace(q.Checkpoint, []byte("\n13\n"), []byte("\n14\n"), 1)
		return q.Marshal()
	}},
	{"signed-wrong-root", tlog.ErrInvalidProof, func(t testing.TB, p *tlog.Proof, env vectorEnv) []byte {
		// The log's own key signed a root that is not the tree's: the
		// signature is good, the inclusion is not.
		q := cloneProof(p)
		c := env.checkpoint
		c.Root = env.roots[vectorSize-1]
		q.Checkpoint = mustSign(t, c, mustSigner(t, testOrigin, "log"))
		return q.Marshal()
	}},
}

type vectorEnv struct {
	checkpoint tlog.Checkpoint
	roots      []chain.Hash
}

func cloneProof(p *tlog.Proof) *tlog.Proof {
	return &tlog.Proof{Index: p.Index, Hashes: slices.Clone(p.Hashes), Checkpoint: bytes.Clone(p.Checkpoint)}
}

// mustSign signs c with note.Sign directly, so that a checkpoint whose
// origin differs from the key name can be made.
func mustSign(t testing.TB, c tlog.Checkpoint, s note.Signer) []byte {
	t.Helper()
	msg, err := note.Sign(&note.Note{Text: string(c.Marshal())}, s)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// generateVectors builds the vector archive from scratch.
func generateVectors(t testing.TB) *txtar.Archive {
	ctx := context.Background()
	tree, store := build(t, vectorSize, 1)
	env := vectorEnv{roots: make([]chain.Hash, vectorSize+1)}
	var roots, records strings.Builder
	for s := range env.roots {
		root, err := tlog.RootAt(ctx, store, uint64(s))
		if err != nil {
			t.Fatal(err)
		}
		env.roots[s] = root
		fmt.Fprintf(&roots, "%d %s\n", s, root.Hex())
	}
	for i := range uint64(vectorSize) {
		rh := tlogtest.RecordHash(i)
		fmt.Fprintf(&records, "%d %s %s\n", i, rh.Hex(), tlog.LeafHash(rh).Hex())
	}
	env.checkpoint = tlog.Checkpoint{Origin: testOrigin, Size: tree.Size(), Root: tree.Root()}
	signed := signCheckpoint(t, tree.Size(), tree.Root())
	vkey, err := note.NewEd25519VerifierKey(testOrigin, testKey("log").Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}

	a := &txtar.Archive{Comment: []byte(fmt.Sprintf(`Test vectors for chain/tlog, specified in docs/log.md.
Generated by TestVectors; rewrite with: go test ./chain/tlog -run TestVectors -update

origin: %s
verifier key (golang.org/x/mod/sumdb/note): %s
record i: SHA-256("exhibit tlog test record " || i as 8 big-endian bytes), i = 0..%d

records.txt: index, record hash, leaf hash = SHA-256(0x00 || record hash), in hex
roots.txt: tree size, RFC 6962 root in hex
checkpoint.note: the signed checkpoint at size %d
good/*.tlog-proof: proofs that verify for the record at their index
bad/*.tlog-proof: broken proofs of record %d, which must not verify
`, testOrigin, vkey, vectorSize-1, vectorSize, vectorIndex))}
	a.Files = append(a.Files,
		txtar.File{Name: "records.txt", Data: []byte(records.String())},
		txtar.File{Name: "roots.txt", Data: []byte(roots.String())},
		txtar.File{Name: "checkpoint.note", Data: signed},
	)
	var good *tlog.Proof
	for _, i := range []uint64{0, vectorIndex, vectorSize - 1} {
		p, err := tlog.NewProof(ctx, store, i, tlogtest.RecordHash(i), signed, testOrigin, logVerifiers(t))
		if err != nil {
			t.Fatal(err)
		}
		if i == vectorIndex {
			good = p
		}
		a.Files = append(a.Files, txtar.File{Name: fmt.Sprintf("good/index-%d.tlog-proof", i), Data: p.Marshal()})
	}
	for _, b := range badProofs {
		a.Files = append(a.Files, txtar.File{Name: "bad/" + b.name + ".tlog-proof", Data: b.make(t, good, env)})
	}
	return a
}

// checkProofFile parses and verifies one proof file for record index.
func checkProofFile(t testing.TB, data []byte, index uint64) (*tlog.Checkpoint, error) {
	p, err := tlog.ParseProof(data)
	if err != nil {
		return nil, err
	}
	return tlog.VerifyProof(p, tlogtest.RecordHash(index), testOrigin, logVerifiers(t))
}

// TestVectors checks testdata/vectors.txtar against a fresh generation and
// verifies every proof in it.
func TestVectors(t *testing.T) {
	want := txtar.Format(generateVectors(t))
	if *update {
		if err := os.WriteFile(vectorsFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from a fresh generation; if the change is intended, run with -update", vectorsFile)
	}
	a := txtar.Parse(got)
	expect := map[string]error{}
	for _, b := range badProofs {
		expect["bad/"+b.name+".tlog-proof"] = b.want
	}
	var goods, bads int
	for _, f := range a.Files {
		switch {
		case strings.HasPrefix(f.Name, "good/"):
			var i uint64
			if _, err := fmt.Sscanf(f.Name, "good/index-%d.tlog-proof", &i); err != nil {
				t.Fatalf("%s: %v", f.Name, err)
			}
			c, err := checkProofFile(t, f.Data, i)
			if err != nil {
				t.Errorf("%s: %v", f.Name, err)
			} else if c.Size != vectorSize {
				t.Errorf("%s: checkpoint size %d", f.Name, c.Size)
			}
			goods++
		case strings.HasPrefix(f.Name, "bad/"):
			_, err := checkProofFile(t, f.Data, vectorIndex)
			if want := expect[f.Name]; want == nil || !errors.Is(err, want) {
				t.Errorf("%s: %v, want %v", f.Name, err, want)
			}
			bads++
		case f.Name == "checkpoint.note":
			c, _, err := tlog.Open(f.Data, testOrigin, logVerifiers(t))
			if err != nil || c.Size != vectorSize {
				t.Errorf("checkpoint.note: %v", err)
			}
		}
	}
	if goods != 3 || bads != len(badProofs) {
		t.Errorf("%d good and %d bad vectors, want 3 and %d", goods, bads, len(badProofs))
	}
}

// TestDocExample checks that the worked example and the by-hand script in
// docs/log.md are the committed vector and script.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "log.md"))
	if err != nil {
		t.Fatal(err)
	}
	a := txtar.Parse(mustRead(t, vectorsFile))
	var proof []byte
	for _, f := range a.Files {
		if f.Name == fmt.Sprintf("good/index-%d.tlog-proof", vectorIndex) {
			proof = f.Data
		}
	}
	if proof == nil || !bytes.Contains(doc, proof) {
		t.Errorf("docs/log.md does not contain good/index-%d.tlog-proof from %s verbatim", vectorIndex, vectorsFile)
	}
	if !bytes.Contains(doc, mustRead(t, "testdata/verify-by-hand.sh")) {
		t.Error("docs/log.md does not contain testdata/verify-by-hand.sh verbatim")
	}
	if !bytes.Contains(doc, []byte(tlogtest.RecordHash(vectorIndex).Hex())) {
		t.Error("docs/log.md does not name the example's record hash")
	}
}

func mustRead(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
