package tlog_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
	"golang.org/x/mod/sumdb/note"
)

// emptyRootB64 is the base64 of SHA-256 of nothing, the empty tree's root.
const emptyRootB64 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

// checkpointBodies are valid and invalid checkpoint bodies. wantErr is a
// substring of the error, or "" for a valid body. They seed the fuzzers.
var checkpointBodies = []struct {
	name, body, wantErr string
}{
	{"empty tree", "example.com/log\n0\n" + emptyRootB64 + "\n", ""},
	{"exhibit origin", testOrigin + "\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", ""},
	{"extensions", "example.com/log\n5\n" + emptyRootB64 + "\nfirst extension\n— second, non-ASCII\n", ""},
	{"origin with space", "an origin with spaces\n1\n" + emptyRootB64 + "\n", ""},
	{"max size", "example.com/log\n18446744073709551615\n" + emptyRootB64 + "\n", ""},

	{"empty", "", "does not end in a newline"},
	{"no final newline", "example.com/log\n0\n" + emptyRootB64, "does not end in a newline"},
	{"two lines", "example.com/log\n0\n", "at least 3"},
	{"empty origin", "\n0\n" + emptyRootB64 + "\n", "origin) is empty"},
	{"origin with tab", "example.com/\tlog\n0\n" + emptyRootB64 + "\n", "control character"},
	{"origin with DEL", "example.com/log\x7f\n0\n" + emptyRootB64 + "\n", "control character"},
	{"origin with CR", "example.com/log\r\n0\n" + emptyRootB64 + "\n", "control character"},
	{"origin invalid UTF-8", "example.com/\xfflog\n0\n" + emptyRootB64 + "\n", "invalid UTF-8"},
	{"leading zero", "example.com/log\n05\n" + emptyRootB64 + "\n", "leading zero"},
	{"double zero", "example.com/log\n00\n" + emptyRootB64 + "\n", "leading zero"},
	{"plus sign", "example.com/log\n+5\n" + emptyRootB64 + "\n", "not a decimal digit"},
	{"negative", "example.com/log\n-1\n" + emptyRootB64 + "\n", "not a decimal digit"},
	{"space before size", "example.com/log\n 5\n" + emptyRootB64 + "\n", "not a decimal digit"},
	{"space after size", "example.com/log\n5 \n" + emptyRootB64 + "\n", "not a decimal digit"},
	{"hex size", "example.com/log\n0x5\n" + emptyRootB64 + "\n", "not a decimal digit"},
	{"underscore size", "example.com/log\n1_000\n" + emptyRootB64 + "\n", "not a decimal digit"},
	{"size overflow", "example.com/log\n18446744073709551616\n" + emptyRootB64 + "\n", "64 bits"},
	{"empty size", "example.com/log\n\n" + emptyRootB64 + "\n", "empty number"},
	{"unpadded root", "example.com/log\n0\n" + strings.TrimSuffix(emptyRootB64, "=") + "\n", "base64"},
	{"root trailing space", "example.com/log\n0\n" + emptyRootB64 + " \n", "base64"},
	{"CRLF", "example.com/log\r\n0\r\n" + emptyRootB64 + "\r\n", "control character"},
	{"root CR", "example.com/log\n0\n" + emptyRootB64 + "\r\n", "base64"},
	{"non-canonical base64", "example.com/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=\n", "base64"},
	{"31-byte root", "example.com/log\n0\n" + base64.StdEncoding.EncodeToString(make([]byte, 31)) + "\n", "base64"},
	{"33-byte root", "example.com/log\n0\n" + base64.StdEncoding.EncodeToString(make([]byte, 33)) + "\n", "base64"},
	{"URL-safe root", "example.com/log\n0\n47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=\n", "base64"},
	{"hex root", "example.com/log\n0\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n", "base64"},
	{"empty extension", "example.com/log\n0\n" + emptyRootB64 + "\n\n", "extension) is empty"},
	{"blank line then extension", "example.com/log\n0\n" + emptyRootB64 + "\n\next\n", "extension) is empty"},
	{"extension control", "example.com/log\n0\n" + emptyRootB64 + "\next\x00\n", "control character"},
	{"garbage prefix", "garbage\nexample.com/log\n0\n" + emptyRootB64 + "\n", "not a decimal digit"},
	{"too large", "example.com/log\n0\n" + emptyRootB64 + "\n" + strings.Repeat("x", tlog.MaxCheckpointSize) + "\n", "limit"},
}

func TestParseCheckpoint(t *testing.T) {
	for _, tc := range checkpointBodies {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tlog.ParseCheckpoint([]byte(tc.body))
			if tc.wantErr != "" {
				if !errors.Is(err, tlog.ErrMalformedCheckpoint) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want ErrMalformedCheckpoint containing %q", err, tc.wantErr)
				}
				if c != nil {
					t.Errorf("returned a checkpoint with an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Marshal(); string(got) != tc.body {
				t.Errorf("Marshal = %q, want %q", got, tc.body)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestParseCheckpointFields(t *testing.T) {
	c, err := tlog.ParseCheckpoint([]byte("example.com/log\n42\n" + emptyRootB64 + "\nx\ny\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := tlog.Checkpoint{Origin: "example.com/log", Size: 42, Root: tlog.EmptyRoot(), Extensions: []string{"x", "y"}}
	if c.Origin != want.Origin || c.Size != want.Size || c.Root != want.Root || !slices.Equal(c.Extensions, want.Extensions) {
		t.Errorf("got %+v, want %+v", c, want)
	}
}

func TestCheckpointValidate(t *testing.T) {
	for _, c := range []tlog.Checkpoint{
		{Origin: ""},
		{Origin: "a\nb"},
		{Origin: "o", Extensions: []string{""}},
		{Origin: "o", Extensions: []string{"two\nlines"}},
	} {
		if err := c.Validate(); !errors.Is(err, tlog.ErrMalformedCheckpoint) {
			t.Errorf("Validate(%+v) = %v, want ErrMalformedCheckpoint", c, err)
		}
		if _, err := tlog.Sign(&c, mustSigner(t, "o", "log")); !errors.Is(err, tlog.ErrMalformedCheckpoint) {
			t.Errorf("Sign(%+v) = %v, want ErrMalformedCheckpoint", c, err)
		}
	}
}

func TestSignOpen(t *testing.T) {
	root := chain.Sum([]byte("root"))
	c := &tlog.Checkpoint{Origin: testOrigin, Size: 7, Root: root}
	msg, err := tlog.Sign(c, mustSigner(t, testOrigin, "log"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(msg, c.Marshal()) || !bytes.Contains(msg, []byte("\n\n— "+testOrigin+" ")) {
		t.Fatalf("signed note is not body, blank line, signature:\n%s", msg)
	}
	got, n, err := tlog.Open(msg, testOrigin, logVerifiers(t))
	if err != nil {
		t.Fatal(err)
	}
	if got.Origin != c.Origin || got.Size != 7 || got.Root != root || len(got.Extensions) != 0 {
		t.Errorf("Open = %+v, want %+v", got, c)
	}
	if len(n.Sigs) != 1 || n.Sigs[0].Name != testOrigin {
		t.Errorf("verified signatures = %+v", n.Sigs)
	}
}

func TestOpenRejects(t *testing.T) {
	root := chain.Sum([]byte("root"))
	logSigner := mustSigner(t, testOrigin, "log")
	witness := mustSigner(t, "witness.example/w1", "witness")
	good, err := tlog.Sign(&tlog.Checkpoint{Origin: testOrigin, Size: 7, Root: root}, logSigner)
	if err != nil {
		t.Fatal(err)
	}
	// Signed with a key of the right name that the verifier does not know.
	impostor, _ := tlog.Sign(&tlog.Checkpoint{Origin: testOrigin, Size: 7, Root: root}, mustSigner(t, testOrigin, "impostor"))
	// Body names another origin but is signed by the log's key.
	otherBody, _ := note.Sign(&note.Note{Text: "other.example/log\n7\n" + base64.StdEncoding.EncodeToString(root[:]) + "\n"}, logSigner)
	// Only a witness signed; the witness is trusted, the log key never signed.
	witnessOnly, _ := note.Sign(&note.Note{Text: string((&tlog.Checkpoint{Origin: testOrigin, Size: 7, Root: root}).Marshal())}, witness)
	// A bad checkpoint body under a good signature.
	badBody, _ := note.Sign(&note.Note{Text: testOrigin + "\n07\n" + base64.StdEncoding.EncodeToString(root[:]) + "\n"}, logSigner)
	tampered := bytes.Replace(good, []byte("\n7\n"), []byte("\n8\n"), 1)
	sigAt := bytes.LastIndex(good, []byte("— "))

	withWitness := note.VerifierList(mustVerifier(t, testOrigin, "log"), mustVerifier(t, "witness.example/w1", "witness"))
	cases := []struct {
		name      string
		msg       []byte
		origin    string
		verifiers note.Verifiers
		want      error
	}{
		{"wrong origin asked", good, "exhibit-forensics.github.io/log/other", logVerifiers(t), tlog.ErrOriginMismatch},
		{"no origin", good, "", logVerifiers(t), tlog.ErrOriginMismatch},
		{"other key, same name", impostor, testOrigin, logVerifiers(t), tlog.ErrSignature},
		{"no verifiers", good, testOrigin, nil, tlog.ErrSignature},
		{"body from other origin", otherBody, testOrigin, logVerifiers(t), tlog.ErrOriginMismatch},
		{"witness only", witnessOnly, testOrigin, withWitness, tlog.ErrSignature},
		{"bad body", badBody, testOrigin, logVerifiers(t), tlog.ErrMalformedCheckpoint},
		{"tampered size", tampered, testOrigin, logVerifiers(t), tlog.ErrSignature},
		{"bit-flipped signature", flipBase64(good, sigAt+len("— "+testOrigin+" ")+10), testOrigin, logVerifiers(t), tlog.ErrSignature},
		{"garbage prefix", append([]byte("garbage\n"), good...), testOrigin, logVerifiers(t), tlog.ErrSignature},
		{"truncated", good[:len(good)-10], testOrigin, logVerifiers(t), tlog.ErrSignature},
		{"no signature", good[:sigAt], testOrigin, logVerifiers(t), tlog.ErrSignature},
		{"trailing space", append(bytes.Clone(bytes.TrimSuffix(good, []byte("\n"))), " \n"...), testOrigin, logVerifiers(t), tlog.ErrSignature},
		{"CRLF", bytes.ReplaceAll(good, []byte("\n"), []byte("\r\n")), testOrigin, logVerifiers(t), tlog.ErrSignature},
		{"too large", append(bytes.Repeat([]byte("x"), tlog.MaxNoteSize), good...), testOrigin, logVerifiers(t), tlog.ErrMalformedCheckpoint},
	}
	if _, _, err := tlog.Open(good, testOrigin, logVerifiers(t)); err != nil {
		t.Fatalf("the unmodified checkpoint does not open: %v", err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, n, err := tlog.Open(tc.msg, tc.origin, tc.verifiers)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open = %v, want %v", err, tc.want)
			}
			if c != nil || n != nil {
				t.Error("returned a checkpoint with an error")
			}
		})
	}

	// The tampered note fails the log key's signature check, and the
	// x/mod error type is reachable.
	_, _, err = tlog.Open(tampered, testOrigin, logVerifiers(t))
	var inv *note.InvalidSignatureError
	if !errors.As(err, &inv) || inv.Name != testOrigin {
		t.Errorf("tampered: %v, want *note.InvalidSignatureError", err)
	}
}

// flipBase64 replaces the base64 character at i with another one.
func flipBase64(msg []byte, i int) []byte {
	out := bytes.Clone(msg)
	if out[i] == 'A' {
		out[i] = 'B'
	} else {
		out[i] = 'A'
	}
	return out
}

func TestOpenWithWitnessCosignature(t *testing.T) {
	c := &tlog.Checkpoint{Origin: testOrigin, Size: 9, Root: chain.Sum([]byte("r"))}
	msg, err := tlog.Sign(c, mustSigner(t, testOrigin, "log"), mustSigner(t, "witness.example/w1", "witness"))
	if err != nil {
		t.Fatal(err)
	}
	// The log's verifier alone accepts it; the co-signature is unverified.
	_, n, err := tlog.Open(msg, testOrigin, logVerifiers(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Sigs) != 1 || len(n.UnverifiedSigs) != 1 || n.UnverifiedSigs[0].Name != "witness.example/w1" {
		t.Errorf("sigs %+v, unverified %+v", n.Sigs, n.UnverifiedSigs)
	}
	// With both keys trusted, both verify.
	_, n, err = tlog.Open(msg, testOrigin, note.VerifierList(mustVerifier(t, testOrigin, "log"), mustVerifier(t, "witness.example/w1", "witness")))
	if err != nil || len(n.Sigs) != 2 {
		t.Errorf("with witness trusted: %v, %d verified", err, len(n.Sigs))
	}
}

func TestSignNeedsOriginSigner(t *testing.T) {
	c := &tlog.Checkpoint{Origin: testOrigin, Size: 1, Root: chain.Sum([]byte("r"))}
	if _, err := tlog.Sign(c, mustSigner(t, "witness.example/w1", "witness")); err == nil {
		t.Error("Sign without a signer named after the origin succeeded")
	}
	if _, err := tlog.Sign(c); err == nil {
		t.Error("Sign without signers succeeded")
	}
}

// TestKeysMatchXMod checks NewSigner and NewVerifier against x/mod's own
// key handling, both ways, and that both sign byte-identical notes.
func TestKeysMatchXMod(t *testing.T) {
	priv := testKey("log")
	pub := priv.Public().(ed25519.PublicKey)
	ours, err := tlog.NewSigner(testOrigin, priv)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := note.NewEd25519VerifierKey(testOrigin, pub)
	if err != nil {
		t.Fatal(err)
	}
	theirV, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	ourV, err := tlog.NewVerifier(testOrigin, pub)
	if err != nil {
		t.Fatal(err)
	}
	// x/mod's GenerateKey takes the seed from its random source.
	skey, vkey2, err := note.GenerateKey(bytes.NewReader(priv.Seed()), testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	if vkey2 != vkey {
		t.Fatalf("x/mod keys disagree: %s vs %s", vkey2, vkey)
	}
	theirS, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	if ours.KeyHash() != theirV.KeyHash() || ourV.KeyHash() != theirV.KeyHash() || theirS.KeyHash() != ours.KeyHash() {
		t.Fatalf("key hashes differ: signer %08x verifier %08x x/mod %08x", ours.KeyHash(), ourV.KeyHash(), theirV.KeyHash())
	}
	if ours.KeyHash() != tlog.KeyID(testOrigin, pub) {
		t.Errorf("KeyID disagrees")
	}

	text := &note.Note{Text: string((&tlog.Checkpoint{Origin: testOrigin, Size: 3, Root: chain.Sum([]byte("r"))}).Marshal())}
	byOurs, err := note.Sign(text, ours)
	if err != nil {
		t.Fatal(err)
	}
	byTheirs, err := note.Sign(text, theirS)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(byOurs, byTheirs) {
		t.Errorf("signed notes differ:\n%s\n%s", byOurs, byTheirs)
	}
	if _, err := note.Open(byOurs, note.VerifierList(theirV)); err != nil {
		t.Errorf("x/mod verifier rejects our signer: %v", err)
	}
	if _, err := note.Open(byTheirs, note.VerifierList(ourV)); err != nil {
		t.Errorf("our verifier rejects x/mod's signer: %v", err)
	}
	if _, _, err := tlog.Open(byTheirs, testOrigin, note.VerifierList(ourV)); err != nil {
		t.Errorf("Open of x/mod-signed checkpoint: %v", err)
	}
	if ourV.Verify([]byte("x"), []byte("short")) {
		t.Error("verifier accepted a short signature")
	}
}

// TestKeyIDKnownAnswer checks KeyID against the verifier key published in
// the golang.org/x/mod/sumdb/note package documentation.
func TestKeyIDKnownAnswer(t *testing.T) {
	const vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
	parts := strings.Split(vkey, "+")
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 33 || raw[0] != 1 {
		t.Fatalf("bad vector: %v", err)
	}
	if got := tlog.KeyID(parts[0], raw[1:]); got != 0xc74f20a3 {
		t.Errorf("KeyID = %08x, want c74f20a3", got)
	}
}

func TestKeyErrors(t *testing.T) {
	priv := testKey("log")
	pub := priv.Public().(ed25519.PublicKey)
	mismatched := append(bytes.Clone(priv.Seed()), testKey("other").Public().(ed25519.PublicKey)...)
	for _, name := range []string{"", "has space", "has+plus", "tab\there", "bad\xffutf8", "nbsp\u00a0"} {
		if _, err := tlog.NewSigner(name, priv); err == nil {
			t.Errorf("NewSigner(%q) succeeded", name)
		}
		if _, err := tlog.NewVerifier(name, pub); err == nil {
			t.Errorf("NewVerifier(%q) succeeded", name)
		}
	}
	if _, err := tlog.NewSigner("n", priv[:32]); err == nil {
		t.Error("NewSigner with a 32-byte key succeeded")
	}
	if _, err := tlog.NewSigner("n", mismatched); err == nil {
		t.Error("NewSigner with a mismatched key pair succeeded")
	}
	if _, err := tlog.NewVerifier("n", pub[:31]); err == nil {
		t.Error("NewVerifier with a 31-byte key succeeded")
	}
}
