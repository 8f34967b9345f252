package tlog_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
	"github.com/exhibit-forensics/exhibit/chain/tlog/tlogtest"
	"golang.org/x/mod/sumdb/note"
)

// fixedCheckpoint is a syntactically valid signed note used where only the
// proof syntax matters.
const fixedCheckpoint = "example.com/log\n2\n" + emptyRootB64 + "\n\n— example.com/log AAAAAQ==\n"

const h1 = "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ="
const h2 = "B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA="

// proofTexts are valid and invalid tlog-proofs; wantErr is a substring of
// the error or "" for valid input. They seed FuzzParseProof.
var proofTexts = []struct {
	name, text, wantErr string
}{
	{"no hashes", "c2sp.org/tlog-proof@v1\nindex 0\n\n" + fixedCheckpoint, ""},
	{"two hashes", "c2sp.org/tlog-proof@v1\nindex 73894\n" + h1 + "\n" + h2 + "\n\n" + fixedCheckpoint, ""},
	{"max index", "c2sp.org/tlog-proof@v1\nindex 18446744073709551615\n\n" + fixedCheckpoint, ""},

	{"empty", "", "line 1"},
	{"wrong header", "c2sp.org/tlog-proof@v2\nindex 0\n\n" + fixedCheckpoint, "line 1"},
	{"garbage prefix", "garbage\nc2sp.org/tlog-proof@v1\nindex 0\n\n" + fixedCheckpoint, "line 1"},
	{"header only", "c2sp.org/tlog-proof@v1\n", "truncated after line 1"},
	{"header no newline", "c2sp.org/tlog-proof@v1", "line 1"},
	{"CRLF", strings.ReplaceAll("c2sp.org/tlog-proof@v1\nindex 0\n\n"+fixedCheckpoint, "\n", "\r\n"), "line 1"},
	{"no index", "c2sp.org/tlog-proof@v1\n" + h1 + "\n\n" + fixedCheckpoint, "line 2: want \"index N\""},
	{"index leading zero", "c2sp.org/tlog-proof@v1\nindex 05\n\n" + fixedCheckpoint, "leading zero"},
	{"index two spaces", "c2sp.org/tlog-proof@v1\nindex  5\n\n" + fixedCheckpoint, "not a decimal digit"},
	{"index trailing space", "c2sp.org/tlog-proof@v1\nindex 5 \n\n" + fixedCheckpoint, "not a decimal digit"},
	{"index negative", "c2sp.org/tlog-proof@v1\nindex -1\n\n" + fixedCheckpoint, "not a decimal digit"},
	{"index overflow", "c2sp.org/tlog-proof@v1\nindex 18446744073709551616\n\n" + fixedCheckpoint, "64 bits"},
	{"index uppercase", "c2sp.org/tlog-proof@v1\nINDEX 5\n\n" + fixedCheckpoint, "want \"index N\""},
	{"extra after index", "c2sp.org/tlog-proof@v1\nindex 1\nextra ZXhoaWJpdA==\n\n" + fixedCheckpoint, "line 3: proof hash 1"},
	// C2SP allows an extra line; Exhibit refuses it (log.md §4).
	{"extra", "c2sp.org/tlog-proof@v1\nextra ZXhoaWJpdA==\nindex 1\n" + h1 + "\n\n" + fixedCheckpoint, "line 2: an \"extra\" line"},
	{"extra empty", "c2sp.org/tlog-proof@v1\nextra \nindex 1\n\n" + fixedCheckpoint, "line 2: an \"extra\" line"},
	{"extra unpadded", "c2sp.org/tlog-proof@v1\nextra ZXhoaWJpdA\nindex 1\n\n" + fixedCheckpoint, "line 2: an \"extra\" line"},
	{"two extras", "c2sp.org/tlog-proof@v1\nextra ZXhoaWJpdA==\nextra ZXhoaWJpdA==\nindex 1\n\n" + fixedCheckpoint, "line 2: an \"extra\" line"},
	{"hash unpadded", "c2sp.org/tlog-proof@v1\nindex 1\n" + strings.TrimSuffix(h1, "=") + "\n\n" + fixedCheckpoint, "line 3: proof hash 1"},
	{"hash trailing space", "c2sp.org/tlog-proof@v1\nindex 1\n" + h1 + " \n\n" + fixedCheckpoint, "line 3: proof hash 1"},
	{"hash too short", "c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\n" + fixedCheckpoint, "line 3: proof hash 1"},
	{"hash hex", "c2sp.org/tlog-proof@v1\nindex 1\n" + chain.Sum(nil).Hex() + "\n\n" + fixedCheckpoint, "line 3: proof hash 1"},
	{"65 hashes", "c2sp.org/tlog-proof@v1\nindex 1\n" + strings.Repeat(h1+"\n", 65) + "\n" + fixedCheckpoint, "more than 64"},
	{"no blank line", "c2sp.org/tlog-proof@v1\nindex 1\n" + h1 + "\n", "no empty line"},
	{"truncated hash", "c2sp.org/tlog-proof@v1\nindex 1\n" + h1[:20], "no empty line"},
	{"no checkpoint", "c2sp.org/tlog-proof@v1\nindex 1\n" + h1 + "\n\n", "checkpoint"},
	{"checkpoint no newline", "c2sp.org/tlog-proof@v1\nindex 1\n\n" + strings.TrimSuffix(fixedCheckpoint, "\n"), "checkpoint"},
}

func TestParseProof(t *testing.T) {
	for _, tc := range proofTexts {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tlog.ParseProof([]byte(tc.text))
			if tc.wantErr != "" {
				if !errors.Is(err, tlog.ErrMalformedProof) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want ErrMalformedProof containing %q", err, tc.wantErr)
				}
				if p != nil {
					t.Error("returned a proof with an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Marshal(); string(got) != tc.text {
				t.Errorf("Marshal = %q, want %q", got, tc.text)
			}
			if string(p.Checkpoint) != fixedCheckpoint {
				t.Errorf("Checkpoint = %q", p.Checkpoint)
			}
		})
	}
}

func TestParseProofFields(t *testing.T) {
	p, err := tlog.ParseProof([]byte("c2sp.org/tlog-proof@v1\nindex 1\n" + h1 + "\n\n" + fixedCheckpoint))
	if err != nil {
		t.Fatal(err)
	}
	if p.Index != 1 || len(p.Hashes) != 1 || p.Hashes[0] != mustB64Hash(t, h1) {
		t.Errorf("got %+v", p)
	}
}

func mustB64Hash(t *testing.T, s string) chain.Hash {
	t.Helper()
	c, err := tlog.ParseCheckpoint([]byte("o\n0\n" + s + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return c.Root
}

// TestProofRoundTrip builds, marshals, parses and verifies the proof of
// every leaf of a 21-leaf log.
func TestProofRoundTrip(t *testing.T) {
	ctx := context.Background()
	tree, store := build(t, 21, 4)
	signed := signCheckpoint(t, tree.Size(), tree.Root())
	for i := uint64(0); i < 21; i++ {
		rh := tlogtest.RecordHash(i)
		p, err := tlog.NewProof(ctx, store, i, rh, signed, testOrigin, logVerifiers(t))
		if err != nil {
			t.Fatal(err)
		}
		q, err := tlog.ParseProof(p.Marshal())
		if err != nil {
			t.Fatalf("index %d: %v\n%s", i, err, p.Marshal())
		}
		if !bytes.Equal(q.Marshal(), p.Marshal()) {
			t.Fatalf("index %d: round trip differs", i)
		}
		c, err := tlog.VerifyProof(q, rh, testOrigin, logVerifiers(t))
		if err != nil {
			t.Fatalf("index %d: %v", i, err)
		}
		if c.Size != 21 || c.Root != tree.Root() {
			t.Fatalf("index %d: checkpoint %+v", i, c)
		}
		if _, err := tlog.VerifyProof(q, tlogtest.RecordHash(i+1), testOrigin, logVerifiers(t)); !errors.Is(err, tlog.ErrInvalidProof) {
			t.Fatalf("index %d verified for another record: %v", i, err)
		}
	}
}

func TestNewProofErrors(t *testing.T) {
	ctx := context.Background()
	tree, store := build(t, 9, 9)
	signed := signCheckpoint(t, tree.Size(), tree.Root())
	rh := tlogtest.RecordHash(3)
	if _, err := tlog.NewProof(ctx, store, 9, rh, signed, testOrigin, logVerifiers(t)); !errors.Is(err, tlog.ErrOutOfRange) {
		t.Errorf("index == size: %v, want ErrOutOfRange", err)
	}
	if _, err := tlog.NewProof(ctx, store, 3, rh, signed, testOrigin, note.VerifierList()); !errors.Is(err, tlog.ErrSignature) {
		t.Errorf("untrusted checkpoint: %v, want ErrSignature", err)
	}
	if _, err := tlog.NewProof(ctx, store, 4, rh, signed, testOrigin, logVerifiers(t)); !errors.Is(err, tlog.ErrInvalidProof) {
		t.Errorf("wrong record: %v, want ErrInvalidProof", err)
	}
	// A corrupted store cannot produce a proof.
	if err := store.Set(2, chain.Sum([]byte("rot"))); err != nil { // leaf 2, sibling of leaf 3
		t.Fatal(err)
	}
	if _, err := tlog.NewProof(ctx, store, 3, rh, signed, testOrigin, logVerifiers(t)); !errors.Is(err, tlog.ErrInvalidProof) {
		t.Errorf("corrupt store: %v, want ErrInvalidProof", err)
	}
	// A checkpoint beyond the stored tree names the missing node.
	beyond := signCheckpoint(t, 12, tree.Root())
	if _, err := tlog.NewProof(ctx, store, 3, rh, beyond, testOrigin, logVerifiers(t)); !errors.Is(err, tlog.ErrMissingNode) {
		t.Errorf("checkpoint beyond the store: %v, want ErrMissingNode", err)
	}
}
