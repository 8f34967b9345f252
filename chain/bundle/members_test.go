package bundle

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
)

// TestSealedSetMembers: the verifier checks a sealed image set's members
// against the pictures in the bundle — a set that names its own pictures
// verifies; one whose seal names the wrong shot, a picture of another set,
// or a record that is not a picture's first is invalid, and the problem
// names the set's sealed record.
func TestSealedSetMembers(t *testing.T) {
	type member func(pics []store.Exhibit, firsts []chain.Hash, other store.Exhibit, otherFirst chain.Hash) []chain.Member
	ok := func(pics []store.Exhibit, firsts []chain.Hash, _ store.Exhibit, _ chain.Hash) []chain.Member {
		return []chain.Member{{ID: pics[0].ID, Ref: pics[0].Ref, Shot: "white", Record: firsts[0]},
			{ID: pics[1].ID, Ref: pics[1].Ref, Shot: "415-yellow", Record: firsts[1]}}
	}
	for _, tc := range []struct {
		name    string
		members member
		want    string
	}{
		{"own pictures", ok, ""},
		{"wrong shot", func(p []store.Exhibit, f []chain.Hash, o store.Exhibit, of chain.Hash) []chain.Member {
			m := ok(p, f, o, of)
			m[1].Shot = "450-orange"
			return m
		}, "not a picture of shot 450-orange"},
		{"another set's picture", func(p []store.Exhibit, f []chain.Hash, o store.Exhibit, of chain.Hash) []chain.Member {
			m := ok(p, f, o, of)
			m[1] = chain.Member{ID: o.ID, Ref: o.Ref, Shot: "415-yellow", Record: of}
			return m
		}, "is not part of this set"},
		{"not a first record", func(p []store.Exhibit, f []chain.Hash, o store.Exhibit, of chain.Hash) []chain.Member {
			m := ok(p, f, o, of)
			m[0].Record = p[0].Head // its rejected record
			return m
		}, "is not the first record of picture"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
			l, err := datadir.Init(ctx, t.TempDir(), "Jo Smith", "JS", datadir.Options{Now: func() time.Time { now = now.Add(time.Second); return now }})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			jo := chain.Person{Name: "Jo Smith"}
			newSet := func() store.Exhibit {
				ex, _, _, err := l.Capture(ctx, ledger.CaptureRequest{Case: "C-9", Kind: chain.ExhibitImageSet, FileName: "p.profile",
					Body: strings.NewReader("exhibit-profile v1\n"), Actor: jo,
					ImageSet: &chain.ImageSet{Profile: "p@1", Site: "left arm", Consent: []chain.Consent{}}})
				if err != nil {
					t.Fatal(err)
				}
				return ex
			}
			picture := func(set store.Exhibit, shot, body string) (store.Exhibit, chain.Hash) {
				ex, rec, _, err := l.Capture(ctx, ledger.CaptureRequest{Case: "C-9", Kind: chain.ExhibitImage, FileName: shot + ".png",
					Body: strings.NewReader(body), Actor: jo, PartOf: set.ID,
					Image: &chain.Image{Shot: shot, Attempt: 1, Band: "WL", Filter: "NONE", Level: 80, ExposureNs: 1000, Gain: "1",
						Width: 4, Height: 3, BitDepth: 16, MediaType: "image/png"}})
				if err != nil {
					t.Fatal(err)
				}
				return ex, rec.Hash
			}
			set, other := newSet(), newSet()
			p1, f1 := picture(set, "white", "white pixels")
			p2, f2 := picture(set, "415-yellow", "violet pixels")
			o1, of1 := picture(other, "415-yellow", "other violet pixels")
			if _, err := l.Append(ctx, p1.Ref, chain.KindRejected, jo, func(st *chain.Statement) error {
				st.Predicate.Note = "blurred"
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if p1, err = l.ExhibitByRef(ctx, p1.Ref); err != nil {
				t.Fatal(err)
			}
			members := tc.members([]store.Exhibit{p1, p2}, []chain.Hash{f1, f2}, o1, of1)
			if _, err := l.Append(ctx, set.Ref, chain.KindSealed, jo, func(st *chain.Statement) error {
				st.Predicate.Members = members
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if _, err := Export(ctx, l, "C-9", jo, &buf, ExportOptions{}); err != nil {
				t.Fatal(err)
			}
			res := verifyBytes(t, buf.Bytes(), Options{})
			if tc.want == "" {
				if !res.Valid {
					t.Fatalf("invalid: %+v", res.Problems)
				}
				return
			}
			found := false
			for _, p := range res.Problems {
				if strings.Contains(p.What, tc.want) {
					found = true
				}
			}
			if res.Valid || !found {
				t.Fatalf("valid %v, problems %+v; want one saying %q", res.Valid, res.Problems, tc.want)
			}
		})
	}
}
