package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
)

// cheap keeps tests fast; DefaultParams is checked once below.
var cheap = Params{Time: 1, Memory: 64, Threads: 1}

func TestAddAuthenticate(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	u := Open(dir, func() time.Time { return now }).WithParams(cheap)
	if err := u.Add("jsmith", "Jo Smith", "photographer", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "users.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("users.json mode %v %v", fi.Mode(), err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "users.json"))
	if strings.Contains(string(b), "correct horse") || !strings.Contains(string(b), "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("stored form:\n%s", b)
	}
	// Who, how and when: the party a custody record names.
	p, err := u.Authenticate("jsmith", "correct horse battery")
	want := chain.Party{Person: chain.Person{ID: "jsmith", Name: "Jo Smith", Role: "photographer"}, AuthMethod: "password", AuthAt: now}
	if err != nil || p != want || p.AuthAt.Location() != time.UTC {
		t.Fatalf("Authenticate = %+v %v, want %+v", p, err, want)
	}
	for _, bad := range [][2]string{{"jsmith", "wrong password!!"}, {"nobody", "correct horse battery"}, {"jsmith", ""}} {
		if p, err := u.Authenticate(bad[0], bad[1]); !errors.Is(err, ErrBadCredentials) || p != (chain.Party{}) {
			t.Errorf("Authenticate(%q, %q) = %v", bad[0], bad[1], err)
		}
	}
	if err := u.Add("jsmith", "Other", "admin", "another long password"); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	for _, c := range []struct{ id, name, role, pw string }{
		{"JSmith", "J", "admin", "long enough password"},
		{"j", "J", "admin", "long enough password"},
		{"ok-id", "J", "wizard", "long enough password"},
		{"ok-id", "J", "admin", "short"},
		{"ok-id", "bad\nname", "admin", "long enough password"},
	} {
		if err := u.Add(c.id, c.name, c.role, c.pw); err == nil {
			t.Errorf("Add(%+v) accepted", c)
		}
	}
}

// The time of authentication is the clock's at the moment of the check, in
// UTC, whatever zone the clock reads in; a disabled account cannot
// authenticate.
func TestAuthenticateTimeAndDisabled(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	u := Open(dir, func() time.Time { return now }).WithParams(cheap)
	if err := u.Add("jsmith", "Jo Smith", "photographer", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(90 * time.Second)
	p, err := u.Authenticate("jsmith", "correct horse battery")
	if err != nil || p.AuthAt != now.UTC() {
		t.Fatalf("authenticated at %v (%v), want %v", p.AuthAt, err, now.UTC())
	}
	b, err := os.ReadFile(filepath.Join(dir, "users.json"))
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), `"created"`, `"disabled": true, "created"`, 1))
	if err := os.WriteFile(filepath.Join(dir, "users.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Authenticate("jsmith", "correct horse battery"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("a disabled account authenticated: %v", err)
	}
}

func TestDefaultParamsAndDummy(t *testing.T) {
	u := Open(t.TempDir(), nil)
	h, err := u.hash("a password of some length")
	if err != nil || !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=4$") {
		t.Fatalf("hash %q %v", h, err)
	}
	if ok, err := u.verify(h, "a password of some length"); !ok || err != nil {
		t.Fatal("default-parameter hash does not verify")
	}
	// The dummy hash must parse, or unknown ids would fail faster.
	if _, err := u.verify(dummy, "x"); err != nil {
		t.Fatalf("dummy hash: %v", err)
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$c2FsdA$dGFn", "$argon2id$v=19$m=64,t=0,p=1$c2FsdA$dGFn", "$argon2id$v=19$m=64,t=1,p=1$!!$dGFn"} {
		if _, err := u.verify(bad, "x"); err == nil {
			t.Errorf("verify(%q) accepted", bad)
		}
	}
}
