package bagit

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// fuzzLimits keep FuzzOpenZip's memory small whatever the input claims.
var fuzzLimits = Limits{
	MaxEntries:       200,
	MaxDirectorySize: 1 << 20,
	MaxEntrySize:     4 << 20,
	MaxTotalSize:     16 << 20,
	MaxTagFileSize:   1 << 20,
	MaxProblems:      100,
}

// FuzzOpenZip feeds arbitrary bytes to OpenZip and, when the structure is
// accepted, to Validate and ReadFile. Nothing may panic; every rejection
// must carry one of the package's sentinels.
func FuzzOpenZip(f *testing.F) {
	for _, s := range zipSeeds(f) {
		f.Add(s.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		bag, err := openBytes(data, fuzzLimits)
		if err != nil {
			if !isOpenError(err) {
				t.Fatalf("OpenZip error without a sentinel: %v", err)
			}
			return
		}
		rep, err := bag.Validate(context.Background())
		if err != nil {
			t.Fatalf("Validate on in-memory input failed: %v", err)
		}
		for _, p := range rep.Problems {
			if p.Err == nil {
				t.Fatalf("problem without error: %+v", p)
			}
		}
		if rep.Valid() && len(rep.SHA256) != rep.PayloadFiles {
			t.Fatalf("valid bag with %d payload files but %d digests", rep.PayloadFiles, len(rep.SHA256))
		}
		for _, fl := range bag.Files() {
			if b, err := bag.ReadFile(fl.Path, 1<<16); err == nil && int64(len(b)) != fl.Size {
				t.Fatalf("ReadFile(%q) = %d bytes, declared %d", fl.Path, len(b), fl.Size)
			}
		}
	})
}

func isOpenError(err error) bool {
	for _, s := range []error{ErrNotZip, ErrMalformedZip, ErrUnsafePath, ErrBadName, ErrDuplicate, ErrNotRegular,
		ErrLayout, ErrTooManyEntries, ErrTooLarge, ErrCompressionRatio, ErrEncrypted, ErrUnsupportedMethod} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

type seed struct {
	name string
	data []byte
}

// zipSeeds are valid bags, bags with content problems, and every hostile
// archive of the reader tests.
func zipSeeds(t testing.TB) []seed {
	small := writeBag(t, []payloadFile{
		{"data/a.txt", []byte("a\n"), false},
		{"data/b.json", []byte(`{"b":1}` + "\n"), true},
	}, func(w *ZipWriter) { must(t, w.AddInfo("Contact-Name", "J Smith")) })
	seeds := []seed{
		{"valid-small", small},
		{"valid-zip64-end", toZip64(t, small, nil)},
		{"bitflip-payload", rezip(t, small, replaceBody("data/a.txt", func(b []byte) []byte { b[0] ^= 1; return b }))},
		{"missing-manifest", rezip(t, small, dropEntry("manifest-sha256.txt"))},
	}
	raw := append([]byte(nil), small...)
	raw[100] ^= 0x10
	seeds = append(seeds, seed{"raw-bitflip", raw})
	for _, h := range hostileCases(t) {
		if len(h.zip) > 64<<10 {
			continue
		}
		seeds = append(seeds, seed{"hostile-" + strings.NewReplacer(" ", "-", "/", "-").Replace(h.name), h.zip})
	}
	return seeds
}
