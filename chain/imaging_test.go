package chain

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// pictureStatement is the first record of a picture in an image set.
func pictureStatement(s *Signer) *Statement {
	st := receivedStatement(s)
	st.PredicateType = KindCaptured.PredicateType()
	st.Predicate.Exhibit.PartOf = "0190a0b0-0000-7000-8000-0000000000aa"
	st.Predicate.Image = &Image{Shot: "415-yellow", Attempt: 1, Band: "415", Filter: "yellow", Level: 100,
		ExposureNs: 40_000_000, Gain: "4", Width: 4000, Height: 3000, BitDepth: 16, MediaType: "image/png"}
	return st
}

// setStatement is the first record of an image set.
func setStatement(s *Signer) *Statement {
	st := receivedStatement(s)
	st.PredicateType = KindCaptured.PredicateType()
	st.Predicate.Exhibit.Kind = ExhibitImageSet
	st.Predicate.ImageSet = &ImageSet{Profile: "injury-standard@1", Site: "left forearm", Restricted: true,
		Consent: []Consent{{By: "the person photographed", To: "photographs of injuries", Given: true, At: t0},
			{By: "the person photographed", To: "use of the photographs for research", Given: false, At: t0}}}
	return st
}

// derivedStatement is the first record of a derivative.
func derivedStatement(s *Signer) *Statement {
	st := receivedStatement(s)
	st.PredicateType = KindDerived.PredicateType()
	st.Predicate.Source = nil
	st.Predicate.Exhibit.DerivedFrom = "0190a0b0-0000-7000-8000-0000000000aa"
	st.Subject = append(st.Subject, SubjectFor("clahe.recipe.json", Sum([]byte("recipe"))))
	return st
}

// sealedStatement is an image set's sealed record naming its pictures.
func sealedStatement(s *Signer) *Statement {
	st := setStatement(s)
	st.PredicateType = KindSealed.PredicateType()
	st.Predicate.Seq, st.Predicate.Prev = 2, Sum([]byte("first"))
	st.Predicate.ImageSet, st.Predicate.Source = nil, nil
	st.Predicate.Members = []Member{{ID: "0190a0b0-0000-7000-8000-0000000000bb", Ref: "JS/2", Shot: "white", Record: Sum([]byte("r1"))},
		{ID: "0190a0b0-0000-7000-8000-0000000000cc", Ref: "JS/3", Shot: "415-yellow", Record: Sum([]byte("r2"))}}
	return st
}

// TestImagingSections: the image, imageSet and members sections and
// rejected records are accepted where docs/records.md puts them and refused
// elsewhere, by Sign and by DecodeRecord alike.
func TestImagingSections(t *testing.T) {
	s := testKey(1)
	tests := []struct {
		name string
		st   func() *Statement
		want string // "" accepts
	}{
		{"picture", func() *Statement { return pictureStatement(s) }, ""},
		{"image set", func() *Statement { return setStatement(s) }, ""},
		{"sealed set", func() *Statement { return sealedStatement(s) }, ""},
		{"rejected picture", func() *Statement {
			st := pictureStatement(s)
			st.PredicateType = KindRejected.PredicateType()
			st.Predicate.Seq, st.Predicate.Prev, st.Predicate.Image, st.Predicate.Source = 2, Sum([]byte("first")), nil, nil
			st.Predicate.Note = "the patient moved"
			return st
		}, ""},
		{"rejected without a reason", func() *Statement {
			st := pictureStatement(s)
			st.PredicateType = KindRejected.PredicateType()
			st.Predicate.Seq, st.Predicate.Prev, st.Predicate.Image = 2, Sum([]byte("first")), nil
			return st
		}, "rejected record"},
		{"rejected set", func() *Statement {
			st := setStatement(s)
			st.PredicateType = KindRejected.PredicateType()
			st.Predicate.Seq, st.Predicate.Prev, st.Predicate.ImageSet, st.Predicate.Note = 2, Sum([]byte("first")), nil, "no"
			return st
		}, "rejected record"},
		{"derivative", func() *Statement { return derivedStatement(s) }, ""},
		{"derivative from nothing", func() *Statement { st := derivedStatement(s); st.Predicate.Exhibit.DerivedFrom = ""; return st }, "derivedFrom"},
		{"derivative without its recipe", func() *Statement { st := derivedStatement(s); st.Subject = st.Subject[:1]; return st }, "two subjects"},
		{"derivative with a source", func() *Statement {
			st := derivedStatement(s)
			st.Predicate.Source = &Source{Size: 1}
			return st
		}, "no source"},
		{"picture outside a set", func() *Statement { st := pictureStatement(s); st.Predicate.Exhibit.PartOf = ""; return st }, "partOf"},
		{"picture on a received record", func() *Statement {
			st := pictureStatement(s)
			st.PredicateType = KindReceived.PredicateType()
			return st
		}, "image section"},
		{"picture on a document", func() *Statement { st := pictureStatement(s); st.Predicate.Exhibit.Kind = ExhibitDocument; return st }, "image section"},
		{"picture without a shot", func() *Statement { st := pictureStatement(s); st.Predicate.Image.Shot = ""; return st }, "required"},
		{"picture of 17 bits", func() *Statement { st := pictureStatement(s); st.Predicate.Image.BitDepth = 17; return st }, "bit depth"},
		{"picture at level 101", func() *Statement { st := pictureStatement(s); st.Predicate.Image.Level = 101; return st }, "level"},
		{"picture with attempt 0", func() *Statement { st := pictureStatement(s); st.Predicate.Image.Attempt = 0; return st }, "required"},
		{"set without a site", func() *Statement { st := setStatement(s); st.Predicate.ImageSet.Site = ""; return st }, "site"},
		{"set on an image", func() *Statement { st := setStatement(s); st.Predicate.Exhibit.Kind = ExhibitImage; return st }, "imageSet section"},
		{"consent without who", func() *Statement { st := setStatement(s); st.Predicate.ImageSet.Consent[1].By = ""; return st }, "consent 2"},
		{"consent without a time", func() *Statement { st := setStatement(s); st.Predicate.ImageSet.Consent[0].At = time.Time{}; return st }, "consent 1"},
		{"members on a captured record", func() *Statement {
			st := setStatement(s)
			st.Predicate.Members = sealedStatement(s).Predicate.Members
			return st
		}, "members belong"},
		{"members of an image", func() *Statement { st := sealedStatement(s); st.Predicate.Exhibit.Kind = ExhibitImage; return st }, "members belong"},
		{"a shot twice", func() *Statement {
			st := sealedStatement(s)
			st.Predicate.Members[1].Shot = "white"
			return st
		}, "appears twice"},
		{"member without its record", func() *Statement {
			st := sealedStatement(s)
			st.Predicate.Members[0].Record = Hash{}
			return st
		}, "member 1"},
	}
	for _, tt := range tests {
		r, err := Sign(tt.st(), s)
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
				continue
			}
			back, err := DecodeRecord(r.Envelope)
			if err != nil {
				t.Errorf("%s: signed but does not decode: %v", tt.name, err)
				continue
			}
			if back.Kind != r.Kind {
				t.Errorf("%s: kind %s decoded as %s", tt.name, r.Kind, back.Kind)
			}
			continue
		}
		if !errors.Is(err, ErrMalformedRecord) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want ErrMalformedRecord mentioning %q", tt.name, err, tt.want)
		}
	}
}

// TestImagingSectionsRoundTrip: what is signed reads back field for field.
func TestImagingSectionsRoundTrip(t *testing.T) {
	s := testKey(2)
	for _, st := range []*Statement{pictureStatement(s), setStatement(s), sealedStatement(s)} {
		r, err := Sign(st, s)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeRecord(r.Envelope)
		if err != nil {
			t.Fatal(err)
		}
		p, q := st.Predicate, back.Statement.Predicate
		if (p.Image == nil) != (q.Image == nil) || p.Image != nil && *p.Image != *q.Image {
			t.Errorf("image %+v read back as %+v", p.Image, q.Image)
		}
		if (p.ImageSet == nil) != (q.ImageSet == nil) || p.ImageSet != nil && (p.ImageSet.Site != q.ImageSet.Site ||
			p.ImageSet.Restricted != q.ImageSet.Restricted || len(p.ImageSet.Consent) != len(q.ImageSet.Consent) ||
			p.ImageSet.Consent[1] != q.ImageSet.Consent[1]) {
			t.Errorf("image set %+v read back as %+v", p.ImageSet, q.ImageSet)
		}
		if len(p.Members) != len(q.Members) || len(p.Members) > 0 && p.Members[1] != q.Members[1] {
			t.Errorf("members %+v read back as %+v", p.Members, q.Members)
		}
	}
}
