package chain

import (
	"errors"
	"strings"
	"testing"
)

// labStatement is a captured analyser message with n results whose values
// are value.
func labStatement(s *Signer, n int, value string) *Statement {
	st := receivedStatement(s)
	st.PredicateType = KindCaptured.PredicateType()
	st.Predicate.Exhibit.Kind = ExhibitResult
	lab := &Lab{Protocol: "hl7", Dialect: "mllp", Analyser: "TOXSIM", MessageID: Sum([]byte("m")).String()}
	for i := 0; i < n; i++ {
		lab.Results = append(lab.Results, LabResult{Specimen: "S1", Code: "GHB", Value: value, Units: "mg/L"})
	}
	st.Predicate.Lab = lab
	return st
}

// Writer and readers share one limit: Sign refuses to make a record that
// DecodeRecord would refuse to read, and both say why with
// ErrRecordTooLarge.
func TestSignRefusesWhatReadersRefuse(t *testing.T) {
	s := testKey(1)
	// Find the largest record under the limit by bisecting one value's
	// length: every failure on the way must be ErrRecordTooLarge.
	var last *Record
	lo, hi := 0, MaxRecordSize // Sign succeeds at lo and fails at hi
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		r, err := Sign(labStatement(s, 1, strings.Repeat("x", mid)), s)
		switch {
		case err == nil:
			lo, last = mid, r
		case errors.Is(err, ErrRecordTooLarge):
			hi = mid
		default:
			t.Fatalf("Sign of a %d-byte value: %v", mid, err)
		}
	}
	if last == nil || len(last.Envelope) > MaxRecordSize || len(last.Envelope) < MaxRecordSize-8 {
		t.Fatalf("largest signed record: %d bytes, limit %d", len(last.Envelope), MaxRecordSize)
	}
	if _, err := DecodeRecord(last.Envelope); err != nil {
		t.Fatalf("a reader refuses the largest record the writer signs: %v", err)
	}
	// A record signed over the limit (as earlier versions did) is refused
	// by DecodeRecord, and read only by DecodeOversizedRecord.
	over := oversizedEnvelope(t, s, 2*MaxRecordSize)
	if _, err := DecodeRecord(over); !errors.Is(err, ErrRecordTooLarge) || !errors.Is(err, ErrMalformedRecord) {
		t.Fatalf("DecodeRecord of %d bytes: %v", len(over), err)
	}
	r, err := DecodeOversizedRecord(over)
	if err != nil || r.Hash != Sum(over) || len(r.Statement.Predicate.Lab.Results) != 1 {
		t.Fatalf("DecodeOversizedRecord: %v", err)
	}
}

// oversizedEnvelope signs, as earlier versions did (no limit), a record of
// at least size bytes.
func oversizedEnvelope(t *testing.T, s *Signer, size int) []byte {
	t.Helper()
	st := labStatement(s, 1, strings.Repeat("y", size*3/4))
	st.Type = StatementType
	env, err := signUnlimited(st, s)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// A value kept out of the record must be one of its subjects, with no
// value text of its own.
func TestLabValueBlobs(t *testing.T) {
	s := testKey(1)
	value := strings.Repeat("A", MaxLabValue+1)
	h := Sum([]byte(value))
	good := func() *Statement {
		st := labStatement(s, 1, "")
		st.Subject = append(st.Subject, SubjectFor("value-1", h))
		st.Predicate.Lab.Results[0].ValueSHA256 = h.Hex()
		st.Predicate.Lab.Results[0].ValueSize = int64(len(value))
		return st
	}
	if _, err := Sign(good(), s); err != nil {
		t.Fatalf("a value kept as a blob: %v", err)
	}
	for name, spoil := range map[string]func(*Statement){
		"not a subject":   func(st *Statement) { st.Subject = st.Subject[:1] },
		"value text too":  func(st *Statement) { st.Predicate.Lab.Results[0].Value = "42" },
		"short value":     func(st *Statement) { st.Predicate.Lab.Results[0].ValueSize = MaxLabValue },
		"bad digest":      func(st *Statement) { st.Predicate.Lab.Results[0].ValueSHA256 = "abc" },
		"size, no digest": func(st *Statement) { st.Predicate.Lab.Results[0].ValueSHA256 = "" },
	} {
		st := good()
		spoil(st)
		if _, err := Sign(st, s); !errors.Is(err, ErrMalformedRecord) {
			t.Errorf("%s: Sign = %v, want ErrMalformedRecord", name, err)
		}
	}
	// supersedes only on an exhibit's first record.
	st := good()
	st.Predicate.Supersedes = Sum([]byte("old record"))
	if _, err := Sign(st, s); err != nil {
		t.Fatalf("supersedes on a first record: %v", err)
	}
	st.Predicate.Seq, st.Predicate.Prev = 2, Sum([]byte("prev"))
	if _, err := Sign(st, s); !errors.Is(err, ErrMalformedRecord) {
		t.Fatalf("supersedes on record #2: %v", err)
	}
}

// signUnlimited signs with no size limit, as versions before the limit
// did, and returns the envelope.
func signUnlimited(st *Statement, s *Signer) ([]byte, error) {
	r, err := sign(st, 1<<40, s)
	if err != nil {
		return nil, err
	}
	return r.Envelope, nil
}
