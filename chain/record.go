package chain

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// The envelope and statement constants. See docs/records.md.
const (
	// PayloadType is the DSSE payload type of every record.
	PayloadType = "application/vnd.in-toto+json"
	// StatementType is the in-toto Statement version records carry.
	StatementType = "https://in-toto.io/Statement/v1"
	// PredicatePrefix starts every predicate type; the record kind and
	// "/v1" follow it.
	PredicatePrefix = "https://exhibit-forensics.github.io/exhibit/record/"
	// MaxRecordSize bounds an envelope's size: Sign refuses to make a larger
	// record and DecodeRecord refuses to read one, so that nothing is signed
	// that a reader cannot read back. Records carry metadata, never evidence
	// bytes: long values go into blobs the record names by digest.
	MaxRecordSize = 1 << 20
)

// Errors returned when decoding or checking records.
var (
	ErrMalformedRecord = errors.New("malformed record")
	// ErrRecordTooLarge is wrapped by Sign and DecodeRecord for an envelope
	// over MaxRecordSize (by DecodeRecord together with ErrMalformedRecord).
	ErrRecordTooLarge = errors.New("record too large")
	ErrBadSignature   = errors.New("bad signature")
	ErrUnknownKey     = errors.New("unknown signing key")
)

// A Kind names what a record says happened. Each kind has its own predicate
// type: PredicatePrefix + kind + "/v1".
type Kind string

// The record kinds.
const (
	KindReceived    Kind = "received"    // an item entered evidence (imported file, received kit)
	KindCaptured    Kind = "captured"    // a device produced an original (image, result)
	KindDerived     Kind = "derived"     // a derivative made from an original by a recorded recipe
	KindTransferred Kind = "transferred" // a two-party custody handover
	KindSealed      Kind = "sealed"
	KindOpened      Kind = "opened"
	KindAnalysed    Kind = "analysed"
	KindAuthorised  Kind = "authorised"
	KindViewed      Kind = "viewed"
	KindExported    Kind = "exported"
	KindSynced      Kind = "synced"
	KindDisposed    Kind = "disposed"
	KindRejected    Kind = "rejected"     // a captured picture set aside by its photographer (kept)
	KindPurged      Kind = "purged"       // an agent deleted local copies of blobs its hub confirmed holding
	KindKeyEnrolled Kind = "key-enrolled" // a device key starts signing
	KindKeyRotated  Kind = "key-rotated"  // a device key hands over to its successor
	KindKeyRetired  Kind = "key-retired"  // a device key stops signing
)

var knownKinds = map[Kind]bool{
	KindReceived: true, KindCaptured: true, KindDerived: true, KindTransferred: true,
	KindSealed: true, KindOpened: true, KindAnalysed: true, KindAuthorised: true,
	KindViewed: true, KindExported: true, KindSynced: true, KindDisposed: true, KindRejected: true, KindPurged: true,
	KindKeyEnrolled: true, KindKeyRotated: true, KindKeyRetired: true,
}

// Known reports whether k is a kind this version understands.
func (k Kind) Known() bool { return knownKinds[k] }

// PredicateType returns the in-toto predicate type of records of kind k.
func (k Kind) PredicateType() string { return PredicatePrefix + string(k) + "/v1" }

// IsKey reports whether k is a key-management kind, recorded on the device's
// own chain rather than an exhibit's.
func (k Kind) IsKey() bool {
	return k == KindKeyEnrolled || k == KindKeyRotated || k == KindKeyRetired
}

// kindOf maps a predicate type back to its kind.
func kindOf(predicateType string) (Kind, bool) {
	rest, ok := strings.CutPrefix(predicateType, PredicatePrefix)
	if !ok {
		return "", false
	}
	k, ok := strings.CutSuffix(rest, "/v1")
	if !ok || !Kind(k).Known() {
		return "", false
	}
	return Kind(k), true
}

// A Subject is an artefact a record is about: a blob and its digest.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// SubjectFor returns the subject for a blob named name with SHA-256 h.
func SubjectFor(name string, h Hash) Subject {
	return Subject{Name: name, Digest: map[string]string{"sha256": h.Hex()}}
}

// SHA256 returns the subject's SHA-256 digest.
func (s Subject) SHA256() (Hash, error) {
	return ParseHex(s.Digest["sha256"])
}

// A Statement is an in-toto Statement v1 whose predicate is a Predicate.
type Statement struct {
	Type          string    `json:"_type"`
	Subject       []Subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     Predicate `json:"predicate"`
}

// A Predicate is the body common to every record kind, with one optional
// section per kind. Field order is the serialisation order; verification never
// depends on it because records are kept as the exact bytes signed.
type Predicate struct {
	// Chain names the custody chain the record extends: an exhibit id, or
	// "device:" + device id for key records.
	Chain string `json:"chain"`
	// Seq is the record's position in its chain, from 1.
	Seq uint64 `json:"seq"`
	// Prev is the hash of the chain's previous record; zero when Seq is 1.
	Prev Hash `json:"prev,omitzero"`
	// Time is when the device made the record (UTC).
	Time time.Time `json:"time"`
	// Device is the device that signed.
	Device DeviceRef `json:"device"`
	// Actor is the person who acted.
	Actor *Person `json:"actor,omitempty"`
	// Exhibit describes the exhibit on its first record and repeats its
	// identity on every later one.
	Exhibit *ExhibitInfo `json:"exhibit,omitempty"`

	Source   *Source   `json:"source,omitempty"`   // received, captured
	Handover *Handover `json:"handover,omitempty"` // transferred
	Key      *KeyEvent `json:"key,omitempty"`      // key-*
	Export   *Export   `json:"export,omitempty"`   // exported
	Lab      *Lab      `json:"lab,omitempty"`      // captured from an analyser
	Image    *Image    `json:"image,omitempty"`    // captured picture of an image set
	ImageSet *ImageSet `json:"imageSet,omitempty"` // captured image set
	Members  []Member  `json:"members,omitempty"`  // sealed image set: the pictures it holds
	// Supersedes is set on the first record of an exhibit that re-records
	// another exhibit's first record, which exceeds MaxRecordSize (written
	// before the limit was enforced at signing): the record hash of the
	// record it replaces. See docs/records.md, "Records over the limit".
	Supersedes Hash `json:"supersedes,omitzero"`
	// Witnessed is set on the records a hub keeps in its own log about an
	// agent's log (synced: a checkpoint it co-signed; exported: a bundle
	// it made from that log). See docs/records.md, "The hub's log".
	Witnessed *Witnessed `json:"witnessed,omitempty"`
	// Purge is set on a purged record: the blobs an agent deleted its
	// local copies of, and the hub that holds them. See docs/records.md,
	// "Purged blobs".
	Purge *Purge `json:"purge,omitempty"`
	Note  string `json:"note,omitempty"`
}

// Purge is the section of a purged record: an agent deleted its local
// copies of Blobs after its hub confirmed holding each of them by hash,
// and confirmed the log up to Confirmed records, whose root is Root.
// Records and hashes stay; only the bytes left the agent.
type Purge struct {
	// Hub is the URL of the hub that holds the blobs, and Witness the
	// hub's witness key (its verifier key, as enrolment gave it), which
	// names the hub cryptographically.
	Hub     string `json:"hub"`
	Witness string `json:"witness"`
	// Confirmed and Root are the state of this log the hub confirmed
	// before the purge: every record below Confirmed was at the hub.
	Confirmed uint64 `json:"confirmed"`
	Root      Hash   `json:"root"`
	// Blobs are the blobs deleted here, in ascending order of digest.
	Blobs []PurgedBlob `json:"blobs"`
}

// A PurgedBlob is a blob a purged record names: its digest and size.
type PurgedBlob struct {
	Digest Hash  `json:"digest"`
	Size   int64 `json:"size"`
}

// PurgeChain is the chain of a device's purged records: one chain per
// device, beside its key chain ("device:" + id).
func PurgeChain(deviceID string) string { return "purge:" + deviceID }

// MaxPurgeBlobs is the most blobs one purged record names, which keeps
// it well inside MaxRecordSize (about 100 bytes an entry); a larger
// purge is several records.
const MaxPurgeBlobs = 4096

// maxPurgeName bounds the hub's URL and witness key in a purge section.
const maxPurgeName = 2048

// Witnessed names a state of an agent's log in the hub's own log: its
// origin, and the size and root of a checkpoint of it the hub co-signed.
// The record's one subject is that co-signed checkpoint (the signed note,
// the agent's signature and the hub's cosignature included), by digest.
type Witnessed struct {
	Origin string `json:"origin"`
	Size   uint64 `json:"size"`
	Root   Hash   `json:"root"`
}

// WitnessedChain is the chain, in a hub's own log, of the records about
// the agent log named origin.
func WitnessedChain(origin string) string { return "witnessed:" + origin }

// WitnessedSubject is the name of the one subject of a record with a
// witnessed section: the co-signed checkpoint.
const WitnessedSubject = "checkpoint"

// Image describes one picture of an image set, on its first (captured)
// record: the subject is the picture exactly as the camera sent it.
type Image struct {
	Shot    string `json:"shot"`    // the capture profile's shot id, e.g. "415-yellow"
	Attempt int    `json:"attempt"` // 1 for the first take of the shot, 2 for its first retake, …
	Band    string `json:"band"`    // light engine band token (firmware-notes/light-engine.md)
	Filter  string `json:"filter"`  // barrier filter token
	Level   int    `json:"level"`   // light level, %
	// ExposureNs and Gain are what the camera reported it applied; Gain is
	// a decimal in the camera's own units.
	ExposureNs int64  `json:"exposureNs"`
	Gain       string `json:"gain"`
	Width      int    `json:"width"`
	Height     int    `json:"height"`
	BitDepth   int    `json:"bitDepth"`
	MediaType  string `json:"mediaType"` // of the subject, e.g. "image/png"
}

// ImageSet describes a capture, on the image set's first (captured)
// record: the subject is the capture's plan as used (the profile, in JSON).
type ImageSet struct {
	Profile string `json:"profile"` // name@version
	Site    string `json:"site"`    // body site, as the photographer recorded it
	// Restricted marks restricted media (an intimate area): viewers see it
	// blurred until they give a reason.
	Restricted bool `json:"restricted,omitempty"`
	// BiometricMark marks offender biometric material revealed under
	// alternate light (finger-marks, bite-marks): the only pictures ever
	// sent to biometric services.
	BiometricMark bool      `json:"biometricMark,omitempty"`
	Consent       []Consent `json:"consent"`
}

// Consent is one decision about the capture: who consented, or refused, to
// what, and when.
type Consent struct {
	By    string    `json:"by"`    // who decided, e.g. "the person photographed"
	To    string    `json:"to"`    // what, e.g. "photographs of injuries"
	Given bool      `json:"given"` // false: refused
	At    time.Time `json:"at"`
}

// A Member is a picture a sealed image set holds: the image exhibit and
// its first record.
type Member struct {
	ID     string `json:"id"`
	Ref    string `json:"ref"`
	Shot   string `json:"shot"`
	Record Hash   `json:"record"`
}

// Lab describes a message captured from a laboratory analyser: the subject
// is the raw message exactly as received; this section is what was read
// from it. A message that could not be read is still captured, with
// Quarantine saying why, and no results.
type Lab struct {
	Protocol  string `json:"protocol"` // "astm" or "hl7"
	Dialect   string `json:"dialect"`
	Analyser  string `json:"analyser"` // instrument identity as configured or as the message gives it
	MessageID string `json:"messageId"`
	// Results in message order.
	Results    []LabResult `json:"results,omitempty"`
	Quarantine string      `json:"quarantine,omitempty"`
}

// LabResult is one result as the analyser reported it. Value is the text
// exactly as sent; a censored value ("<0.5", ">8") keeps its censoring in
// Censor and is never given a number.
type LabResult struct {
	Specimen string `json:"specimen"`
	Code     string `json:"code"`              // the instrument's test code
	Analyte  string `json:"analyte,omitempty"` // panel analyte the code maps to; empty when unknown
	Value    string `json:"value"`
	Number   string `json:"number,omitempty"` // decimal with a '.' point, for numeric values only
	Censor   string `json:"censor,omitempty"` // "<", ">", "<=" or ">=" for censored values
	Units    string `json:"units,omitempty"`
	Range    string `json:"range,omitempty"`
	Flags    string `json:"flags,omitempty"`
	Status   string `json:"status,omitempty"` // e.g. F final, P preliminary, C correction
	Time     string `json:"time,omitempty"`   // as the instrument gave it
	Unknown  bool   `json:"unknownCode,omitempty"`
	// ValueSHA256 and ValueSize are set, and Value is empty, for a value
	// longer than MaxLabValue bytes: the value's bytes are a blob the record
	// names as a subject, by this digest.
	ValueSHA256 string `json:"valueSha256,omitempty"`
	ValueSize   int64  `json:"valueSize,omitempty"`
}

// MaxLabValue is the longest result value (in bytes) a record holds
// inline; a longer one (an encapsulated PDF, a chromatogram) is kept as a
// blob that the record names by digest.
const MaxLabValue = 1024

// A DeviceRef names a device and the key it signed with.
type DeviceRef struct {
	ID    string `json:"id"`
	KeyID string `json:"keyid"`
}

// A Person is a user who acted.
type Person struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name"`
	Role string `json:"role,omitempty"`
}

// ExhibitInfo identifies an exhibit inside a record.
type ExhibitInfo struct {
	ID          string `json:"id"`
	Ref         string `json:"ref"`
	Case        string `json:"case"`
	Kind        string `json:"kind"`
	DerivedFrom string `json:"derivedFrom,omitempty"`
	PartOf      string `json:"partOf,omitempty"`
}

// Source says where received or captured bytes came from.
type Source struct {
	FileName string `json:"fileName,omitempty"`
	Size     int64  `json:"size"`
	Device   string `json:"device,omitempty"`
}

// A Handover is a custody transfer signed off by both parties.
type Handover struct {
	From   Party  `json:"from"`
	To     Party  `json:"to"`
	Reason string `json:"reason,omitempty"`
	Seal   string `json:"seal,omitempty"`
}

// A Party is one side of a handover and how they proved who they were at
// that moment.
type Party struct {
	Person
	AuthMethod string    `json:"authMethod"`
	AuthAt     time.Time `json:"authAt"`
}

// A KeyEvent enrols, rotates or retires a device key.
type KeyEvent struct {
	KeyID     string `json:"keyid"`
	Algorithm string `json:"algorithm"`
	PublicKey []byte `json:"publicKey"`
	// Successor is set on key-rotated: the key that signs from now on. The
	// rotation record is signed by both keys.
	Successor *KeyEvent `json:"successor,omitempty"`
	Reason    string    `json:"reason,omitempty"`
}

// Export describes an evidence bundle being made.
type Export struct {
	Case   string `json:"case"`
	Bundle string `json:"bundle"`
	// Files are the bundle's derived files (report, custody timeline,
	// index) by name and digest, so that they are covered by a signature.
	Files []Subject `json:"files,omitempty"`
}

// A Record is a signed statement, kept as the exact bytes that were signed.
type Record struct {
	// Envelope is the DSSE envelope exactly as signed and stored.
	Envelope []byte
	// Hash is the SHA-256 of Envelope: the record's identity.
	Hash Hash
	// Kind is derived from the statement's predicate type.
	Kind Kind
	// Statement is the decoded payload.
	Statement Statement
	// Payload is the decoded payload bytes the signatures cover.
	Payload []byte
	// Signatures are the envelope's signatures, decoded.
	Signatures []Signature
}

// A Signature is one decoded DSSE signature.
type Signature struct {
	KeyID string
	Sig   []byte
}

// A Signer signs records with an Ed25519 device key.
type Signer struct {
	priv  ed25519.PrivateKey
	keyID string
}

// NewSigner returns a Signer for priv.
func NewSigner(priv ed25519.PrivateKey) *Signer {
	return &Signer{priv: priv, keyID: KeyID(priv.Public().(ed25519.PublicKey))}
}

// KeyID returns the signer's key id.
func (s *Signer) KeyID() string { return s.keyID }

// Public returns the signer's public key.
func (s *Signer) Public() ed25519.PublicKey { return s.priv.Public().(ed25519.PublicKey) }

// PrivateKey returns the signer's private key, for signers of other formats
// (the log's checkpoints) that must use the same device key.
func (s *Signer) PrivateKey() ed25519.PrivateKey { return s.priv }

// dsseSigner adapts a Signer to the DSSE library.
type dsseSigner struct{ s *Signer }

func (d dsseSigner) Sign(_ context.Context, data []byte) ([]byte, error) {
	return ed25519.Sign(d.s.priv, data), nil
}
func (d dsseSigner) KeyID() (string, error) { return d.s.keyID, nil }

// KeyID returns the key id of an Ed25519 public key: the lowercase hex
// SHA-256 of its 32 raw bytes.
func KeyID(pub ed25519.PublicKey) string { return Sum(pub).Hex() }

// Sign serialises st, signs it with every signer (in order) and returns the
// record. st.Predicate.Device.KeyID should name the first signer.
func Sign(st *Statement, signers ...*Signer) (*Record, error) {
	return sign(st, MaxRecordSize, signers...)
}

// sign is Sign with a size limit (tests sign over MaxRecordSize, as
// earlier versions did, to check how such records are handled).
func sign(st *Statement, limit int, signers ...*Signer) (*Record, error) {
	if len(signers) == 0 {
		return nil, errors.New("chain: sign: no signers")
	}
	st.Type = StatementType
	if st.Subject == nil {
		// in-toto Statement v1 requires an array; key records have no
		// subject. (Versions before this one wrote null here; DecodeRecord
		// accepts that on key records.)
		st.Subject = []Subject{}
	}
	payload, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("chain: sign: %w", err)
	}
	ds := make([]dsse.Signer, len(signers))
	for i, s := range signers {
		ds[i] = dsseSigner{s}
	}
	es, err := dsse.NewEnvelopeSigner(ds...)
	if err != nil {
		return nil, fmt.Errorf("chain: sign: %w", err)
	}
	env, err := es.SignPayload(context.Background(), PayloadType, payload)
	if err != nil {
		return nil, fmt.Errorf("chain: sign: %w", err)
	}
	b, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("chain: sign: %w", err)
	}
	if len(b) > limit {
		return nil, fmt.Errorf("chain: sign: %w: the envelope would be %d bytes, over the %d-byte limit", ErrRecordTooLarge, len(b), limit)
	}
	// The record is built from what was just encoded rather than decoded
	// again; the same checks as DecodeRecord's run on it (a test compares
	// the two).
	r := &Record{Envelope: b, Hash: Sum(b), Payload: payload, Statement: *st}
	for _, sg := range env.Signatures {
		sig, err := base64.StdEncoding.DecodeString(sg.Sig)
		if err != nil {
			return nil, fmt.Errorf("chain: sign: %w", err)
		}
		r.Signatures = append(r.Signatures, Signature{KeyID: sg.KeyID, Sig: sig})
	}
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("chain: sign: %w", err)
	}
	return r, nil
}

// envelope is the strict decoding target for a DSSE envelope.
type envelope struct {
	PayloadType string `json:"payloadType"`
	Payload     string `json:"payload"`
	Signatures  []struct {
		KeyID string `json:"keyid"`
		Sig   string `json:"sig"`
	} `json:"signatures"`
}

// DecodeRecord parses and checks the shape of an envelope: JSON with exactly
// the DSSE fields, standard base64, the in-toto payload type, a Statement v1
// of a known record kind with well-formed subjects. It does not check
// signatures (see VerifySignatures) or chain links.
func DecodeRecord(b []byte) (*Record, error) {
	if len(b) > MaxRecordSize {
		return nil, fmt.Errorf("%w: %w: %d bytes exceeds the %d-byte limit", ErrMalformedRecord, ErrRecordTooLarge, len(b), MaxRecordSize)
	}
	return decodeRecord(b)
}

// DecodeOversizedRecord decodes a record as DecodeRecord does, strictly,
// but without the size limit. It exists for one purpose: reading, checking
// and repairing records that a device's own store already holds and that
// were signed, before the limit was enforced at signing, over
// MaxRecordSize. Input from anywhere else goes through DecodeRecord.
func DecodeOversizedRecord(b []byte) (*Record, error) { return decodeRecord(b) }

func decodeRecord(b []byte) (*Record, error) {
	var env envelope
	if err := UnmarshalStrict(b, &env); err != nil {
		return nil, fmt.Errorf("%w: envelope: %v", ErrMalformedRecord, err)
	}
	if env.PayloadType != PayloadType {
		return nil, fmt.Errorf("%w: payloadType %q, want %q", ErrMalformedRecord, clip(env.PayloadType), PayloadType)
	}
	payload, err := base64.StdEncoding.Strict().DecodeString(env.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: payload is not standard base64: %v", ErrMalformedRecord, err)
	}
	if len(env.Signatures) == 0 {
		return nil, fmt.Errorf("%w: no signatures", ErrMalformedRecord)
	}
	r := &Record{Envelope: b, Hash: Sum(b), Payload: payload}
	for i, s := range env.Signatures {
		sig, err := base64.StdEncoding.Strict().DecodeString(s.Sig)
		if err != nil || len(sig) != ed25519.SignatureSize {
			return nil, fmt.Errorf("%w: signature %d is not a base64 Ed25519 signature", ErrMalformedRecord, i+1)
		}
		if s.KeyID == "" {
			return nil, fmt.Errorf("%w: signature %d has no keyid", ErrMalformedRecord, i+1)
		}
		r.Signatures = append(r.Signatures, Signature{KeyID: s.KeyID, Sig: sig})
	}
	var st statementWire
	if err := UnmarshalStrict(payload, &st); err != nil {
		return nil, fmt.Errorf("%w: statement: %v", ErrMalformedRecord, err)
	}
	r.Statement = Statement{Type: st.Type, PredicateType: st.PredicateType, Predicate: st.Predicate}
	nullSubject := false
	switch string(st.Subject) {
	case "":
		return nil, fmt.Errorf("%w: statement has no subject", ErrMalformedRecord)
	case "null":
		nullSubject = true
	default:
		if err := UnmarshalStrict(st.Subject, &r.Statement.Subject); err != nil {
			return nil, fmt.Errorf("%w: statement subject: %v", ErrMalformedRecord, err)
		}
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	if nullSubject && !r.Kind.IsKey() {
		return nil, fmt.Errorf("%w: statement subject is null (only key records written by earlier versions may have a null subject)", ErrMalformedRecord)
	}
	return r, nil
}

// statementWire is the decoding target of a statement: as Statement, but
// with the subject kept raw so that an absent subject, null (written on key
// records by earlier versions) and an array can be told apart.
type statementWire struct {
	Type          string         `json:"_type"`
	Subject       jsontext.Value `json:"subject"`
	PredicateType string         `json:"predicateType"`
	Predicate     Predicate      `json:"predicate"`
}

// check checks a record's statement and signatures' shape: statement type,
// a known predicate type (setting Kind), well-formed subjects, and the
// predicate's chain, seq, prev, time, device and kind sections.
func (r *Record) check() error {
	st := &r.Statement
	if len(r.Signatures) == 0 {
		return fmt.Errorf("%w: no signatures", ErrMalformedRecord)
	}
	if st.Type != StatementType {
		return fmt.Errorf("%w: statement _type %q, want %q", ErrMalformedRecord, clip(st.Type), StatementType)
	}
	k, ok := kindOf(st.PredicateType)
	if !ok {
		return fmt.Errorf("%w: unknown predicateType %q", ErrMalformedRecord, clip(st.PredicateType))
	}
	r.Kind = k
	if k.IsKey() && len(st.Subject) > 0 {
		return fmt.Errorf("%w: %s key record has %d subjects; key records have none", ErrMalformedRecord, k, len(st.Subject))
	}
	for i, s := range st.Subject {
		if s.Name == "" {
			return fmt.Errorf("%w: subject %d has no name", ErrMalformedRecord, i+1)
		}
		if _, err := s.SHA256(); err != nil {
			return fmt.Errorf("%w: subject %d (%q): %v", ErrMalformedRecord, i+1, clip(s.Name), err)
		}
	}
	p := &st.Predicate
	switch {
	case p.Chain == "":
		return fmt.Errorf("%w: predicate has no chain", ErrMalformedRecord)
	case p.Seq == 0:
		return fmt.Errorf("%w: predicate seq must start at 1", ErrMalformedRecord)
	case p.Seq == 1 && !p.Prev.IsZero():
		return fmt.Errorf("%w: first record of a chain has a prev link", ErrMalformedRecord)
	case p.Seq > 1 && p.Prev.IsZero():
		return fmt.Errorf("%w: record %d of chain %s has no prev link", ErrMalformedRecord, p.Seq, clip(p.Chain))
	case p.Time.IsZero():
		return fmt.Errorf("%w: predicate has no time", ErrMalformedRecord)
	case p.Device.ID == "" || p.Device.KeyID == "":
		return fmt.Errorf("%w: predicate does not name the signing device and key", ErrMalformedRecord)
	case k.IsKey() && p.Key == nil:
		return fmt.Errorf("%w: %s record has no key section", ErrMalformedRecord, k)
	case k == KindPurged && p.Purge == nil:
		return fmt.Errorf("%w: purged record has no purge section", ErrMalformedRecord)
	case !k.IsKey() && p.Exhibit == nil && p.Witnessed == nil && p.Purge == nil:
		return fmt.Errorf("%w: %s record names no exhibit", ErrMalformedRecord, k)
	case k == KindTransferred && p.Handover == nil:
		return fmt.Errorf("%w: transferred record has no handover section", ErrMalformedRecord)
	}
	if r.Signatures[0].KeyID != p.Device.KeyID {
		return fmt.Errorf("%w: first signature is by key %s but the predicate names key %s", ErrMalformedRecord, short(r.Signatures[0].KeyID), short(p.Device.KeyID))
	}
	if p.Exhibit != nil && p.Exhibit.ID != p.Chain {
		return fmt.Errorf("%w: exhibit %s is not the record's chain %s", ErrMalformedRecord, clip(p.Exhibit.ID), clip(p.Chain))
	}
	if !p.Supersedes.IsZero() && (p.Seq != 1 || (k != KindCaptured && k != KindReceived)) {
		return fmt.Errorf("%w: only an exhibit's first record may supersede another record", ErrMalformedRecord)
	}
	if p.Witnessed != nil {
		if err := checkWitnessed(k, p, st.Subject); err != nil {
			return err
		}
	}
	if p.Purge != nil {
		if err := checkPurge(k, p, st.Subject); err != nil {
			return err
		}
	}
	if p.Lab != nil {
		if err := checkLabValues(p.Lab, st.Subject); err != nil {
			return err
		}
	}
	return checkImaging(k, p, len(st.Subject))
}

// checkWitnessed checks a record of a hub's own log about an agent's log
// (docs/records.md, "The hub's log"): a synced or exported record, on the
// chain WitnessedChain(origin), naming no exhibit, whose one subject is the
// co-signed checkpoint; an exported one has its export section.
func checkWitnessed(k Kind, p *Predicate, subjects []Subject) error {
	w := p.Witnessed
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrMalformedRecord}, args...)...)
	}
	switch {
	case k != KindSynced && k != KindExported:
		return bad("a witnessed section belongs on a hub's synced or exported record, not on %s", k)
	case p.Exhibit != nil:
		return bad("a record with a witnessed section names no exhibit")
	case w.Origin == "" || !utf8.ValidString(w.Origin) || strings.ContainsAny(w.Origin, "\n\r\t "):
		return bad("witnessed origin %q is not a log origin", clip(w.Origin))
	case p.Chain != WitnessedChain(w.Origin):
		return bad("a record about log %s is on chain %s, not %s", clip(w.Origin), clip(p.Chain), clip(WitnessedChain(w.Origin)))
	case w.Size == 0:
		return bad("witnessed size 0: an empty log has no checkpoint to witness")
	case len(subjects) != 1 || subjects[0].Name != WitnessedSubject:
		return bad("a record with a witnessed section has one subject, %q (the co-signed checkpoint)", WitnessedSubject)
	case k == KindExported && p.Export == nil:
		return bad("a hub's exported record has no export section")
	}
	return nil
}

// checkPurge checks a purged record (docs/records.md, "Purged blobs"):
// on its device's purge chain, naming no exhibit and no subject (the
// blobs are gone from the device: a subject is something a reader can
// fetch and hash), the hub named, the confirmed state non-empty, and
// between 1 and MaxPurgeBlobs blobs in strictly ascending digest order.
func checkPurge(k Kind, p *Predicate, subjects []Subject) error {
	pu := p.Purge
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrMalformedRecord}, args...)...)
	}
	switch {
	case k != KindPurged:
		return bad("a purge section belongs on a purged record, not on %s", k)
	case p.Exhibit != nil || p.Witnessed != nil:
		return bad("a purged record names no exhibit and no witnessed log")
	case p.Chain != PurgeChain(p.Device.ID):
		return bad("a purged record is on chain %s, not its device's %s", clip(p.Chain), clip(PurgeChain(p.Device.ID)))
	case len(subjects) != 0:
		return bad("a purged record has no subjects (it lists the blobs in purge.blobs)")
	case !purgeName(pu.Hub):
		return bad("purge hub %q is not a URL", clip(pu.Hub))
	case !purgeName(pu.Witness):
		return bad("purge witness %q is not a verifier key", clip(pu.Witness))
	case pu.Confirmed == 0 || pu.Root.IsZero():
		return bad("purge confirmed size and root are required (a hub confirmed nothing at size 0)")
	case len(pu.Blobs) == 0 || len(pu.Blobs) > MaxPurgeBlobs:
		return bad("a purged record names 1 to %d blobs, not %d", MaxPurgeBlobs, len(pu.Blobs))
	}
	for i, b := range pu.Blobs {
		switch {
		case b.Digest.IsZero():
			return bad("purged blob %d has no digest", i+1)
		case b.Size < 0:
			return bad("purged blob %d has a negative size", i+1)
		case i > 0 && bytes.Compare(pu.Blobs[i-1].Digest[:], b.Digest[:]) >= 0:
			return bad("purged blob %d (%s) is not after blob %d in digest order (each once, ascending)", i+1, b.Digest, i)
		}
	}
	return nil
}

// purgeName reports whether s can name a hub or its key in a purge
// section: 1 to maxPurgeName bytes of UTF-8 without white space or
// control characters.
func purgeName(s string) bool {
	if s == "" || len(s) > maxPurgeName || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == 0x2028 || r == 0x2029 {
			return false
		}
	}
	return true
}

// checkImaging checks the image, imageSet and members sections, rejected
// records and derivatives' first records (docs/records.md, "Pictures" and
// "Derivatives").
func checkImaging(k Kind, p *Predicate, subjects int) error {
	kindIs := func(want string) bool { return p.Exhibit != nil && p.Exhibit.Kind == want }
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrMalformedRecord}, args...)...)
	}
	if im := p.Image; im != nil {
		switch {
		case k != KindCaptured || p.Seq != 1 || !kindIs(ExhibitImage):
			return bad("an image section belongs on the first (captured) record of an image exhibit")
		case p.Exhibit.PartOf == "":
			return bad("a picture names no image set (exhibit.partOf)")
		case im.Shot == "" || im.Attempt < 1 || im.Band == "" || im.Filter == "" || im.MediaType == "" || im.Gain == "":
			return bad("image section: shot, attempt, band, filter, gain and mediaType are required")
		case im.Width < 1 || im.Height < 1 || im.BitDepth < 1 || im.BitDepth > 16 || im.ExposureNs < 1 || im.Level < 0 || im.Level > 100:
			return bad("image section: size %dx%d, bit depth %d, exposure %d ns or level %d out of range", im.Width, im.Height, im.BitDepth, im.ExposureNs, im.Level)
		}
	}
	if set := p.ImageSet; set != nil {
		switch {
		case k != KindCaptured || p.Seq != 1 || !kindIs(ExhibitImageSet):
			return bad("an imageSet section belongs on the first (captured) record of an image-set exhibit")
		case set.Profile == "" || set.Site == "":
			return bad("imageSet section: profile and site are required")
		}
		for i, c := range set.Consent {
			if c.By == "" || c.To == "" || c.At.IsZero() {
				return bad("imageSet consent %d: by, to and at are required", i+1)
			}
		}
	}
	if p.Members != nil {
		if k != KindSealed || !kindIs(ExhibitImageSet) {
			return bad("members belong on a sealed record of an image set")
		}
		shots := map[string]bool{}
		for i, m := range p.Members {
			if m.ID == "" || m.Ref == "" || m.Shot == "" || m.Record.IsZero() {
				return bad("member %d: id, ref, shot and record are required", i+1)
			}
			if shots[m.Shot] {
				return bad("member %d: shot %q appears twice", i+1, clip(m.Shot))
			}
			shots[m.Shot] = true
		}
	}
	if k == KindDerived && p.Seq == 1 && (p.Exhibit.DerivedFrom == "" || p.Source != nil || subjects < 2) {
		return bad("a derivative's first record names what it was derived from (exhibit.derivedFrom), its bytes and its recipe (two subjects), and has no source section")
	}
	if k == KindRejected && (!kindIs(ExhibitImage) || p.Note == "") {
		return bad("a rejected record belongs on an image exhibit and gives the reason in note")
	}
	return nil
}

// checkLabValues checks that every result value kept out of the record is
// named by a subject, and that no value kept in it is over MaxLabValue.
func checkLabValues(lab *Lab, subjects []Subject) error {
	for i, res := range lab.Results {
		if res.ValueSHA256 == "" {
			if res.ValueSize != 0 {
				return fmt.Errorf("%w: lab result %d has a valueSize but no valueSha256", ErrMalformedRecord, i+1)
			}
			continue
		}
		h, err := ParseHex(res.ValueSHA256)
		if err != nil {
			return fmt.Errorf("%w: lab result %d: valueSha256: %v", ErrMalformedRecord, i+1, err)
		}
		if res.Value != "" || res.Number != "" || res.Censor != "" || res.ValueSize <= MaxLabValue {
			return fmt.Errorf("%w: lab result %d is kept as a blob but also has a value, or is short enough to be kept inline", ErrMalformedRecord, i+1)
		}
		named := false
		for _, s := range subjects {
			if d, err := s.SHA256(); err == nil && d == h {
				named = true
				break
			}
		}
		if !named {
			return fmt.Errorf("%w: lab result %d's value %s is not a subject of the record", ErrMalformedRecord, i+1, h)
		}
	}
	return nil
}

// strictOptions are the JSON decoding rules of docs/records.md §1, spelled
// out although most are the library's defaults, since the strictness is the
// point: object member names match field names exactly (no case folding),
// no member is unknown, none appears twice, and every string is valid UTF-8.
var strictOptions = jsonv2.JoinOptions(
	jsonv2.RejectUnknownMembers(true),
	jsonv2.MatchCaseInsensitiveNames(false),
	jsontext.AllowDuplicateNames(false),
	jsontext.AllowInvalidUTF8(false),
)

// UnmarshalStrict decodes b, exactly one JSON value with nothing but white
// space after it, into v, as records are decoded (docs/records.md §1):
// member names must match v's field names exactly — a member that differs
// only in case is unknown — no member may be unknown or repeated in an
// object, and strings must be valid UTF-8. encoding/json accepts all of
// these, letting the last of two duplicate members win, which other JSON
// readers do not; a document two tools read differently cannot be evidence.
func UnmarshalStrict(b []byte, v any) error {
	return jsonv2.Unmarshal(b, v, strictOptions)
}

// PAE returns the bytes each signature covers (DSSE pre-authentication
// encoding of the payload type and payload).
func (r *Record) PAE() []byte { return dsse.PAE(PayloadType, r.Payload) }

// VerifySignatures checks every signature on r with the key its keyid names,
// looked up through keys. Every signature must verify: a record carrying one
// bad signature among good ones is rejected, not silently accepted. It returns
// the key ids that signed, in envelope order.
func (r *Record) VerifySignatures(keys func(keyID string) (ed25519.PublicKey, bool)) ([]string, error) {
	msg := r.PAE()
	ids := make([]string, 0, len(r.Signatures))
	seen := map[string]bool{}
	for i, s := range r.Signatures {
		if seen[s.KeyID] {
			return nil, fmt.Errorf("%w: signature %d repeats key %s", ErrBadSignature, i+1, short(s.KeyID))
		}
		seen[s.KeyID] = true
		pub, ok := keys(s.KeyID)
		if !ok {
			return nil, fmt.Errorf("%w: signature %d is by key %s", ErrUnknownKey, i+1, short(s.KeyID))
		}
		if !ed25519.Verify(pub, msg, s.Sig) {
			return nil, fmt.Errorf("%w: signature %d by key %s does not verify", ErrBadSignature, i+1, short(s.KeyID))
		}
		ids = append(ids, s.KeyID)
	}
	return ids, nil
}

// short abbreviates a key id for messages.
func short(id string) string {
	if len(id) > 16 {
		return id[:16]
	}
	return id
}
