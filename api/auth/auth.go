// Package auth keeps the user accounts of a data directory and checks
// passwords. Passwords are hashed with argon2id (RFC 9106, its second
// recommended parameter set: 3 passes, 64 MiB, 4 lanes, 16-byte salt,
// 32-byte tag) and stored in the PHC string format:
//
//	$argon2id$v=19$m=65536,t=3,p=4$<salt, base64 without padding>$<tag, same>
//
// Accounts live in DIR/users.json (mode 0600), rewritten atomically
// (internal/atomicfile: temp file, fsync, rename, fsync of the directory). They are configuration, not
// evidence: what a person did is in the signed records, which name them and
// say how and when they authenticated.
//
// A failed check takes as long as a successful one (the hash is computed
// against a dummy account when the id is unknown), so timing does not tell
// whether an account exists.
package auth

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/internal/atomicfile"
)

// Errors.
var (
	ErrBadCredentials = errors.New("unknown user or wrong password")
	ErrExists         = errors.New("user already exists")
	ErrWeakPassword   = errors.New("password too weak")
	ErrBadID          = errors.New("invalid user id")
)

// Roles (DESIGN.md, "API and UI").
var Roles = []string{"photographer", "lab-technician", "lab-authoriser", "case-officer", "supervisor", "auditor", "admin"}

// A User is an account.
type User struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Role     string    `json:"role"`
	Hash     string    `json:"hash"` // PHC argon2id string
	Created  time.Time `json:"created"`
	Disabled bool      `json:"disabled,omitempty"`
}

// Params are argon2id parameters.
type Params struct {
	Time    uint32
	Memory  uint32 // KiB
	Threads uint8
}

// DefaultParams is RFC 9106's second recommended option.
var DefaultParams = Params{Time: 3, Memory: 64 * 1024, Threads: 4}

// MinPasswordLen is the shortest password accepted.
const MinPasswordLen = 12

// Users is the account file of one data directory.
type Users struct {
	path   string
	params Params
	now    func() time.Time
	mu     sync.Mutex
}

// Open returns the accounts of data directory dir. now may be nil.
func Open(dir string, now func() time.Time) *Users {
	if now == nil {
		now = time.Now
	}
	return &Users{path: filepath.Join(dir, "users.json"), params: DefaultParams, now: now}
}

// WithParams returns a copy using p (tests use cheap parameters).
func (u *Users) WithParams(p Params) *Users {
	return &Users{path: u.path, params: p, now: u.now}
}

func (u *Users) load() (map[string]User, error) {
	b, err := os.ReadFile(u.path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]User{}, nil
	}
	if err != nil {
		return nil, err
	}
	var list []User
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&list); err != nil {
		return nil, fmt.Errorf("auth: %s: %w", u.path, err)
	}
	m := make(map[string]User, len(list))
	for _, x := range list {
		m[x.ID] = x
	}
	return m, nil
}

func (u *Users) save(m map[string]User) error {
	list := make([]User, 0, len(m))
	for _, x := range m {
		list = append(list, x)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(u.path, 0o600, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}

// ValidID reports an error unless id is 2–32 lowercase letters, digits,
// '.', '-' or '_', starting with a letter.
func ValidID(id string) error {
	if len(id) < 2 || len(id) > 32 || id[0] < 'a' || id[0] > 'z' {
		return fmt.Errorf("%w: %q: use 2 to 32 lowercase letters, digits, '.', '-' or '_', starting with a letter", ErrBadID, id)
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fmt.Errorf("%w: %q: use lowercase letters, digits, '.', '-' or '_'", ErrBadID, id)
		}
	}
	return nil
}

// Add creates an account.
func (u *Users) Add(id, name, role, password string) error {
	if err := ValidID(id); err != nil {
		return err
	}
	name = strings.TrimSpace(name)
	if name == "" || !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl) {
		return fmt.Errorf("auth: a printable full name is required")
	}
	known := false
	for _, r := range Roles {
		known = known || r == role
	}
	if !known {
		return fmt.Errorf("auth: unknown role %q (one of %s)", role, strings.Join(Roles, ", "))
	}
	if utf8.RuneCountInString(password) < MinPasswordLen {
		return fmt.Errorf("%w: at least %d characters", ErrWeakPassword, MinPasswordLen)
	}
	hash, err := u.hash(password)
	if err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	m, err := u.load()
	if err != nil {
		return err
	}
	if _, ok := m[id]; ok {
		return fmt.Errorf("%w: %s", ErrExists, id)
	}
	m[id] = User{ID: id, Name: name, Role: role, Hash: hash, Created: u.now().UTC()}
	return u.save(m)
}

// Get returns an account.
func (u *Users) Get(id string) (User, bool, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	m, err := u.load()
	if err != nil {
		return User{}, false, err
	}
	x, ok := m[id]
	return x, ok, nil
}

// dummy is hashed against when the id is unknown, so that failures take
// the same time.
var dummy = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0c2FsdA$8JLqGx0MGQ3HYW2WcHcWPVP0uvDGdQGvoJRJ0sGxDGo"

// MethodPassword is how Authenticate proves who a person is (a Party's
// AuthMethod).
const MethodPassword = "password"

// Authenticate checks the password of account id now and returns who
// that is, how (MethodPassword) and when (from the clock Open was given,
// UTC), as a custody record names a party to a handover. An unknown id, a
// disabled account and a wrong password all give ErrBadCredentials, in the
// same time.
func (u *Users) Authenticate(id, password string) (chain.Party, error) {
	x, ok, err := u.Get(id)
	if err != nil {
		return chain.Party{}, err
	}
	hash := dummy
	if ok {
		hash = x.Hash
	}
	match, verr := u.verify(hash, password)
	if !ok || x.Disabled || verr != nil || !match {
		return chain.Party{}, ErrBadCredentials
	}
	return chain.Party{Person: chain.Person{ID: x.ID, Name: x.Name, Role: x.Role}, AuthMethod: MethodPassword, AuthAt: u.now().UTC()}, nil
}

func (u *Users) hash(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	p := u.params
	tag := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, 32)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads, enc.EncodeToString(salt), enc.EncodeToString(tag)), nil
}

// verify checks password against a PHC argon2id string, using the
// parameters the string records.
func (u *Users) verify(phc, password string) (bool, error) {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false, errors.New("auth: not an argon2id hash")
	}
	var p Params
	var threads uint32
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &threads); err != nil || threads == 0 || threads > 255 || p.Time == 0 || p.Memory > 4<<20 {
		return false, errors.New("auth: bad argon2id parameters")
	}
	p.Threads = uint8(threads)
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[4])
	tag, err2 := enc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(tag) == 0 {
		return false, errors.New("auth: bad argon2id encoding")
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(tag)))
	return subtle.ConstantTimeCompare(got, tag) == 1, nil
}
