package s3store

import (
	"errors"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

var urlCases = []struct {
	raw  string
	want Config // zero: an error containing errSub
	err  string
}{
	{raw: "s3://evidence?endpoint=http://127.0.0.1:7070", want: Config{Bucket: "evidence", Endpoint: "http://127.0.0.1:7070", Region: "us-east-1", PathStyle: true, CredentialsEnv: "AWS", PartSize: DefaultPartSize}},
	{raw: "s3://evidence?endpoint=http%3A%2F%2F127.0.0.1%3A7070%2F&region=eu-west-2", want: Config{Bucket: "evidence", Endpoint: "http://127.0.0.1:7070", Region: "eu-west-2", PathStyle: true, CredentialsEnv: "AWS", PartSize: DefaultPartSize}},
	{raw: "s3://force.blobs/cases/2026/?endpoint=https://s3.example.org&path_style=true&credentials_env=EXHIBIT_S3&part_size=16777216", want: Config{Bucket: "force.blobs", Prefix: "cases/2026/", Endpoint: "https://s3.example.org", Region: "us-east-1", PathStyle: true, CredentialsEnv: "EXHIBIT_S3", PartSize: 16 << 20}},
	{raw: "s3://my-bucket", want: Config{Bucket: "my-bucket", Region: "us-east-1", CredentialsEnv: "AWS", PartSize: DefaultPartSize}},
	{raw: "s3://my-bucket/", want: Config{Bucket: "my-bucket", Region: "us-east-1", CredentialsEnv: "AWS", PartSize: DefaultPartSize}},
	{raw: "s3://my-bucket?endpoint=http://[::1]:9000&path_style=false", want: Config{Bucket: "my-bucket", Endpoint: "http://[::1]:9000", Region: "us-east-1", CredentialsEnv: "AWS", PartSize: DefaultPartSize}},

	{raw: "", err: "scheme must be s3"},
	{raw: "http://bucket", err: "scheme must be s3"},
	{raw: "s3:bucket", err: "not s3:BUCKET"},
	{raw: "s3://AKIA:secret@bucket", err: "credentials do not belong in the URL"},
	{raw: "s3://bucket:9000", err: "takes no port"},
	{raw: "s3://bucket#frag", err: "fragment"},
	{raw: "s3://", err: "no bucket"},
	{raw: "s3://ab", err: "3 to 63"},
	{raw: "s3://Bucket", err: "lower-case"},
	{raw: "s3://-bucket", err: "begin and end"},
	{raw: "s3://a..b", err: "two dots"},
	{raw: "s3://192.168.1.1", err: "IP address"},
	{raw: "s3://bucket//x", err: "empty segment"},
	{raw: "s3://bucket/a/../b", err: "not allowed"},
	{raw: "s3://bucket/a%20b", err: "only letters"},
	{raw: "s3://bucket/a%2Fb", err: "escaped"},
	{raw: "s3://bucket/a b", err: "only letters"},
	{raw: "s3://bucket?endpoint=ftp://x", err: "want http"},
	{raw: "s3://bucket?endpoint=http://", err: "no host"},
	{raw: "s3://bucket?endpoint=http://u:p@h", err: "no user"},
	{raw: "s3://bucket?endpoint=http://h/path", err: "host[:port] only"},
	{raw: "s3://bucket?endpoint=http://h:99999", err: "bad port"},
	{raw: "s3://bucket?endpoint=http://h:", err: "empty port"},
	{raw: "s3://bucket?endpoint=http://a&endpoint=http://b", err: "given 2 times"},
	{raw: "s3://bucket?region=", err: "is empty"},
	{raw: "s3://bucket?region=EU", err: "region"},
	{raw: "s3://bucket?path_style=yes&endpoint=http://h", err: "true or false"},
	{raw: "s3://bucket?path_style=1&endpoint=http://h", err: "true or false"},
	{raw: "s3://bucket?path_style=true", err: "needs an endpoint"},
	{raw: "s3://a.b?endpoint=https://h&path_style=false", err: "virtual-hosted"},
	{raw: "s3://bucket?credentials_env=aws", err: "credentials_env"},
	{raw: "s3://bucket?credentials_env=_X", err: "credentials_env"},
	{raw: "s3://bucket?part_size=1024", err: "part_size"},
	{raw: "s3://bucket?part_size=08388608", err: "part_size"},
	{raw: "s3://bucket?secret_key=x", err: "unknown option"},
	{raw: "s3://bucket?a=%zz", err: "query"},
	{raw: "s3://bucket?a=1;b=2", err: "query"},
}

func TestParseURL(t *testing.T) {
	for _, tc := range urlCases {
		got, err := ParseURL(tc.raw)
		if tc.err != "" {
			if !errors.Is(err, ErrBadURL) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseURL(%q) = %+v, %v; want an ErrBadURL containing %q", tc.raw, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseURL(%q) =\n %+v, %v\nwant %+v", tc.raw, got, err, tc.want)
			continue
		}
		if again, err := ParseURL(got.String()); err != nil || again != got {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", got.String(), again, err, got)
		}
	}
}

// TestParseURLHidesPassword checks that an error never repeats a secret
// someone put in the URL.
func TestParseURLHidesPassword(t *testing.T) {
	_, err := ParseURL("s3://AKIAEXAMPLE:wJalrXUtnFEMI@bucket")
	if err == nil || strings.Contains(err.Error(), "wJalrXUtnFEMI") {
		t.Fatalf("error %v shows the secret", err)
	}
}

func TestCredentials(t *testing.T) {
	env := map[string]string{"EXHIBIT_S3_ACCESS_KEY_ID": "id", "EXHIBIT_S3_SECRET_ACCESS_KEY": "secret", "EXHIBIT_S3_SESSION_TOKEN": "tok"}
	c := Config{CredentialsEnv: "EXHIBIT_S3"}
	id, secret, token, err := c.credentials(func(k string) string { return env[k] })
	if err != nil || id != "id" || secret != "secret" || token != "tok" {
		t.Fatalf("credentials = %q %q %q %v", id, secret, token, err)
	}
	delete(env, "EXHIBIT_S3_SECRET_ACCESS_KEY")
	if _, _, _, err := c.credentials(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "EXHIBIT_S3_SECRET_ACCESS_KEY") {
		t.Fatalf("missing secret: %v, want an error naming the variable", err)
	}
}

// FuzzParseURL checks that ParseURL never panics, that every error matches
// ErrBadURL, and that every accepted URL round-trips through String.
func FuzzParseURL(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := ParseURL(raw)
		if err != nil {
			if !errors.Is(err, ErrBadURL) {
				t.Fatalf("ParseURL(%q) error %v does not match ErrBadURL", raw, err)
			}
			return
		}
		again, err := ParseURL(c.String())
		if err != nil || again != c {
			t.Fatalf("ParseURL(%q) = %+v; its String %q parses to %+v, %v", raw, c, c.String(), again, err)
		}
		if c.Prefix != "" && !strings.HasSuffix(c.Prefix, "/") {
			t.Fatalf("prefix %q does not end in /", c.Prefix)
		}
	})
}

// TestWriteCorpus keeps the committed seed corpus of FuzzParseURL equal to
// urlCases (internal/fuzzseed); -write-corpus rewrites it:
//
//	go test ./chain/blobstore/s3store -run TestWriteCorpus -write-corpus
func TestWriteCorpus(t *testing.T) {
	var seeds [][]any
	for _, tc := range urlCases {
		seeds = append(seeds, []any{tc.raw})
	}
	fuzzseed.Write(t, "FuzzParseURL", seeds)
}
