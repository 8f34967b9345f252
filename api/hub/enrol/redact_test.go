package enrol

import (
	"net/url"
	"testing"
)

var redactCases = []struct{ in, want string }{
	{"postgres://hub:s3cret@db.example:5432/exhibit?sslmode=verify-full", "postgres://hub@db.example:5432/exhibit?sslmode=verify-full"},
	{"postgresql://hub@db/exhibit?password=s3cret&sslpassword=k3y&application_name=hub", "postgresql://hub@db/exhibit?application_name=hub"},
	{"postgres://127.0.0.1/exhibit", "postgres://127.0.0.1/exhibit"},
	{"postgres://:s3cret@db/x", "postgres://@db/x"},
	{"host=db password=s3cret", "(a database address that is not a URL; not shown)"},
	{"postgres://hub:s3cret@db:bad port/x", "(a database address that is not a URL; not shown)"},
}

// RedactDB keeps everything but the password.
func TestRedactDB(t *testing.T) {
	for _, tc := range redactCases {
		if got := RedactDB(tc.in); got != tc.want {
			t.Errorf("RedactDB(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzRedactDB: whatever the input, the output is the placeholder or a URL
// with no password, in the user part or as a parameter; and redacting it
// again changes nothing.
func FuzzRedactDB(f *testing.F) {
	for _, tc := range redactCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out := RedactDB(raw)
		u, err := url.Parse(out)
		if err != nil || u.Scheme == "" {
			if out != RedactDB("") {
				t.Fatalf("RedactDB(%q) = %q: neither a URL nor the placeholder", raw, out)
			}
			return
		}
		if _, set := u.User.Password(); set {
			t.Fatalf("RedactDB(%q) = %q: a password in the user part", raw, out)
		}
		q := u.Query()
		if q.Has("password") || q.Has("sslpassword") {
			t.Fatalf("RedactDB(%q) = %q: a password parameter", raw, out)
		}
		if again := RedactDB(out); again != out {
			t.Fatalf("RedactDB(%q) = %q, then %q", raw, out, again)
		}
	})
}
