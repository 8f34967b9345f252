package s3store

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// ErrBadURL is matched (errors.Is) by every error of ParseURL.
var ErrBadURL = errors.New("s3store: bad store URL")

// Defaults of the URL options.
const (
	DefaultRegion         = "us-east-1"
	DefaultCredentialsEnv = "AWS"
	DefaultPartSize       = 8 << 20

	// MinPartSize and MaxPartSize bound part_size: S3 refuses parts other
	// than the last below 5 MiB, and any part above 5 GiB.
	MinPartSize = 5 << 20
	MaxPartSize = 5 << 30
)

// Config is a parsed store URL. The zero values of Endpoint and PathStyle
// mean AWS S3 itself with virtual-hosted addressing.
type Config struct {
	Bucket         string // S3 bucket name
	Prefix         string // key prefix inside the bucket: "" or ending in "/"
	Endpoint       string // "http[s]://host[:port]", or "" for AWS
	Region         string // signing region
	PathStyle      bool   // path-style requests (bucket in the path, not the host name)
	CredentialsEnv string // environment variable prefix of the credentials
	PartSize       int64  // multipart part size in bytes (the first part; see doc.go)
}

// ParseURL parses a store URL of the form
//
//	s3://BUCKET[/PREFIX][?OPTION=VALUE&...]
//
// strictly: unknown, repeated or empty options, a user or password, a
// port, a fragment and malformed values are errors matching ErrBadURL. See
// the package doc for the options.
func ParseURL(raw string) (Config, error) {
	bad := func(format string, a ...any) (Config, error) {
		return Config{}, fmt.Errorf("%w %q: %s", ErrBadURL, redact(raw), fmt.Sprintf(format, a...))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("%v", errors.Unwrap(err))
	}
	if u.Scheme != "s3" {
		return bad("scheme must be s3://")
	}
	if u.Opaque != "" {
		return bad("want s3://BUCKET, not s3:BUCKET")
	}
	if u.User != nil {
		return bad("credentials do not belong in the URL (it ends up in logs and process lists): set %s_ACCESS_KEY_ID and %s_SECRET_ACCESS_KEY, or name another prefix with credentials_env", DefaultCredentialsEnv, DefaultCredentialsEnv)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return bad("a fragment (#...) is not allowed")
	}
	if u.Port() != "" || strings.HasSuffix(u.Host, ":") {
		return bad("the bucket takes no port: give the server as ?endpoint=http://HOST:PORT")
	}
	c := Config{
		Bucket:         u.Host,
		Region:         DefaultRegion,
		CredentialsEnv: DefaultCredentialsEnv,
		PartSize:       DefaultPartSize,
	}
	if err := checkBucket(c.Bucket); err != nil {
		return bad("%v", err)
	}
	if p := strings.TrimPrefix(u.Path, "/"); p != "" {
		p = strings.TrimSuffix(p, "/")
		for _, seg := range strings.Split(p, "/") {
			if err := checkSegment(seg); err != nil {
				return bad("prefix: %v", err)
			}
		}
		c.Prefix = p + "/"
	}
	if u.RawPath != "" {
		return bad("the prefix must not contain escaped characters")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad("query: %v", err)
	}
	pathStyleSet := false
	for k, vs := range q {
		if len(vs) != 1 {
			return bad("option %s given %d times", k, len(vs))
		}
		v := vs[0]
		if v == "" {
			return bad("option %s is empty", k)
		}
		switch k {
		case "endpoint":
			if c.Endpoint, err = checkEndpoint(v); err != nil {
				return bad("endpoint: %v", err)
			}
		case "region":
			if !isToken(v, "abcdefghijklmnopqrstuvwxyz0123456789-") || len(v) > 64 {
				return bad("region %q: want lower-case letters, digits and hyphens", v)
			}
			c.Region = v
		case "path_style":
			b, err := strconv.ParseBool(v)
			if err != nil || (v != "true" && v != "false") {
				return bad("path_style %q: want true or false", v)
			}
			c.PathStyle, pathStyleSet = b, true
		case "credentials_env":
			if !isToken(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") || v[0] < 'A' || v[0] > 'Z' || len(v) > 64 {
				return bad("credentials_env %q: want an upper-case environment variable prefix such as AWS", v)
			}
			c.CredentialsEnv = v
		case "part_size":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || strconv.FormatInt(n, 10) != v || n < MinPartSize || n > MaxPartSize {
				return bad("part_size %q: want a decimal number of bytes from %d to %d", v, MinPartSize, MaxPartSize)
			}
			c.PartSize = n
		default:
			return bad("unknown option %q (known: endpoint, region, path_style, credentials_env, part_size)", k)
		}
	}
	if !pathStyleSet {
		c.PathStyle = c.Endpoint != ""
	}
	if c.PathStyle && c.Endpoint == "" {
		return bad("path_style=true needs an endpoint: AWS S3 is addressed virtual-hosted style")
	}
	if !c.PathStyle && strings.Contains(c.Bucket, ".") && strings.HasPrefix(c.Endpoint, "https:") {
		return bad("a bucket name with dots cannot be addressed virtual-hosted style over TLS: add path_style=true")
	}
	return c, nil
}

// String returns the URL c was parsed from in canonical form: options in a
// fixed order, defaults left out. ParseURL(c.String()) == c.
func (c Config) String() string {
	var q []string
	if c.Endpoint != "" {
		q = append(q, "endpoint="+url.QueryEscape(c.Endpoint))
	}
	if c.Region != DefaultRegion {
		q = append(q, "region="+c.Region)
	}
	if c.PathStyle != (c.Endpoint != "") {
		q = append(q, "path_style="+strconv.FormatBool(c.PathStyle))
	}
	if c.CredentialsEnv != DefaultCredentialsEnv {
		q = append(q, "credentials_env="+c.CredentialsEnv)
	}
	if c.PartSize != DefaultPartSize {
		q = append(q, "part_size="+strconv.FormatInt(c.PartSize, 10))
	}
	s := "s3://" + c.Bucket
	if c.Prefix != "" {
		s += "/" + c.Prefix
	}
	if len(q) > 0 {
		s += "?" + strings.Join(q, "&")
	}
	return s
}

// credentials reads the access key, secret and optional session token from
// the environment variables PREFIX_ACCESS_KEY_ID, PREFIX_SECRET_ACCESS_KEY
// and PREFIX_SESSION_TOKEN, where PREFIX is c.CredentialsEnv.
func (c Config) credentials(getenv func(string) string) (id, secret, token string, err error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	p := c.CredentialsEnv
	id, secret, token = getenv(p+"_ACCESS_KEY_ID"), getenv(p+"_SECRET_ACCESS_KEY"), getenv(p+"_SESSION_TOKEN")
	if id == "" || secret == "" {
		return "", "", "", fmt.Errorf("s3store: no credentials: set %s_ACCESS_KEY_ID and %s_SECRET_ACCESS_KEY (and %s_SESSION_TOKEN for temporary credentials)", p, p, p)
	}
	return id, secret, token, nil
}

// checkBucket applies the S3 bucket naming rules.
func checkBucket(b string) error {
	switch {
	case b == "":
		return errors.New("no bucket: want s3://BUCKET")
	case len(b) < 3 || len(b) > 63:
		return fmt.Errorf("bucket %q: must be 3 to 63 characters", b)
	case !isToken(b, "abcdefghijklmnopqrstuvwxyz0123456789.-"):
		return fmt.Errorf("bucket %q: only lower-case letters, digits, dots and hyphens", b)
	case !isAlnum(b[0]) || !isAlnum(b[len(b)-1]):
		return fmt.Errorf("bucket %q: must begin and end with a letter or digit", b)
	case strings.Contains(b, ".."):
		return fmt.Errorf("bucket %q: two dots in a row", b)
	case net.ParseIP(b) != nil:
		return fmt.Errorf("bucket %q: looks like an IP address", b)
	}
	return nil
}

// checkSegment accepts one segment of a key prefix: characters S3 treats
// as safe in keys, no "." or "..".
func checkSegment(s string) error {
	switch {
	case s == "":
		return errors.New("empty segment (// or a leading /)")
	case s == "." || s == "..":
		return fmt.Errorf("segment %q not allowed", s)
	case len(s) > 100:
		return fmt.Errorf("segment longer than 100 characters")
	case !isToken(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_"):
		return fmt.Errorf("segment %q: only letters, digits, '.', '-' and '_'", s)
	}
	return nil
}

// checkEndpoint accepts http[s]://HOST[:PORT] with an optional trailing
// slash and returns it without the slash.
func checkEndpoint(v string) (string, error) {
	e, err := url.Parse(v)
	if err != nil {
		return "", errors.Unwrap(err)
	}
	switch {
	case e.Scheme != "http" && e.Scheme != "https":
		return "", fmt.Errorf("%q: want http:// or https://", v)
	case e.Host == "" || e.Hostname() == "":
		return "", fmt.Errorf("%q: no host", v)
	case e.User != nil:
		return "", fmt.Errorf("%q: no user or password in the endpoint", v)
	case e.Path != "" && e.Path != "/", e.RawQuery != "", e.ForceQuery, e.Fragment != "", e.Opaque != "":
		return "", fmt.Errorf("%q: want scheme://host[:port] only", v)
	}
	if p := e.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != p {
			return "", fmt.Errorf("%q: bad port", v)
		}
	} else if strings.HasSuffix(e.Host, ":") {
		return "", fmt.Errorf("%q: empty port", v)
	}
	if !isToken(e.Host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") {
		return "", fmt.Errorf("%q: bad host", v)
	}
	return e.Scheme + "://" + e.Host, nil
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func isToken(s, allowed string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(allowed, s[i]) < 0 {
			return false
		}
	}
	return true
}

// redact hides a password should someone put one in the URL.
func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		return u.Redacted()
	} else if err != nil && strings.Contains(raw, "@") {
		return "(URL not shown: it contains '@' and may hold a secret)"
	}
	if len(raw) > 200 {
		return raw[:200] + "…"
	}
	return raw
}
