package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	x, at, err := u.Authenticate("jsmith", "correct horse battery")
	if err != nil || x.Name != "Jo Smith" || !at.Equal(now) {
		t.Fatalf("Authenticate = %+v %v %v", x, at, err)
	}
	for _, bad := range [][2]string{{"jsmith", "wrong password!!"}, {"nobody", "correct horse battery"}, {"jsmith", ""}} {
		if _, _, err := u.Authenticate(bad[0], bad[1]); !errors.Is(err, ErrBadCredentials) {
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
