// Package seal turns a capture into evidence through the ledger
// (docs/records.md, "Pictures"): an image-set exhibit whose original is the
// capture plan (the profile file as used), one picture exhibit per frame taken — the bytes exactly as
// the camera sent them, part of the set — a rejected record on every picture a
// retake set aside (or that the light went off during), and a sealed record
// on the set naming the pictures it holds.
//
// Pictures are recorded as they are taken, not at the end: a Set's Keep is a
// imaging/session Config.Keep, so each frame is durable (blob stored, record
// signed, committed to the log) before the next shot begins, and a kiosk
// that loses power mid-capture loses at most the frame being exposed. Each
// picture is claimed under a key made of the set's id, the shot, the
// attempt and the picture's digest, so a repeated Keep of one frame records
// it once, and a different frame is never mistaken for it.
//
// A camera that delivers raw samples rather than an encoded image (v4l2) has
// its frame encoded as a 16-bit greyscale PNG with Go's image/png, which is
// lossless; that PNG is then the original.
package seal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"strconv"
	"sync"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/imaging/session"
)

// Ledger is what sealing needs of the evidence store; *ledger.Ledger is one.
type Ledger interface {
	Capture(ctx context.Context, req ledger.CaptureRequest) (store.Exhibit, *chain.Record, bool, error)
	Append(ctx context.Context, ref string, k chain.Kind, actor chain.Person, fill ledger.AppendFunc) (*chain.Record, error)
}

var _ Ledger = (*ledger.Ledger)(nil)

// A Request describes a capture about to begin.
type Request struct {
	Case string
	// Profile is "name@version"; Plan the capture plan as used (the
	// profile file, docs/profiles.md), kept as the set's original under
	// PlanName (default "capture.profile").
	Profile  string
	Plan     []byte
	PlanName string
	Site     string
	Consent  []chain.Consent
	// Restricted and BiometricMark are the set's flags.
	Restricted, BiometricMark bool
	// Photographer took the pictures; Device names the kiosk.
	Photographer chain.Person
	Device       string
}

// ErrSealed: the set was sealed; nothing more can be added.
var ErrSealed = errors.New("seal: the image set is already sealed")

// A Set is an image set being captured.
type Set struct {
	l   Ledger
	req Request
	// Exhibit is the image set's exhibit.
	Exhibit store.Exhibit

	mu       sync.Mutex
	pictures map[*session.Frame]store.Exhibit
	first    map[*session.Frame]chain.Hash
	sealed   bool
}

// Begin records the image set: an image-set exhibit whose original is the
// plan.
func Begin(ctx context.Context, l Ledger, req Request) (*Set, error) {
	if len(req.Plan) == 0 {
		return nil, errors.New("seal: a capture needs its plan")
	}
	consent := req.Consent
	if consent == nil {
		consent = []chain.Consent{}
	}
	name := req.PlanName
	if name == "" {
		name = "capture.profile"
	}
	ex, _, _, err := l.Capture(ctx, ledger.CaptureRequest{
		Case: req.Case, Kind: chain.ExhibitImageSet, FileName: name, Body: bytes.NewReader(req.Plan),
		Actor: req.Photographer, Device: req.Device,
		ImageSet: &chain.ImageSet{Profile: req.Profile, Site: req.Site, Restricted: req.Restricted,
			BiometricMark: req.BiometricMark, Consent: consent},
	})
	if err != nil {
		return nil, fmt.Errorf("seal: recording the image set: %w", err)
	}
	return &Set{l: l, req: req, Exhibit: ex, pictures: map[*session.Frame]store.Exhibit{}, first: map[*session.Frame]chain.Hash{}}, nil
}

// Keep records f as a picture of the set (and, for a retake, sets the
// picture it replaces aside; a frame already rejected when it is kept — the
// light went off during it — is set aside itself). It is a
// session.Config.Keep.
func (s *Set) Keep(ctx context.Context, f *session.Frame) error {
	s.mu.Lock()
	sealed := s.sealed
	s.mu.Unlock()
	if sealed {
		return ErrSealed
	}
	body, mediaType, err := Original(f)
	if err != nil {
		return err
	}
	img := f.Image
	depth := img.Meta.BitDepth
	if depth == 0 {
		depth = 16
	}
	sh := f.Shot
	// The key names the bytes by their digest: the one the driver checked
	// when it has one, else worked out here.
	sum := chain.Hash(img.EncodedSHA256)
	if sum == (chain.Hash{}) || len(img.Encoded) == 0 {
		sum = chain.Sum(body)
	}
	ex, rec, _, err := s.l.Capture(ctx, ledger.CaptureRequest{
		Case: s.req.Case, Kind: chain.ExhibitImage, PartOf: s.Exhibit.ID,
		FileName: fmt.Sprintf("%s-%d.png", sh.ID, f.Attempt), Body: bytes.NewReader(body),
		Actor: s.req.Photographer, Device: img.Meta.Device,
		Key: fmt.Sprintf("picture:%s:%s:%d:%s", s.Exhibit.ID, sh.ID, f.Attempt, sum.Hex()),
		Image: &chain.Image{Shot: sh.ID, Attempt: f.Attempt, Band: sh.Band.Token(), Filter: sh.Filter.Token(), Level: sh.Level,
			ExposureNs: int64(f.Applied.Exposure / time.Nanosecond), Gain: strconv.FormatFloat(f.Applied.Gain, 'f', -1, 64),
			Width: img.Width, Height: img.Height, BitDepth: depth, MediaType: mediaType},
	})
	if err != nil {
		return fmt.Errorf("seal: recording %s: %w", sh.ID, err)
	}
	if f.Rejected != "" {
		// Set aside as it was taken (the light went off during it): its
		// rejected record follows at once.
		if _, err := s.l.Append(ctx, ex.Ref, chain.KindRejected, s.req.Photographer, func(st *chain.Statement) error {
			st.Predicate.Note = f.Rejected
			return nil
		}); err != nil {
			return fmt.Errorf("seal: setting %s aside: %w", ex.Ref, err)
		}
	}
	if f.Replaces != nil {
		s.mu.Lock()
		old, ok := s.pictures[f.Replaces]
		s.mu.Unlock()
		if !ok {
			return fmt.Errorf("seal: the picture %s replaces was never recorded", sh.ID)
		}
		if _, err := s.l.Append(ctx, old.Ref, chain.KindRejected, s.req.Photographer, func(st *chain.Statement) error {
			st.Predicate.Note = f.Why
			return nil
		}); err != nil {
			return fmt.Errorf("seal: setting %s aside: %w", old.Ref, err)
		}
	}
	s.mu.Lock()
	s.pictures[f] = ex
	s.first[f] = rec.Hash
	s.mu.Unlock()
	return nil
}

// Picture returns the exhibit f was recorded as.
func (s *Set) Picture(f *session.Frame) (store.Exhibit, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ex, ok := s.pictures[f]
	return ex, ok
}

// Seal ends the capture: a sealed record on the set naming the accepted
// pictures, one per shot. Every accepted frame must have been kept.
func (s *Set) Seal(ctx context.Context, accepted []*session.Frame) (*chain.Record, error) {
	s.mu.Lock()
	if s.sealed {
		s.mu.Unlock()
		return nil, ErrSealed
	}
	members := make([]chain.Member, 0, len(accepted))
	for _, f := range accepted {
		ex, ok := s.pictures[f]
		if !ok {
			s.mu.Unlock()
			return nil, fmt.Errorf("seal: %s (attempt %d) was never recorded", f.Shot.ID, f.Attempt)
		}
		if f.Rejected != "" {
			s.mu.Unlock()
			return nil, fmt.Errorf("seal: %s (attempt %d) was set aside: %s", f.Shot.ID, f.Attempt, f.Rejected)
		}
		members = append(members, chain.Member{ID: ex.ID, Ref: ex.Ref, Shot: f.Shot.ID, Record: s.first[f]})
	}
	s.mu.Unlock()
	if len(members) == 0 {
		return nil, errors.New("seal: a set with no pictures cannot be sealed")
	}
	rec, err := s.l.Append(ctx, s.Exhibit.Ref, chain.KindSealed, s.req.Photographer, func(st *chain.Statement) error {
		st.Predicate.Members = members
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("seal: sealing %s: %w", s.Exhibit.Ref, err)
	}
	s.mu.Lock()
	s.sealed = true
	s.mu.Unlock()
	return rec, nil
}

// Original returns the bytes evidence keeps for f and their media type:
// the image as the camera sent it, or, for a camera that sends raw
// samples, their lossless 16-bit PNG encoding.
func Original(f *session.Frame) ([]byte, string, error) {
	img := f.Image
	if img == nil {
		return nil, "", errors.New("seal: a frame without an image")
	}
	if len(img.Encoded) > 0 {
		if img.EncodedType == "" {
			return nil, "", errors.New("seal: an encoded frame without its media type")
		}
		return img.Encoded, img.EncodedType, nil
	}
	g, err := img.Gray16()
	if err != nil {
		return nil, "", fmt.Errorf("seal: %s: %w", f.Shot.ID, err)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, g); err != nil {
		return nil, "", fmt.Errorf("seal: encoding %s: %w", f.Shot.ID, err)
	}
	return b.Bytes(), "image/png", nil
}
