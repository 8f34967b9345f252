package chain

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"math"
	"sort"
)

// ErrKeyNotValid reports a signature by a key that was not valid at the
// record's position in the log.
var ErrKeyNotValid = errors.New("key not valid at this point in the log")

// AlgEd25519 names the only signing algorithm records use.
const AlgEd25519 = "ed25519"

// A KeySpan is the stretch of a log in which a device key may sign: from the
// index of the record that enrolled it (or rotated to it) up to and including
// the index of the record that rotated it away or retired it.
type KeySpan struct {
	KeyID  string
	Public ed25519.PublicKey
	From   uint64
	Until  uint64 // math.MaxUint64 while the key is active
	// EndedBy is the kind of record that ended the span, if any.
	EndedBy Kind
}

// Active reports whether the key has not been retired or rotated away.
func (s *KeySpan) Active() bool { return s.Until == math.MaxUint64 }

// A Keyring follows the key records of one log, in log order, and answers
// which key may sign at which index. Keys are never forgotten: a record
// signed by a key before it was retired still verifies afterwards.
type Keyring struct {
	spans map[string]*KeySpan
}

// NewKeyring returns an empty Keyring.
func NewKeyring() *Keyring { return &Keyring{spans: map[string]*KeySpan{}} }

// Public returns the public key with the given id, whatever its state.
func (k *Keyring) Public(keyID string) (ed25519.PublicKey, bool) {
	s, ok := k.spans[keyID]
	if !ok {
		return nil, false
	}
	return s.Public, true
}

// Span returns the span of keyID.
func (k *Keyring) Span(keyID string) (KeySpan, bool) {
	s, ok := k.spans[keyID]
	if !ok {
		return KeySpan{}, false
	}
	return *s, true
}

// Spans returns every key's span, ordered by From.
func (k *Keyring) Spans() []KeySpan {
	out := make([]KeySpan, 0, len(k.spans))
	for _, s := range k.spans {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].From < out[j].From })
	return out
}

// ValidAt reports an error unless keyID may sign the record at log index i.
func (k *Keyring) ValidAt(keyID string, i uint64) error {
	s, ok := k.spans[keyID]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownKey, short(keyID))
	}
	if i < s.From {
		return fmt.Errorf("%w: key %s signs from log index %d, record is at %d", ErrKeyNotValid, short(keyID), s.From, i)
	}
	if i > s.Until {
		return fmt.Errorf("%w: key %s was %s at log index %d, record is at %d", ErrKeyNotValid, short(keyID), s.EndedBy, s.Until, i)
	}
	return nil
}

// Apply takes the key record r found at log index i: it checks the record is
// a well-formed key event signed as the rules require and updates the spans.
// Rules (docs/records.md): the first enrolment is self-signed; a later
// enrolment is signed by the new key and an active key; a rotation is signed
// by the old key then the successor; a retirement by an active key.
func (k *Keyring) Apply(i uint64, r *Record) error {
	if !r.Kind.IsKey() {
		return nil
	}
	ev := r.Statement.Predicate.Key
	if err := checkKeyEvent(ev); err != nil {
		return fmt.Errorf("%s record at log index %d: %w", r.Kind, i, err)
	}
	signed := map[string]bool{}
	for _, s := range r.Signatures {
		signed[s.KeyID] = true
	}
	verifyWith := func(extra map[string]ed25519.PublicKey) error {
		_, err := r.VerifySignatures(func(id string) (ed25519.PublicKey, bool) {
			if p, ok := extra[id]; ok {
				return p, true
			}
			if err := k.ValidAt(id, i); err != nil {
				return nil, false
			}
			return k.Public(id)
		})
		return err
	}
	switch r.Kind {
	case KindKeyEnrolled:
		if _, dup := k.spans[ev.KeyID]; dup {
			return fmt.Errorf("key-enrolled at log index %d: key %s is already known", i, short(ev.KeyID))
		}
		if !signed[ev.KeyID] {
			return fmt.Errorf("key-enrolled at log index %d: not signed by the key it enrols", i)
		}
		if len(k.spans) > 0 && len(r.Signatures) < 2 {
			return fmt.Errorf("key-enrolled at log index %d: a further key must also be signed by an active key", i)
		}
		if err := verifyWith(map[string]ed25519.PublicKey{ev.KeyID: ev.PublicKey}); err != nil {
			return fmt.Errorf("key-enrolled at log index %d: %w", i, err)
		}
		k.spans[ev.KeyID] = &KeySpan{KeyID: ev.KeyID, Public: ev.PublicKey, From: i, Until: math.MaxUint64}
	case KindKeyRotated:
		old, ok := k.spans[ev.KeyID]
		if !ok || !old.Active() {
			return fmt.Errorf("key-rotated at log index %d: key %s is not an active key", i, short(ev.KeyID))
		}
		next := ev.Successor
		if next == nil {
			return fmt.Errorf("key-rotated at log index %d: no successor", i)
		}
		if err := checkKeyEvent(next); err != nil {
			return fmt.Errorf("key-rotated at log index %d: successor: %w", i, err)
		}
		if _, dup := k.spans[next.KeyID]; dup {
			return fmt.Errorf("key-rotated at log index %d: successor %s is already known", i, short(next.KeyID))
		}
		if len(r.Signatures) != 2 || r.Signatures[0].KeyID != old.KeyID || r.Signatures[1].KeyID != next.KeyID {
			return fmt.Errorf("key-rotated at log index %d: must be signed by the old key then its successor", i)
		}
		if err := verifyWith(map[string]ed25519.PublicKey{next.KeyID: next.PublicKey}); err != nil {
			return fmt.Errorf("key-rotated at log index %d: %w", i, err)
		}
		old.Until, old.EndedBy = i, KindKeyRotated
		k.spans[next.KeyID] = &KeySpan{KeyID: next.KeyID, Public: next.PublicKey, From: i, Until: math.MaxUint64}
	case KindKeyRetired:
		s, ok := k.spans[ev.KeyID]
		if !ok || !s.Active() {
			return fmt.Errorf("key-retired at log index %d: key %s is not an active key", i, short(ev.KeyID))
		}
		if err := verifyWith(nil); err != nil {
			return fmt.Errorf("key-retired at log index %d: %w", i, err)
		}
		s.Until, s.EndedBy = i, KindKeyRetired
	}
	return nil
}

// checkKeyEvent checks that a key event's id matches its public key.
func checkKeyEvent(ev *KeyEvent) error {
	if ev.Algorithm != AlgEd25519 {
		return fmt.Errorf("algorithm %q, want %q", clip(ev.Algorithm), AlgEd25519)
	}
	if len(ev.PublicKey) != ed25519.PublicKeySize {
		return fmt.Errorf("public key is %d bytes, want %d", len(ev.PublicKey), ed25519.PublicKeySize)
	}
	if KeyID(ev.PublicKey) != ev.KeyID {
		return fmt.Errorf("keyid %s does not match its public key", short(ev.KeyID))
	}
	return nil
}

// KeyEventFor describes pub as a KeyEvent.
func KeyEventFor(pub ed25519.PublicKey) *KeyEvent {
	return &KeyEvent{KeyID: KeyID(pub), Algorithm: AlgEd25519, PublicKey: pub}
}
