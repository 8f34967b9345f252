package blobstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"

	"github.com/exhibit-forensics/exhibit/chain"
)

// fakeFetcher serves fixed contents, whatever their names, so tests can
// present bytes that do not match their hash.
type fakeFetcher struct {
	blobs   map[chain.Hash][]byte
	size    map[chain.Hash]int64 // reported size, if different from len
	readErr error                // if set, the reader fails after the first byte
}

func (f *fakeFetcher) Open(ctx context.Context, h chain.Hash) (io.ReadCloser, int64, error) {
	b, ok := f.blobs[h]
	if !ok {
		return nil, 0, fmt.Errorf("%w: %s", ErrNotFound, h)
	}
	size := int64(len(b))
	if s, ok := f.size[h]; ok {
		size = s
	}
	var r io.Reader = bytes.NewReader(b)
	if f.readErr != nil {
		r = io.MultiReader(io.LimitReader(r, 1), iotest.ErrReader(f.readErr))
	}
	return io.NopCloser(r), size, nil
}

func TestCheck(t *testing.T) {
	good := bytes.Repeat([]byte("evidence "), 100000) // several Check buffers
	hGood := chain.Sum(good)
	bad := bytes.Clone(good)
	bad[len(bad)/2] ^= 1
	hBad := chain.Sum(good[:10]) // stored under a name its bytes do not have
	hShort := chain.Sum([]byte("short"))
	errDisk := errors.New("disk read error")

	f := &fakeFetcher{
		blobs: map[chain.Hash][]byte{hGood: good, hBad: bad, hShort: []byte("short")},
		size:  map[chain.Hash]int64{hShort: 6},
	}
	tests := []struct {
		name    string
		f       *fakeFetcher
		h       chain.Hash
		wantErr error // nil for success
	}{
		{"intact", f, hGood, nil},
		{"altered", f, hBad, ErrCorrupt},
		{"size mismatch", f, hShort, ErrCorrupt},
		{"missing", f, chain.Sum([]byte("absent")), ErrNotFound},
		{"read error", &fakeFetcher{blobs: f.blobs, readErr: errDisk}, hGood, errDisk},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(context.Background(), tt.f, tt.h)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Check = %v, want an error matching %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.h.Hex()) {
				t.Errorf("error %q does not name the blob", err)
			}
		})
	}
}

func TestCheckCorruptErrorDetail(t *testing.T) {
	h := chain.Sum([]byte("original"))
	f := &fakeFetcher{blobs: map[chain.Hash][]byte{h: []byte("tampered")}}
	err := Check(context.Background(), f, h)
	var ce *CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("Check = %v, want a *CorruptError", err)
	}
	if ce.Want != h || ce.Got != chain.Sum([]byte("tampered")) || ce.Size != 8 {
		t.Errorf("CorruptError = %+v", ce)
	}
	if errors.Is(err, ErrNotFound) {
		t.Error("a corrupt blob must not match ErrNotFound")
	}
}

func TestCheckCancelled(t *testing.T) {
	h := chain.Sum([]byte("x"))
	f := &fakeFetcher{blobs: map[chain.Hash][]byte{h: []byte("x")}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Check(ctx, f, h); !errors.Is(err, context.Canceled) {
		t.Fatalf("Check with cancelled context = %v", err)
	}
}

func TestErrNoSpaceIsENOSPC(t *testing.T) {
	err := fmt.Errorf("writing blob: %w", ErrNoSpace)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatal("ErrNoSpace does not match syscall.ENOSPC")
	}
	if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNotFound) {
		t.Fatal("ErrNoSpace matches an unrelated sentinel")
	}
}

func TestInfoString(t *testing.T) {
	i := Info{Hash: chain.Sum(nil), Size: 0}
	want := "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 (0 bytes)"
	if got := i.String(); got != want {
		t.Errorf("Info.String() = %q, want %q", got, want)
	}
}
