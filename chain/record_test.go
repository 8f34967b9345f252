package chain

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/rand"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// testKey returns a deterministic Ed25519 key for seed n.
func testKey(n byte) *Signer {
	seed := bytes.Repeat([]byte{n}, ed25519.SeedSize)
	return NewSigner(ed25519.NewKeyFromSeed(seed))
}

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func receivedStatement(s *Signer) *Statement {
	blob := Sum([]byte("photo bytes"))
	return &Statement{
		Subject:       []Subject{SubjectFor("photo.png", blob)},
		PredicateType: KindReceived.PredicateType(),
		Predicate: Predicate{
			Chain:   "0190a0b0-0000-7000-8000-000000000001",
			Seq:     1,
			Time:    t0,
			Device:  DeviceRef{ID: "dev-1", KeyID: s.KeyID()},
			Actor:   &Person{Name: "Jo Smith"},
			Exhibit: &ExhibitInfo{ID: "0190a0b0-0000-7000-8000-000000000001", Ref: "JS/1", Case: "CASE-1", Kind: "image"},
			Source:  &Source{FileName: "photo.png", Size: 11},
		},
	}
}

func TestSignDecodeVerify(t *testing.T) {
	s := testKey(1)
	r, err := Sign(receivedStatement(s), s)
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != KindReceived || r.Hash != Sum(r.Envelope) {
		t.Fatalf("kind %s hash %s", r.Kind, r.Hash)
	}
	again, err := DecodeRecord(r.Envelope)
	if err != nil {
		t.Fatal(err)
	}
	if again.Statement.Predicate.Exhibit.Ref != "JS/1" || !again.Statement.Predicate.Time.Equal(t0) {
		t.Fatalf("decoded %+v", again.Statement.Predicate)
	}
	keys := func(id string) (ed25519.PublicKey, bool) {
		if id == s.KeyID() {
			return s.Public(), true
		}
		return nil, false
	}
	ids, err := again.VerifySignatures(keys)
	if err != nil || len(ids) != 1 || ids[0] != s.KeyID() {
		t.Fatalf("VerifySignatures = %v, %v", ids, err)
	}
	// Another key does not verify it.
	other := testKey(2)
	_, err = again.VerifySignatures(func(string) (ed25519.PublicKey, bool) { return other.Public(), true })
	if !errors.Is(err, ErrBadSignature) {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := again.VerifySignatures(func(string) (ed25519.PublicKey, bool) { return nil, false }); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown key: %v", err)
	}
}

// TestEveryPayloadBitMatters flips each bit of the payload in turn and
// re-encodes the envelope: the result must fail to decode or to verify.
func TestEveryPayloadBitMatters(t *testing.T) {
	s := testKey(1)
	r, err := Sign(receivedStatement(s), s)
	if err != nil {
		t.Fatal(err)
	}
	keys := func(string) (ed25519.PublicKey, bool) { return s.Public(), true }
	var env envelope
	if err := json.Unmarshal(r.Envelope, &env); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(r.Payload)*8; i++ {
		p := bytes.Clone(r.Payload)
		p[i/8] ^= 1 << (i % 8)
		e := env
		e.Payload = base64.StdEncoding.EncodeToString(p)
		b, _ := json.Marshal(e)
		got, err := DecodeRecord(b)
		if err != nil {
			continue
		}
		if _, err := got.VerifySignatures(keys); err == nil {
			t.Fatalf("bit %d flipped in the payload still verifies", i)
		}
	}
}

func TestOneBadSignatureAmongGood(t *testing.T) {
	a, b := testKey(1), testKey(2)
	r, err := Sign(receivedStatement(a), a, b)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]ed25519.PublicKey{a.KeyID(): a.Public(), b.KeyID(): b.Public()}
	lookup := func(id string) (ed25519.PublicKey, bool) { p, ok := keys[id]; return p, ok }
	if ids, err := r.VerifySignatures(lookup); err != nil || len(ids) != 2 {
		t.Fatalf("two good signatures: %v %v", ids, err)
	}
	r.Signatures[1].Sig[0] ^= 1
	if _, err := r.VerifySignatures(lookup); !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), "signature 2") {
		t.Fatalf("bad second signature: %v", err)
	}
}

// decodeTests are malformed envelopes; they also seed FuzzDecodeRecord.
func decodeTests(t testing.TB) []struct {
	name string
	env  []byte
	want string
} {
	s := testKey(1)
	good, err := Sign(receivedStatement(s), s)
	if err != nil {
		t.Fatal(err)
	}
	var env envelope
	json.Unmarshal(good.Envelope, &env)
	withPayload := func(mut func(m map[string]any)) []byte {
		var m map[string]any
		json.Unmarshal(good.Payload, &m)
		mut(m)
		p, _ := json.Marshal(m)
		e := env
		e.Payload = base64.StdEncoding.EncodeToString(p)
		b, _ := json.Marshal(e)
		return b
	}
	pred := func(m map[string]any) map[string]any { return m["predicate"].(map[string]any) }
	// withRawPayload replaces the payload with a textual edit of it: JSON
	// that a map cannot hold (duplicate or case-variant keys, bad UTF-8).
	withRawPayload := func(old, new string) []byte {
		if !bytes.Contains(good.Payload, []byte(old)) {
			t.Fatalf("payload has no %q", old)
		}
		p := bytes.Replace(good.Payload, []byte(old), []byte(new), 1)
		e := env
		e.Payload = base64.StdEncoding.EncodeToString(p)
		b, _ := json.Marshal(e)
		return b
	}
	subjectJSON := `"subject":[{"name":"photo.png","digest":{"sha256":"` + Sum([]byte("photo bytes")).Hex() + `"}}]`
	keyEnv := keyRecordEnvelope(t, s)
	return append([]struct {
		name string
		env  []byte
		want string
	}{
		{"good", good.Envelope, ""},
		{"empty", nil, "envelope"},
		{"not json", []byte("hello"), "envelope"},
		{"trailing", append(bytes.Clone(good.Envelope), []byte(" {}")...), "after top-level value"},
		{"unknown field", bytes.Replace(good.Envelope, []byte(`{"payloadType"`), []byte(`{"x":1,"payloadType"`), 1), "unknown object member"},
		{"payload type", bytes.Replace(good.Envelope, []byte(PayloadType), []byte("text/plain"), 1), "payloadType"},
		{"url base64", []byte(`{"payloadType":"` + PayloadType + `","payload":"-_-_","signatures":[]}`), "base64"},
		{"no signatures", []byte(`{"payloadType":"` + PayloadType + `","payload":"e30=","signatures":[]}`), "no signatures"},
		{"short signature", bytes.Replace(good.Envelope, []byte(env.Signatures[0].Sig), []byte("AAAA"), 1), "Ed25519 signature"},
		{"statement type", withPayload(func(m map[string]any) { m["_type"] = "https://in-toto.io/Statement/v0.1" }), "_type"},
		{"unknown kind", withPayload(func(m map[string]any) { m["predicateType"] = PredicatePrefix + "teleported/v1" }), "predicateType"},
		{"bad digest", withPayload(func(m map[string]any) {
			m["subject"] = []any{map[string]any{"name": "x", "digest": map[string]any{"sha256": "abc"}}}
		}), "subject 1"},
		{"no chain", withPayload(func(m map[string]any) { delete(pred(m), "chain") }), "no chain"},
		{"seq zero", withPayload(func(m map[string]any) { pred(m)["seq"] = 0 }), "seq"},
		{"seq 2 without prev", withPayload(func(m map[string]any) { pred(m)["seq"] = 2 }), "no prev"},
		{"no exhibit", withPayload(func(m map[string]any) { delete(pred(m), "exhibit") }), "names no exhibit"},
		{"no time", withPayload(func(m map[string]any) { delete(pred(m), "time") }), "no time"},
		{"signer is not device key", withPayload(func(m map[string]any) {
			pred(m)["device"] = map[string]any{"id": "dev-1", "keyid": strings.Repeat("0", 64)}
		}), "first signature"},
		{"exhibit not chain", withPayload(func(m map[string]any) {
			pred(m)["exhibit"].(map[string]any)["id"] = "other"
		}), "not the record's chain"},

		// Duplicate keys: encoding/json lets the last one win, other
		// readers the first, so a record with two subjects would read
		// differently to other tools (docs/records.md §1).
		{"duplicate envelope key", bytes.Replace(good.Envelope, []byte(`{"payloadType":"`+PayloadType+`",`),
			[]byte(`{"payloadType":"text/plain","payloadType":"`+PayloadType+`",`), 1), "duplicate"},
		{"duplicate signature key", bytes.Replace(good.Envelope, []byte(`"keyid":"`), []byte(`"keyid":"`+strings.Repeat("0", 64)+`","keyid":"`), 1), "duplicate"},
		{"duplicate subject", withRawPayload(subjectJSON, `"subject":[],`+subjectJSON), "duplicate"},
		{"duplicate predicate key", withRawPayload(`"seq":1,`, `"seq":7,"seq":1,`), "duplicate"},
		{"duplicate digest key", withRawPayload(`{"sha256":"`, `{"sha256":"`+strings.Repeat("0", 64)+`","sha256":"`), "duplicate"},
		// Keys differing only in case: encoding/json matches them to the
		// field anyway.
		{"case-variant envelope key", bytes.Replace(good.Envelope, []byte(`"payloadType"`), []byte(`"PayloadType"`), 1), "unknown"},
		{"case-variant signature key", bytes.Replace(good.Envelope, []byte(`"keyid"`), []byte(`"keyID"`), 1), "unknown"},
		{"case-variant subject", withRawPayload(`"subject":`, `"Subject":`), "unknown"},
		{"case-variant statement key", withRawPayload(`"predicateType":`, `"PredicateType":`), "unknown"},
		{"case-variant predicate key", withRawPayload(`"device":`, `"Device":`), "unknown"},
		{"case-variant and exact subject", withRawPayload(subjectJSON, `"Subject":[],`+subjectJSON), "unknown"},
		// Other readings that differ between tools.
		{"invalid UTF-8 in a string", withRawPayload(`"Jo Smith"`, "\"Jo \xffSmith\""), "UTF-8"},
		{"subject missing", withRawPayload(subjectJSON+",", ""), "no subject"},
		{"subject null on an exhibit record", withRawPayload(subjectJSON, `"subject":null`), "subject"},
		{"subject not an array", withRawPayload(subjectJSON, `"subject":{}`), "subject"},
		{"key record", keyEnv.env, ""},
		{"key record with legacy null subject", keyEnv.legacyNull, ""},
		{"key record with subjects", keyEnv.withSubject, "key record"},
	}, append(witnessedTests(t, s), purgedTests(t, s)...)...)
}

// purgedTests are an agent's purged records (docs/records.md, "Purged
// blobs"): one as the ledger signs it, and variants that break each rule
// of the purge section.
func purgedTests(t testing.TB, s *Signer) []struct {
	name string
	env  []byte
	want string
} {
	a, b := Sum([]byte("blob a")), Sum([]byte("blob b"))
	if bytes.Compare(a[:], b[:]) > 0 {
		a, b = b, a
	}
	st := func(mut func(st *Statement)) []byte {
		x := &Statement{
			Subject:       []Subject{},
			PredicateType: KindPurged.PredicateType(),
			Predicate: Predicate{Chain: PurgeChain("dev-1"), Seq: 1, Time: t0,
				Device: DeviceRef{ID: "dev-1", KeyID: s.KeyID()},
				Actor:  &Person{Name: "Jo Smith"},
				Purge: &Purge{Hub: "https://hub.example:8443/", Witness: "example.org/witness/hub+01234567+AQID",
					Confirmed: 12, Root: Sum([]byte("root")),
					Blobs: []PurgedBlob{{Digest: a, Size: 70000}, {Digest: b, Size: 1 << 20}}}},
		}
		r, err := Sign(x, s)
		if err != nil {
			t.Fatal(err)
		}
		if mut == nil {
			return r.Envelope
		}
		mut(x)
		p, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		var env envelope
		json.Unmarshal(r.Envelope, &env)
		env.Payload = base64.StdEncoding.EncodeToString(p)
		out, _ := json.Marshal(env)
		return out
	}
	pu := func(x *Statement) *Purge { return x.Predicate.Purge }
	return []struct {
		name string
		env  []byte
		want string
	}{
		{"purged", st(nil), ""},
		{"purged without purge", st(func(x *Statement) { x.Predicate.Purge = nil }), "no purge section"},
		{"purge on viewed", st(func(x *Statement) { x.PredicateType = KindViewed.PredicateType() }), "belongs on a purged record"},
		{"purged with exhibit", st(func(x *Statement) {
			x.Predicate.Exhibit = &ExhibitInfo{ID: x.Predicate.Chain, Ref: "JS/1", Case: "C", Kind: "image"}
		}), "names no exhibit"},
		{"purged on another chain", st(func(x *Statement) { x.Predicate.Chain = "purge:dev-2" }), "not its device's"},
		{"purged with subject", st(func(x *Statement) { x.Subject = []Subject{SubjectFor("x", Sum(nil))} }), "no subjects"},
		{"purged without hub", st(func(x *Statement) { pu(x).Hub = "" }), "not a URL"},
		{"purged hub with space", st(func(x *Statement) { pu(x).Hub = "https://hub example/" }), "not a URL"},
		{"purged without witness", st(func(x *Statement) { pu(x).Witness = "" }), "verifier key"},
		{"purged confirmed 0", st(func(x *Statement) { pu(x).Confirmed = 0 }), "confirmed size and root"},
		{"purged without root", st(func(x *Statement) { pu(x).Root = Hash{} }), "confirmed size and root"},
		{"purged no blobs", st(func(x *Statement) { pu(x).Blobs = nil }), "1 to 4096 blobs"},
		{"purged blob twice", st(func(x *Statement) { pu(x).Blobs[1] = pu(x).Blobs[0] }), "digest order"},
		{"purged blobs unordered", st(func(x *Statement) { pu(x).Blobs[0], pu(x).Blobs[1] = pu(x).Blobs[1], pu(x).Blobs[0] }), "digest order"},
		{"purged zero digest", st(func(x *Statement) { pu(x).Blobs[0].Digest = Hash{} }), "no digest"},
		{"purged negative size", st(func(x *Statement) { pu(x).Blobs[0].Size = -1 }), "negative size"},
	}
}

// witnessedTests are records of a hub's own log (docs/records.md, "The
// hub's log"): a synced record as the hub signs it, and variants that break
// each rule of the witnessed section.
func witnessedTests(t testing.TB, s *Signer) []struct {
	name string
	env  []byte
	want string
} {
	origin := "exhibit-forensics.github.io/log/dev-2"
	st := func(k Kind, mut func(st *Statement)) []byte {
		x := &Statement{
			Subject:       []Subject{SubjectFor(WitnessedSubject, Sum([]byte("a co-signed checkpoint")))},
			PredicateType: k.PredicateType(),
			Predicate: Predicate{Chain: WitnessedChain(origin), Seq: 1, Time: t0,
				Device:    DeviceRef{ID: "dev-1", KeyID: s.KeyID()},
				Witnessed: &Witnessed{Origin: origin, Size: 3, Root: Sum([]byte("root"))}},
		}
		if k == KindExported {
			x.Predicate.Export = &Export{Case: "CASE-1", Bundle: "exhibit-CASE-1-20261201T090000Z-4"}
		}
		r, err := Sign(x, s)
		if err != nil {
			t.Fatal(err)
		}
		if mut == nil {
			return r.Envelope
		}
		// A variant: the statement changed, the signature kept (decoding
		// does not check signatures).
		mut(x)
		p, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		var env envelope
		json.Unmarshal(r.Envelope, &env)
		env.Payload = base64.StdEncoding.EncodeToString(p)
		b, _ := json.Marshal(env)
		return b
	}
	return []struct {
		name string
		env  []byte
		want string
	}{
		{"hub synced", st(KindSynced, nil), ""},
		{"hub exported", st(KindExported, nil), ""},
		{"hub exported without export", st(KindExported, func(x *Statement) { x.Predicate.Export = nil }), "no export section"},
		{"witnessed on viewed", st(KindSynced, func(x *Statement) { x.PredicateType = KindViewed.PredicateType() }), "belongs on"},
		{"witnessed with exhibit", st(KindSynced, func(x *Statement) {
			x.Predicate.Exhibit = &ExhibitInfo{ID: x.Predicate.Chain, Ref: "JS/1", Case: "C", Kind: "image"}
		}), "names no exhibit"},
		{"witnessed on another chain", st(KindSynced, func(x *Statement) { x.Predicate.Chain = "witnessed:other" }), "on chain"},
		{"witnessed no origin", st(KindSynced, func(x *Statement) {
			x.Predicate.Witnessed.Origin = ""
			x.Predicate.Chain = WitnessedChain("")
		}), "not a log origin"},
		{"witnessed size 0", st(KindSynced, func(x *Statement) { x.Predicate.Witnessed.Size = 0 }), "size 0"},
		{"witnessed two subjects", st(KindSynced, func(x *Statement) {
			x.Subject = append(x.Subject, SubjectFor("x", Sum(nil)))
		}), "one subject"},
		{"witnessed subject name", st(KindSynced, func(x *Statement) { x.Subject[0].Name = "note" }), "one subject"},
		{"synced without witnessed or exhibit", st(KindSynced, func(x *Statement) { x.Predicate.Witnessed = nil }), "names no exhibit"},
	}
}

// keyEnvelopes are a key-enrolled record as Sign writes it and, with the
// same signature (decoding does not check it), variants of its subject.
type keyEnvelopes struct{ env, legacyNull, withSubject []byte }

func keyRecordEnvelope(t testing.TB, s *Signer) keyEnvelopes {
	st := &Statement{
		PredicateType: KindKeyEnrolled.PredicateType(),
		Predicate: Predicate{Chain: "device:dev-1", Seq: 1, Time: t0,
			Device: DeviceRef{ID: "dev-1", KeyID: s.KeyID()}, Key: KeyEventFor(s.Public())},
	}
	r, err := Sign(st, s)
	if err != nil {
		t.Fatal(err)
	}
	var env envelope
	if err := json.Unmarshal(r.Envelope, &env); err != nil {
		t.Fatal(err)
	}
	with := func(subject string) []byte {
		p := regexp.MustCompile(`"subject":(null|\[\])`).ReplaceAll(r.Payload, []byte(`"subject":`+subject))
		e := env
		e.Payload = base64.StdEncoding.EncodeToString(p)
		b, _ := json.Marshal(e)
		return b
	}
	return keyEnvelopes{r.Envelope, with("null"),
		with(`[{"name":"x","digest":{"sha256":"` + Sum([]byte("x")).Hex() + `"}}]`)}
}

func TestDecodeRecordRejects(t *testing.T) {
	for _, tt := range decodeTests(t) {
		_, err := DecodeRecord(tt.env)
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrMalformedRecord) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want ErrMalformedRecord mentioning %q", tt.name, err, tt.want)
		}
	}
}

func TestDecodeRecordSizeLimit(t *testing.T) {
	if _, err := DecodeRecord(make([]byte, MaxRecordSize+1)); !errors.Is(err, ErrMalformedRecord) {
		t.Fatal(err)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	for _, tt := range decodeTests(f) {
		f.Add(tt.env)
	}
	s := testKey(1)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRecord(b)
		if err != nil {
			if !errors.Is(err, ErrMalformedRecord) {
				t.Fatalf("error not ErrMalformedRecord: %v", err)
			}
			return
		}
		if r.Hash != Sum(b) || !bytes.Equal(r.Envelope, b) {
			t.Fatal("record identity is not its exact bytes")
		}
		// What is accepted reads the same to a lenient reader
		// (encoding/json: case-insensitive, last duplicate wins): a
		// record may not mean one thing here and another elsewhere.
		var loose Statement
		if err := json.Unmarshal(r.Payload, &loose); err != nil {
			t.Fatalf("accepted a statement encoding/json cannot read: %v", err)
		}
		a, _ := json.Marshal(r.Statement)
		c, _ := json.Marshal(loose)
		if !bytes.Equal(a, c) {
			t.Fatalf("accepted statement reads differently to encoding/json:\n%s\n%s", a, c)
		}
		// Verification never panics on decoded input.
		r.VerifySignatures(func(string) (ed25519.PublicKey, bool) { return s.Public(), true })
	})
}

func TestRandomEnvelopeBytes(t *testing.T) {
	// A cheap non-fuzz smoke test over random mutations of a good envelope.
	s := testKey(1)
	r, _ := Sign(receivedStatement(s), s)
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		b := bytes.Clone(r.Envelope)
		b[rng.Intn(len(b))] ^= byte(1 << rng.Intn(8))
		got, err := DecodeRecord(b)
		if err != nil {
			continue
		}
		if _, err := got.VerifySignatures(func(string) (ed25519.PublicKey, bool) { return s.Public(), true }); err == nil && !bytes.Equal(got.Payload, r.Payload) {
			t.Fatalf("mutation %d changed the payload and still verifies", i)
		}
	}
}

// TestWriteCorpus keeps the committed seed corpora equal to the tables
// (internal/fuzzseed); -write-corpus rewrites them.
func TestWriteCorpus(t *testing.T) {
	var entries [][]any
	for _, tt := range decodeTests(t) {
		entries = append(entries, []any{tt.env})
	}
	fuzzseed.Write(t, "FuzzDecodeRecord", entries)
	var hashes [][]any
	for _, tt := range hashTests {
		hashes = append(hashes, []any{tt.in})
	}
	fuzzseed.Write(t, "FuzzParseHash", hashes)
}

// TestSignMatchesDecode: Sign builds its Record from what it encoded rather
// than decoding it again; that must equal a decode of the envelope.
func TestSignMatchesDecode(t *testing.T) {
	s := testKey(1)
	sts := []*Statement{receivedStatement(s)}
	h := receivedStatement(s)
	h.PredicateType = KindTransferred.PredicateType()
	h.Predicate.Seq, h.Predicate.Prev = 2, Sum([]byte("prev"))
	h.Predicate.Handover = &Handover{From: Party{Person: Person{ID: "a", Name: "A"}, AuthMethod: "password", AuthAt: t0},
		To: Party{Person: Person{ID: "b", Name: "B"}, AuthMethod: "password", AuthAt: t0}}
	sts = append(sts, h)
	for _, st := range sts {
		r, err := Sign(st, s)
		if err != nil {
			t.Fatal(err)
		}
		d, err := DecodeRecord(r.Envelope)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(r.Statement)
		b, _ := json.Marshal(d.Statement)
		if !bytes.Equal(a, b) || !bytes.Equal(a, r.Payload) || r.Kind != d.Kind || r.Hash != d.Hash ||
			len(r.Signatures) != len(d.Signatures) || !bytes.Equal(r.Signatures[0].Sig, d.Signatures[0].Sig) || r.Signatures[0].KeyID != d.Signatures[0].KeyID {
			t.Fatalf("Sign and DecodeRecord disagree:\n%s\n%s", a, b)
		}
	}
	// Sign refuses what DecodeRecord would refuse.
	bad := receivedStatement(s)
	bad.Predicate.Exhibit = nil
	if _, err := Sign(bad, s); !errors.Is(err, ErrMalformedRecord) {
		t.Fatalf("Sign of a record without an exhibit: %v", err)
	}
}

// TestKeyRecordSubjectIsArray: in-toto Statement v1 requires subject to be
// an array; key records have none, so Sign writes [] (earlier versions wrote
// null, which DecodeRecord still accepts on key records only).
func TestKeyRecordSubjectIsArray(t *testing.T) {
	s := testKey(1)
	k := keyRecordEnvelope(t, s)
	r, err := DecodeRecord(k.env)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(r.Payload, []byte(`"subject":[],`)) {
		t.Fatalf("key record payload: %s", r.Payload)
	}
	legacy, err := DecodeRecord(k.legacyNull)
	if err != nil || len(legacy.Statement.Subject) != 0 || legacy.Kind != KindKeyEnrolled {
		t.Fatalf("legacy key record with subject null: %v", err)
	}
}
