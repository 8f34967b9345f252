package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"
)

// ErrNoSession is returned by a Store that holds no session under a key.
var ErrNoSession = errors.New("web: no such session")

// A User is who a session belongs to: the account's id, full name and role
// (one of auth.Roles), and when the password was checked.
type User struct {
	ID     string
	Name   string
	Role   string
	AuthAt time.Time
}

// A Session is what the server keeps about one signed-in browser. The
// browser holds only a random token; the server keeps its SHA-256 (Key), so
// that a leaked store does not hand out live cookies.
type Session struct {
	// Key is the hex SHA-256 of the token in the cookie.
	Key  string
	User User
	// CSRF is the token every state-changing request must carry.
	CSRF string
	// Created is when the user signed in; the session ends Lifetime later
	// whatever happens. LastSeen is the last request; the session ends
	// IdleTimeout after it.
	Created  time.Time
	LastSeen time.Time
	// State is small UI state (for the kiosk: the case and capture the
	// photographer was on), so that a reload resumes where it was. At most
	// MaxStateKeys keys of MaxStateLen bytes each.
	State map[string]string
}

// Limits on Session.State: it is for "where was I", not for data.
const (
	MaxStateKeys = 16
	MaxStateLen  = 256
)

// A Store keeps sessions by Key. Implementations MUST be safe for
// concurrent use, MUST return copies (a caller changing a returned
// Session's State changes nothing stored until Put), and MUST return an
// error wrapping ErrNoSession for a key they do not hold. The in-memory
// store serves one agent; a hub with several replicas needs a shared one
// (a database table with the same five operations).
type Store interface {
	// Put creates or replaces the session s.Key.
	Put(ctx context.Context, s Session) error
	Get(ctx context.Context, key string) (Session, error)
	// Update changes the session key in place: fn sees the stored session
	// and its changes are kept if it returns nil, all in one step, so that
	// two requests of one browser do not undo each other's changes.
	Update(ctx context.Context, key string, fn func(*Session) error) (Session, error)
	// Delete removes a session; deleting one that is not there is not an
	// error.
	Delete(ctx context.Context, key string) error
	// Prune deletes every session last seen before idleBefore or created
	// before createdBefore, and says how many it deleted.
	Prune(ctx context.Context, idleBefore, createdBefore time.Time) (int, error)
}

// MemoryStore is a Store in this process's memory: sessions end when it
// does.
type MemoryStore struct {
	mu sync.Mutex
	m  map[string]Session
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore { return &MemoryStore{m: map[string]Session{}} }

func clone(s Session) Session {
	s.State = maps.Clone(s.State)
	return s
}

// Put stores a copy of s.
func (m *MemoryStore) Put(_ context.Context, s Session) error {
	if s.Key == "" {
		return errors.New("web: session without a key")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[s.Key] = clone(s)
	return nil
}

// Get returns a copy of the session key.
func (m *MemoryStore) Get(_ context.Context, key string) (Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.m[key]
	if !ok {
		return Session{}, ErrNoSession
	}
	return clone(s), nil
}

// Update changes the session key under the store's lock.
func (m *MemoryStore) Update(_ context.Context, key string, fn func(*Session) error) (Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.m[key]
	if !ok {
		return Session{}, ErrNoSession
	}
	s = clone(s)
	if err := fn(&s); err != nil {
		return Session{}, err
	}
	s.Key = key
	m.m[key] = clone(s)
	return s, nil
}

// Delete removes the session key.
func (m *MemoryStore) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, key)
	return nil
}

// Prune removes expired sessions.
func (m *MemoryStore) Prune(_ context.Context, idleBefore, createdBefore time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, s := range m.m {
		if s.LastSeen.Before(idleBefore) || s.Created.Before(createdBefore) {
			delete(m.m, k)
			n++
		}
	}
	return n, nil
}

// Len says how many sessions are held (for tests and status pages).
func (m *MemoryStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.m)
}

// newToken returns 256 random bits, URL-safe base64 without padding.
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("web: random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// keyOf is the store key of a cookie token.
func keyOf(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}
