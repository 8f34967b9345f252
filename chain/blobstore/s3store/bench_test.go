package s3store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	"github.com/exhibit-forensics/exhibit/chain/blobstore/fsstore"
)

// BenchmarkPutGet compares s3store on a local versitygw (posix backend in
// a temporary directory) with fsstore in a temporary directory on the same
// filesystem, so the difference is the S3 protocol and the gateway:
//
//	go test -run '^$' -bench PutGet -benchtime 10x -count 5 ./chain/blobstore/s3store/
//
// Put is a Receive of bytes not yet stored (their digest computed outside
// the timer); Get is an Open and a read to EOF of a stored blob. s3store's
// reader verifies the digest as it reads (see Open); fsstore's returns the
// file as is.
func BenchmarkPutGet(b *testing.B) {
	srv := startServer(b)
	for _, size := range []int{1 << 20, 64 << 20} {
		src := randomBytes(uint64(size), size)
		stores := []struct {
			name string
			open func(b *testing.B) blobstore.Store
		}{
			{"fs", func(b *testing.B) blobstore.Store {
				s, err := fsstore.Open(b.Context(), b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.Close() })
				return s
			}},
			{"s3", func(b *testing.B) blobstore.Store { return srv.newStore(b) }},
		}
		for _, st := range stores {
			name := fmt.Sprintf("%s/%dMiB", st.name, size>>20)
			b.Run("Put/"+name, func(b *testing.B) {
				s := st.open(b)
				buf := bytes.Clone(src)
				b.SetBytes(int64(size))
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					b.StopTimer()
					binary.BigEndian.PutUint64(buf, uint64(i))
					h := chain.Sum(buf)
					b.StartTimer()
					if _, err := s.Receive(context.Background(), h, bytes.NewReader(buf)); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("Get/"+name, func(b *testing.B) {
				s := st.open(b)
				h := chain.Sum(src)
				if _, err := s.Receive(b.Context(), h, bytes.NewReader(src)); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(size))
				b.ResetTimer()
				for b.Loop() {
					rc, _, err := s.Open(context.Background(), h)
					if err != nil {
						b.Fatal(err)
					}
					n, err := io.Copy(io.Discard, rc)
					rc.Close()
					if err != nil || n != int64(size) {
						b.Fatalf("read %d bytes, %v", n, err)
					}
				}
			})
		}
	}
}
