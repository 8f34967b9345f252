package s3store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
)

const (
	algDir = "sha256/" // blobs: PREFIX sha256/ab/cd/<64 hex>
	tmpDir = "tmp/"    // Ingest's uploads before their digest is known

	// readChunk is how much is read from the input between context checks.
	readChunk = 1 << 20
	// maxParts is S3's limit on the parts of one multipart upload.
	maxParts = 10000
	// partGrowEvery is how many parts are sent at one size before the part
	// size doubles (see doc.go, "Writes").
	partGrowEvery = 1000
	// maxCopy is the largest object one CopyObject may copy; larger ones
	// are copied part by part with UploadPartCopy.
	maxCopy = 5 << 30
	// cleanupTimeout bounds the aborts and deletes done after a failed
	// write, which run even when the write's context has ended.
	cleanupTimeout = 30 * time.Second
)

// Store is a blob store in an S3 bucket. Create it with Open or New. A Store
// is safe for concurrent use; several Stores, in any number of processes,
// may share a bucket and prefix.
type Store struct {
	cfg    Config
	client *s3.Client
	http   *http.Client

	// copyLimit is maxCopy, lowered by tests to exercise UploadPartCopy.
	copyLimit int64
}

var _ blobstore.Store = (*Store)(nil)

// Options adjust New beyond what the URL says.
type Options struct {
	// Getenv reads the credentials' environment variables; nil means
	// os.Getenv.
	Getenv func(string) string
	// HTTPClient, if not nil, carries the requests.
	HTTPClient *http.Client
	// RetryMaxAttempts is how many times the S3 client tries each request
	// (a part, a completion) before the write fails; 0 means the SDK's
	// default of 3.
	RetryMaxAttempts int
}

// Open opens the store named by a URL (see ParseURL and the package doc),
// taking credentials from the environment. It checks that the bucket
// exists and the credentials are accepted.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	cfg, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	return New(ctx, cfg, Options{})
}

// New opens the store described by cfg. It checks that the bucket exists
// and the credentials are accepted.
func New(ctx context.Context, cfg Config, opts Options) (*Store, error) {
	if _, err := ParseURL(cfg.String()); err != nil {
		return nil, fmt.Errorf("s3store: invalid config: %w", err)
	}
	id, secret, token, err := cfg.credentials(opts.Getenv)
	if err != nil {
		return nil, err
	}
	hc := opts.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 32
		hc = &http.Client{Transport: tr}
	}
	o := s3.Options{
		Region:       cfg.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(id, secret, token),
		UsePathStyle: cfg.PathStyle,
		HTTPClient:   hc,
		// The store hashes every byte itself (SHA-256, the blob's name);
		// S3's optional CRC checksums would add a second pass and need
		// aws-chunked trailers that not every compatible server accepts.
		// SigV4 still signs each request's payload hash.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		RetryMaxAttempts:           opts.RetryMaxAttempts,
	}
	if cfg.Endpoint != "" {
		o.BaseEndpoint = aws.String(cfg.Endpoint)
	}
	s := &Store{cfg: cfg, client: s3.New(o), http: hc, copyLimit: maxCopy}
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(cfg.Bucket)}); err != nil {
		return nil, fmt.Errorf("s3store: open %s: bucket %s: %w", cfg, cfg.Bucket, mapErr(err))
	}
	return s, nil
}

// Config returns the configuration the store was opened with.
func (s *Store) Config() Config { return s.cfg }

// Close releases idle connections. The Store must not be used afterwards.
func (s *Store) Close() error {
	s.http.CloseIdleConnections()
	return nil
}

// Key returns the object key of blob h: PREFIX + "sha256/ab/cd/" + hex.
func (s *Store) Key(h chain.Hash) string {
	x := h.Hex()
	return s.cfg.Prefix + algDir + x[:2] + "/" + x[2:4] + "/" + x
}

// parseKey returns the hash a key names, or false if the key does not
// follow the layout exactly.
func (s *Store) parseKey(key string) (chain.Hash, bool) {
	rest, ok := strings.CutPrefix(key, s.cfg.Prefix+algDir)
	if !ok || len(rest) != 2+1+2+1+64 {
		return chain.Hash{}, false
	}
	x := rest[6:]
	if rest[:6] != x[:2]+"/"+x[2:4]+"/" {
		return chain.Hash{}, false
	}
	var h chain.Hash
	if n, err := hex.Decode(h[:], []byte(x)); err != nil || n != len(h) || h.Hex() != x {
		return chain.Hash{}, false
	}
	return h, true
}

// ownsKey reports whether key is one this store writes: a blob's or a
// temporary one.
func (s *Store) ownsKey(key string) bool {
	if _, ok := s.parseKey(key); ok {
		return true
	}
	return strings.HasPrefix(key, s.cfg.Prefix+tmpDir)
}

// Receive implements blobstore.Receiver. See the package doc for the steps
// of a write.
func (s *Store) Receive(ctx context.Context, want chain.Hash, r io.Reader) (blobstore.Info, error) {
	info, err := s.write(ctx, r, &want)
	if err != nil {
		return blobstore.Info{}, fmt.Errorf("s3store: receive %s: %w", want, err)
	}
	return info, nil
}

// Ingest implements blobstore.Ingester.
func (s *Store) Ingest(ctx context.Context, r io.Reader) (blobstore.Info, error) {
	info, err := s.write(ctx, r, nil)
	if err != nil {
		return blobstore.Info{}, fmt.Errorf("s3store: ingest: %w", err)
	}
	return info, nil
}

// partPool recycles part buffers of DefaultPartSize.
var partPool = sync.Pool{New: func() any { b := make([]byte, DefaultPartSize); return &b }}

func getBuf(n int64) (*[]byte, func()) {
	if n == DefaultPartSize {
		b := partPool.Get().(*[]byte)
		return b, func() { partPool.Put(b) }
	}
	b := make([]byte, n)
	return &b, func() {}
}

// input reads the caller's bytes, hashing them, checking ctx between
// chunks and wrapping the reader's errors.
type input struct {
	ctx context.Context
	r   io.Reader
	h   hash.Hash
	n   int64
	eof bool
}

// fill reads into buf until it is full or the input ends, and returns how
// many bytes it read.
func (in *input) fill(buf []byte) (int, error) {
	m := 0
	for m < len(buf) && !in.eof {
		if err := in.ctx.Err(); err != nil {
			return m, err
		}
		end := min(len(buf), m+readChunk)
		k, err := in.r.Read(buf[m:end])
		if k < 0 || k > end-m {
			return m, fmt.Errorf("reader returned %d bytes for a %d-byte buffer", k, end-m)
		}
		in.h.Write(buf[m : m+k])
		m += k
		in.n += int64(k)
		if err == io.EOF {
			in.eof = true
		} else if err != nil {
			return m, fmt.Errorf("reading input at byte %d: %w", in.n, err)
		}
	}
	return m, nil
}

func (in *input) sum() chain.Hash { return chain.HashOf(in.h) }

// write stores r under its digest, which must equal *want if want is not
// nil.
func (s *Store) write(ctx context.Context, r io.Reader, want *chain.Hash) (blobstore.Info, error) {
	if err := ctx.Err(); err != nil {
		return blobstore.Info{}, err
	}
	in := &input{ctx: ctx, r: r, h: chain.NewHasher()}
	if want != nil {
		switch _, err := s.stat(ctx, *want); {
		case err == nil:
			info, err := s.verifyOnly(in, *want)
			if err != nil {
				return blobstore.Info{}, err
			}
			// No lock spans processes: make sure a Remove did not take the
			// blob while its bytes were being verified.
			if _, err := s.stat(ctx, *want); errors.Is(err, blobstore.ErrNotFound) {
				return blobstore.Info{}, errors.New("blob removed while its bytes were verified: send it again")
			} else if err != nil {
				return blobstore.Info{}, err
			}
			return info, nil
		case !errors.Is(err, blobstore.ErrNotFound):
			return blobstore.Info{}, err
		}
	}

	// The first part decides: an input that fits in it is hashed before
	// anything is sent, and goes up in one PutObject straight to its name.
	buf, free := getBuf(s.cfg.PartSize)
	defer free()
	n, err := in.fill(*buf)
	if err != nil {
		return blobstore.Info{}, err
	}
	if in.eof {
		sum := in.sum()
		if want != nil && sum != *want {
			return blobstore.Info{}, &blobstore.CorruptError{Want: *want, Got: sum, Size: in.n}
		}
		if want == nil {
			if _, err := s.stat(ctx, sum); err == nil {
				return blobstore.Info{Hash: sum, Size: in.n}, nil
			} else if !errors.Is(err, blobstore.ErrNotFound) {
				return blobstore.Info{}, err
			}
		}
		if err := ctx.Err(); err != nil {
			return blobstore.Info{}, err
		}
		_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:        aws.String(s.cfg.Bucket),
			Key:           aws.String(s.Key(sum)),
			Body:          bytes.NewReader((*buf)[:n]),
			ContentLength: aws.Int64(int64(n)),
			IfNoneMatch:   aws.String("*"),
		})
		if err != nil && !isPrecondition(err) {
			if err := s.settle(ctx, sum, in.n, err); err != nil {
				return blobstore.Info{}, fmt.Errorf("putting object: %w", mapErr(err))
			}
		}
		return blobstore.Info{Hash: sum, Size: in.n}, nil
	}

	// A larger input goes up as a multipart upload: to its final name when
	// the digest is known (Receive), else to a temporary key. The upload
	// becomes an object only when completed, which happens only once the
	// digest has been checked.
	key := ""
	if want != nil {
		key = s.Key(*want)
	} else {
		key = s.tmpKey()
	}
	up, err := s.upload(ctx, key, in, *buf, n)
	if err != nil {
		return blobstore.Info{}, err
	}
	sum := in.sum()
	if want != nil && sum != *want {
		s.abort(ctx, up)
		return blobstore.Info{}, &blobstore.CorruptError{Want: *want, Got: sum, Size: in.n}
	}
	info := blobstore.Info{Hash: sum, Size: in.n}
	if want == nil {
		if _, err := s.stat(ctx, sum); err == nil {
			s.abort(ctx, up)
			return info, nil
		} else if !errors.Is(err, blobstore.ErrNotFound) {
			s.abort(ctx, up)
			return blobstore.Info{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		s.abort(ctx, up)
		return blobstore.Info{}, err
	}
	if err := s.complete(ctx, up, want != nil); err != nil {
		if want == nil || s.settle(ctx, sum, in.n, err) != nil {
			return blobstore.Info{}, err
		}
	}
	if want == nil {
		err := s.copyTmp(ctx, key, s.Key(sum), in.n)
		if err != nil {
			err = s.settle(ctx, sum, in.n, err)
		}
		if derr := s.deleteObject(context.WithoutCancel(ctx), key); derr != nil && err == nil {
			// The blob is stored; the temporary object is left for Sweep.
			_ = derr
		}
		if err != nil {
			return blobstore.Info{}, err
		}
	}
	return info, nil
}

// settle decides a write of blob h (size bytes) whose last request failed
// with err: the blob may be stored all the same, by a concurrent writer of
// the same bytes (a server refusing our conditional write may reset the
// connection rather than let us read its 412), or by our own request when
// only the response was lost. It returns nil if the blob is now stored at
// that size, else err. Objects under a blob's key only ever come whole
// from writers that verified their digest.
func (s *Store) settle(ctx context.Context, h chain.Hash, size int64, err error) error {
	if ctx.Err() != nil {
		return err
	}
	if info, serr := s.stat(ctx, h); serr == nil && info.Size == size {
		return nil
	}
	return err
}

// verifyOnly reads and hashes the input of a Receive whose blob is already
// stored, without sending it anywhere.
func (s *Store) verifyOnly(in *input, want chain.Hash) (blobstore.Info, error) {
	buf, free := getBuf(readChunk)
	defer free()
	for !in.eof {
		if _, err := in.fill(*buf); err != nil {
			return blobstore.Info{}, err
		}
	}
	if sum := in.sum(); sum != want {
		return blobstore.Info{}, &blobstore.CorruptError{Want: want, Got: sum, Size: in.n}
	}
	if err := in.ctx.Err(); err != nil {
		return blobstore.Info{}, err
	}
	return blobstore.Info{Hash: want, Size: in.n}, nil
}

// multipart is an upload in progress.
type multipart struct {
	key, id string
	parts   []types.CompletedPart
}

// upload sends first (the n bytes already read) and the rest of in as a
// multipart upload to key. On error it aborts the upload.
func (s *Store) upload(ctx context.Context, key string, in *input, first []byte, n int) (_ *multipart, err error) {
	out, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(s.cfg.Bucket),
		Key:    aws.String(key),
	})
	if err != nil {
		return nil, fmt.Errorf("starting multipart upload: %w", mapErr(err))
	}
	up := &multipart{key: key, id: aws.ToString(out.UploadId)}
	defer func() {
		if err != nil {
			s.abort(ctx, up)
		}
	}()
	buf := first
	var grown []byte // the larger buffer, once parts have grown
	for {
		if err := s.uploadPart(ctx, up, buf[:n]); err != nil {
			return nil, err
		}
		if in.eof {
			return up, nil
		}
		if len(up.parts) == maxParts {
			return nil, fmt.Errorf("blob larger than %d parts", maxParts)
		}
		if size := partSize(s.cfg.PartSize, len(up.parts)+1); size != int64(len(buf)) {
			grown = make([]byte, size)
			buf = grown
		}
		if n, err = in.fill(buf); err != nil {
			return nil, err
		}
		if n == 0 && in.eof {
			return up, nil
		}
	}
}

// partSize returns the size of part number i (1-based) of a multipart
// upload: base for the first partGrowEvery parts, then doubling every
// partGrowEvery parts, capped at MaxPartSize.
func partSize(base int64, i int) int64 {
	shift := (i - 1) / partGrowEvery
	if shift > 10 {
		shift = 10
	}
	return min(base<<shift, MaxPartSize)
}

func (s *Store) uploadPart(ctx context.Context, up *multipart, b []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	num := int32(len(up.parts) + 1)
	out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket:        aws.String(s.cfg.Bucket),
		Key:           aws.String(up.key),
		UploadId:      aws.String(up.id),
		PartNumber:    aws.Int32(num),
		Body:          bytes.NewReader(b),
		ContentLength: aws.Int64(int64(len(b))),
	})
	if err != nil {
		return fmt.Errorf("uploading part %d: %w", num, mapErr(err))
	}
	up.parts = append(up.parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
	return nil
}

// complete makes the upload an object. With noReplace, an object already
// under the key is left alone (If-None-Match: *) and the upload aborted.
func (s *Store) complete(ctx context.Context, up *multipart, noReplace bool) error {
	in := &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(s.cfg.Bucket),
		Key:             aws.String(up.key),
		UploadId:        aws.String(up.id),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: up.parts},
	}
	if noReplace {
		in.IfNoneMatch = aws.String("*")
	}
	if _, err := s.client.CompleteMultipartUpload(ctx, in); err != nil {
		s.abort(ctx, up)
		if noReplace && isPrecondition(err) {
			return nil // stored meanwhile by another writer: same bytes
		}
		return fmt.Errorf("completing multipart upload: %w", mapErr(err))
	}
	return nil
}

// abort abandons an upload, best effort: it runs even if ctx has ended,
// and an upload it cannot abort is invisible anyway and left for Sweep.
func (s *Store) abort(ctx context.Context, up *multipart) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket:   aws.String(s.cfg.Bucket),
		Key:      aws.String(up.key),
		UploadId: aws.String(up.id),
	})
}

// copyTmp copies the temporary object src (size bytes, verified) to its
// final key dst without replacing an existing blob.
func (s *Store) copyTmp(ctx context.Context, src, dst string, size int64) error {
	source := url.PathEscape(s.cfg.Bucket) + "/" + escapeKey(src)
	if size <= s.copyLimit {
		_, err := s.client.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket:      aws.String(s.cfg.Bucket),
			Key:         aws.String(dst),
			CopySource:  aws.String(source),
			IfNoneMatch: aws.String("*"),
		})
		if err != nil && !isPrecondition(err) {
			return fmt.Errorf("copying to final key: %w", mapErr(err))
		}
		return nil
	}
	out, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(s.cfg.Bucket),
		Key:    aws.String(dst),
	})
	if err != nil {
		return fmt.Errorf("starting multipart copy: %w", mapErr(err))
	}
	up := &multipart{key: dst, id: aws.ToString(out.UploadId)}
	for off := int64(0); off < size; off += s.copyLimit {
		end := min(off+s.copyLimit, size) - 1
		num := int32(len(up.parts) + 1)
		pc, err := s.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
			Bucket:          aws.String(s.cfg.Bucket),
			Key:             aws.String(dst),
			UploadId:        aws.String(up.id),
			PartNumber:      aws.Int32(num),
			CopySource:      aws.String(source),
			CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", off, end)),
		})
		if err != nil {
			s.abort(ctx, up)
			return fmt.Errorf("copying part %d: %w", num, mapErr(err))
		}
		if pc.CopyPartResult == nil {
			s.abort(ctx, up)
			return fmt.Errorf("copying part %d: no result", num)
		}
		up.parts = append(up.parts, types.CompletedPart{ETag: pc.CopyPartResult.ETag, PartNumber: aws.Int32(num)})
	}
	return s.complete(ctx, up, true)
}

// escapeKey escapes each segment of an object key for x-amz-copy-source.
func escapeKey(k string) string {
	segs := strings.Split(k, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// tmpKey returns a fresh temporary key: PREFIX tmp/<unix seconds>-<random>.
func (s *Store) tmpKey() string {
	var b [12]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s%s%d-%x", s.cfg.Prefix, tmpDir, time.Now().Unix(), b)
}

func (s *Store) deleteObject(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, cleanupTimeout)
	defer cancel()
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{
		Bucket: aws.String(s.cfg.Bucket),
		Key:    aws.String(key),
	})
	return mapErr(err)
}

// Open implements blobstore.Fetcher. The reader hashes what it returns and,
// instead of io.EOF, returns an error matching blobstore.ErrCorrupt if the
// object's bytes do not hash to h or are not as long as reported.
func (s *Store) Open(ctx context.Context, h chain.Hash) (io.ReadCloser, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("s3store: open %s: %w", h, err)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.cfg.Bucket),
		Key:    aws.String(s.Key(h)),
	})
	if err != nil {
		return nil, 0, fmt.Errorf("s3store: open %s: %w", h, mapErr(err))
	}
	if out.ContentLength == nil || *out.ContentLength < 0 {
		out.Body.Close()
		return nil, 0, fmt.Errorf("s3store: open %s: server gave no length", h)
	}
	size := *out.ContentLength
	return &verifier{rc: out.Body, want: h, size: size, h: chain.NewHasher()}, size, nil
}

// verifier checks a blob's bytes as they are read.
type verifier struct {
	rc   io.ReadCloser
	want chain.Hash
	size int64
	n    int64
	h    hash.Hash
	err  error // sticky end-of-stream result
}

func (v *verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	switch {
	case err == io.EOF:
		if got := chain.HashOf(v.h); got != v.want {
			v.err = &blobstore.CorruptError{Want: v.want, Got: got, Size: v.n}
		} else if v.n != v.size {
			v.err = fmt.Errorf("%w: %s: server reported %d bytes, sent %d", blobstore.ErrCorrupt, v.want, v.size, v.n)
		} else {
			v.err = io.EOF
		}
		return n, v.err
	case err != nil:
		return n, fmt.Errorf("s3store: reading %s at byte %d: %w", v.want, v.n, err)
	}
	return n, nil
}

func (v *verifier) Close() error { return v.rc.Close() }

// Stat implements blobstore.Statter.
func (s *Store) Stat(ctx context.Context, h chain.Hash) (blobstore.Info, error) {
	if err := ctx.Err(); err != nil {
		return blobstore.Info{}, fmt.Errorf("s3store: stat %s: %w", h, err)
	}
	info, err := s.stat(ctx, h)
	if err != nil {
		return blobstore.Info{}, fmt.Errorf("s3store: stat %s: %w", h, err)
	}
	return info, nil
}

func (s *Store) stat(ctx context.Context, h chain.Hash) (blobstore.Info, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(s.cfg.Bucket),
		Key:    aws.String(s.Key(h)),
	})
	if err != nil {
		return blobstore.Info{}, mapErr(err)
	}
	return blobstore.Info{Hash: h, Size: aws.ToInt64(out.ContentLength)}, nil
}

// Enumerate implements blobstore.Enumerator with ListObjectsV2 from the key
// of after: keys sort like the hashes they name (see doc.go).
func (s *Store) Enumerate(ctx context.Context, after chain.Hash, fn func(blobstore.Info) error) error {
	in := &s3.ListObjectsV2Input{
		Bucket:     aws.String(s.cfg.Bucket),
		Prefix:     aws.String(s.cfg.Prefix + algDir),
		StartAfter: aws.String(s.Key(after)),
	}
	last := after
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("s3store: enumerate: %w", err)
		}
		out, err := s.client.ListObjectsV2(ctx, in)
		if err != nil {
			return fmt.Errorf("s3store: enumerate: %w", mapErr(err))
		}
		for _, o := range out.Contents {
			h, ok := s.parseKey(aws.ToString(o.Key))
			if !ok || bytes.Compare(h[:], last[:]) <= 0 {
				continue // not a blob, or out of order: never visit twice
			}
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("s3store: enumerate: %w", err)
			}
			if err := fn(blobstore.Info{Hash: h, Size: aws.ToInt64(o.Size)}); err != nil {
				return err
			}
			last = h
		}
		if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
			return nil
		}
		in.ContinuationToken = out.NextContinuationToken
	}
}

// Remove implements blobstore.Remover with DeleteObject, which S3 makes
// idempotent.
func (s *Store) Remove(ctx context.Context, h chain.Hash) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3store: remove %s: %w", h, err)
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{
		Bucket: aws.String(s.cfg.Bucket),
		Key:    aws.String(s.Key(h)),
	})
	if err != nil && !errors.Is(mapErr(err), blobstore.ErrNotFound) {
		return fmt.Errorf("s3store: remove %s: %w", h, mapErr(err))
	}
	return nil
}

// Sweep aborts the multipart uploads and deletes the temporary objects of
// this store's prefix that were started before the given time: the
// leftovers of writers that died or lost their connection. It returns how
// many it removed. Run it with a cutoff older than any write in progress
// (an hour, say), or use a bucket lifecycle rule (see doc.go).
func (s *Store) Sweep(ctx context.Context, before time.Time) (int, error) {
	removed := 0
	mu := &s3.ListMultipartUploadsInput{Bucket: aws.String(s.cfg.Bucket), Prefix: aws.String(s.cfg.Prefix)}
	for {
		out, err := s.client.ListMultipartUploads(ctx, mu)
		if err != nil {
			return removed, fmt.Errorf("s3store: sweep: %w", mapErr(err))
		}
		for _, u := range out.Uploads {
			if u.Initiated == nil || !u.Initiated.Before(before) || !s.ownsKey(aws.ToString(u.Key)) {
				continue // in progress, or another application's
			}
			if _, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
				Bucket: aws.String(s.cfg.Bucket), Key: u.Key, UploadId: u.UploadId,
			}); err != nil && !errors.Is(mapErr(err), blobstore.ErrNotFound) {
				return removed, fmt.Errorf("s3store: sweep: %w", mapErr(err))
			}
			removed++
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		mu.KeyMarker, mu.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
	lo := &s3.ListObjectsV2Input{Bucket: aws.String(s.cfg.Bucket), Prefix: aws.String(s.cfg.Prefix + tmpDir)}
	for {
		out, err := s.client.ListObjectsV2(ctx, lo)
		if err != nil {
			return removed, fmt.Errorf("s3store: sweep: %w", mapErr(err))
		}
		for _, o := range out.Contents {
			if o.LastModified == nil || !o.LastModified.Before(before) {
				continue
			}
			if err := s.deleteObject(ctx, aws.ToString(o.Key)); err != nil {
				return removed, fmt.Errorf("s3store: sweep: %w", err)
			}
			removed++
		}
		if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
			return removed, nil
		}
		lo.ContinuationToken = out.NextContinuationToken
	}
}

// mapErr translates S3 errors into blobstore's: a missing key or bucket
// object into ErrNotFound, storage full into ErrNoSpace.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return fmt.Errorf("%w: %w", blobstore.ErrNotFound, err)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound", "NoSuchUpload":
			return fmt.Errorf("%w: %w", blobstore.ErrNotFound, err)
		case "XMinioStorageFull", "StorageFull", "InsufficientStorage", "QuotaExceeded":
			return fmt.Errorf("%w: %w", blobstore.ErrNoSpace, err)
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusInsufficientStorage {
		return fmt.Errorf("%w: %w", blobstore.ErrNoSpace, err)
	}
	return err
}

// isPrecondition reports a refused conditional write: the key exists.
func isPrecondition(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "PreconditionFailed" {
		return true
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusPreconditionFailed
}
