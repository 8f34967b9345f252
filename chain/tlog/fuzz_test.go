package tlog_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain/tlog"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/tools/txtar"
)

func FuzzParseCheckpoint(f *testing.F) {
	for _, s := range checkpointSeeds() {
		f.Add(s.data)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := tlog.ParseCheckpoint(body)
		if err != nil {
			if !errors.Is(err, tlog.ErrMalformedCheckpoint) || c != nil {
				t.Fatalf("error %v does not match ErrMalformedCheckpoint, or a checkpoint came with it", err)
			}
			return
		}
		if got := c.Marshal(); !bytes.Equal(got, body) {
			t.Fatalf("Marshal = %q, input %q", got, body)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("parsed checkpoint does not validate: %v", err)
		}
	})
}

func FuzzParseProof(f *testing.F) {
	for _, s := range proofSeeds(f) {
		f.Add(s.data)
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		p, err := tlog.ParseProof(text)
		if err != nil {
			if !errors.Is(err, tlog.ErrMalformedProof) || p != nil {
				t.Fatalf("error %v does not match ErrMalformedProof, or a proof came with it", err)
			}
			return
		}
		if got := p.Marshal(); !bytes.Equal(got, text) {
			t.Fatalf("Marshal = %q, input %q", got, text)
		}
		if len(p.Hashes) > 64 {
			t.Fatalf("%d hashes accepted", len(p.Hashes))
		}
	})
}

func FuzzOpenCheckpoint(f *testing.F) {
	for _, s := range openSeeds(f) {
		f.Add(s.data)
	}
	verifiers := note.VerifierList(mustVerifier(f, testOrigin, "log"), mustVerifier(f, "witness.example/w1", "witness"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		c, n, err := tlog.Open(msg, testOrigin, verifiers)
		if err != nil {
			if c != nil || n != nil {
				t.Fatal("a checkpoint came with an error")
			}
			if !errors.Is(err, tlog.ErrSignature) && !errors.Is(err, tlog.ErrMalformedCheckpoint) && !errors.Is(err, tlog.ErrOriginMismatch) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if c.Origin != testOrigin {
			t.Fatalf("opened a checkpoint for origin %q", c.Origin)
		}
		if !slices.ContainsFunc(n.Sigs, func(s note.Signature) bool { return s.Name == testOrigin }) {
			t.Fatalf("opened without a verified signature by the log key: %+v", n.Sigs)
		}
		if !bytes.HasPrefix(msg, c.Marshal()) || n.Text != string(c.Marshal()) {
			t.Fatalf("body %q is not the note text %q", c.Marshal(), n.Text)
		}
	})
}

type seed struct {
	name string
	data []byte
}

// maxSeed keeps oversized table inputs (the size-limit cases, tested by the
// table tests) out of the fuzz corpus.
const maxSeed = 4 << 10

func small(seeds []seed) []seed {
	return slices.DeleteFunc(seeds, func(s seed) bool { return len(s.data) > maxSeed })
}

func checkpointSeeds() []seed {
	var out []seed
	for _, tc := range checkpointBodies {
		out = append(out, seed{tc.name, []byte(tc.body)})
	}
	return small(out)
}

func proofSeeds(t testing.TB) []seed {
	var out []seed
	for _, tc := range proofTexts {
		out = append(out, seed{tc.name, []byte(tc.text)})
	}
	for _, f := range vectorFiles(t, ".tlog-proof") {
		out = append(out, seed{"vector " + f.Name, f.Data})
	}
	return small(out)
}

func openSeeds(t testing.TB) []seed {
	logKey := mustSigner(t, testOrigin, "log")
	var out []seed
	// Every checkpoint body, signed by the log key whether valid or not.
	for _, tc := range checkpointBodies {
		text := tc.body
		if !strings.HasSuffix(text, "\n") {
			text += "\n"
		}
		if msg, err := note.Sign(&note.Note{Text: text}, logKey); err == nil {
			out = append(out, seed{"signed " + tc.name, msg})
		}
	}
	for _, f := range vectorFiles(t, ".note") {
		out = append(out, seed{"vector " + f.Name, f.Data})
	}
	for _, f := range vectorFiles(t, ".tlog-proof") {
		if p, err := tlog.ParseProof(f.Data); err == nil {
			out = append(out, seed{"vector checkpoint of " + f.Name, p.Checkpoint})
		}
	}
	body := []byte(checkpointBodies[1].body)
	cosigned, err := note.Sign(&note.Note{Text: string(body)}, logKey, mustSigner(t, "witness.example/w1", "witness"))
	if err != nil {
		t.Fatal(err)
	}
	out = append(out,
		seed{"cosigned", cosigned},
		seed{"witness only", mustSign(t, *mustParse(t, body), mustSigner(t, "witness.example/w1", "witness"))},
		seed{"unsigned", body},
		seed{"empty", nil},
	)
	return small(out)
}

func mustParse(t testing.TB, body []byte) *tlog.Checkpoint {
	c, err := tlog.ParseCheckpoint(body)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// vectorFiles returns the files of testdata/vectors.txtar with a suffix.
func vectorFiles(t testing.TB, suffix string) []txtar.File {
	a := txtar.Parse(mustRead(t, vectorsFile))
	var out []txtar.File
	for _, f := range a.Files {
		if strings.HasSuffix(f.Name, suffix) {
			out = append(out, f)
		}
	}
	return out
}

// corpusName turns a seed name into a corpus file name (after
// fuzzseed.Prefix).
func corpusName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}
