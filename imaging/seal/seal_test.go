package seal_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/bundle"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/devices/camera/netcam"
	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/rigsim"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/rigtest"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
	"github.com/exhibit-forensics/exhibit/imaging/seal"
	"github.com/exhibit-forensics/exhibit/imaging/session"
)

const guard = 30 * time.Second

var shots = []session.Shot{
	{ID: "white", Label: "White light", Band: light.BandWhite, Level: 60, Settings: camera.Settings{Exposure: 8 * time.Millisecond, Gain: 1}},
	{ID: "415-yellow", Label: "Violet 415 nm, yellow filter", Band: light.Band415, Filter: light.FilterYellow, Level: 100, Settings: camera.Settings{Exposure: 40 * time.Millisecond, Gain: 4}},
	{ID: "450-orange", Label: "Blue 450 nm, orange filter", Band: light.Band450, Filter: light.FilterOrange, Level: 100, Settings: camera.Settings{Exposure: 40 * time.Millisecond, Gain: 4}},
}

var photographer = chain.Person{ID: "jsmith", Name: "Jo Smith", Role: "photographer"}

// devices starts the simulated rig and opens the real drivers on it.
func devices(t *testing.T, seed uint64) (*light.Dev, *netcam.Dev) {
	t.Helper()
	r := rigtest.Start(t, rigsim.Config{Seed: seed, Scene: scene.Config{Width: 640, Height: 480, Skin: 6}}, netcam.Config{})
	return r.Light, r.Camera
}

func newLedger(t *testing.T) (*ledger.Ledger, string) {
	t.Helper()
	dir := t.TempDir()
	l, err := datadir.Init(context.Background(), dir, "Jo Smith", "JS", datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, dir
}

func request() seal.Request {
	return seal.Request{Case: "01/123456/26", Profile: "test@1", Plan: []byte(`{"name":"test","version":1}`),
		Site: "left forearm, outer", Photographer: photographer, Device: "kiosk-1", Restricted: false,
		Consent: []chain.Consent{
			{By: "the person photographed", To: "photographs of injuries", Given: true, At: time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)},
			{By: "the person photographed", To: "use in teaching", Given: false, At: time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)},
		}}
}

func blob(t *testing.T, l *ledger.Ledger, h chain.Hash) []byte {
	t.Helper()
	rc, _, err := l.Open(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCaptureSealExportVerify: a capture with a retake becomes an image
// set, one picture per frame taken (the retaken one set aside, not
// removed), each holding the camera's bytes exactly, and a sealed record
// naming the accepted pictures; fsck passes and the case's bundle verifies.
func TestCaptureSealExportVerify(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	l, dir := newLedger(t)
	ld, cam := devices(t, 21)
	set, err := seal.Begin(ctx, l, request())
	if err != nil {
		t.Fatal(err)
	}
	s, err := session.New(session.Config{Light: ld, Camera: cam, SettlePoll: 2 * time.Millisecond, Keep: set.Keep})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(ctx, shots); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Retake(ctx, "415-yellow", "the patient moved"); err != nil {
		t.Fatal(err)
	}
	rec, err := set.Seal(ctx, s.Accepted())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := set.Seal(ctx, s.Accepted()); !errors.Is(err, seal.ErrSealed) {
		t.Errorf("sealed twice: %v", err)
	}

	// The set, and every frame taken as a picture of it.
	exs, err := l.Exhibits(ctx, "01/123456/26")
	if err != nil {
		t.Fatal(err)
	}
	if len(exs) != 5 {
		t.Fatalf("%d exhibits, want the set and 4 pictures", len(exs))
	}
	setEx := set.Exhibit
	if setEx.Kind != chain.ExhibitImageSet || string(blob(t, l, setEx.Blobs[0].Hash)) != string(request().Plan) {
		t.Fatalf("set %+v", setEx)
	}
	for _, f := range s.Frames() {
		ex, ok := set.Picture(f)
		if !ok {
			t.Fatalf("%s attempt %d not recorded", f.Shot.ID, f.Attempt)
		}
		if ex.Kind != chain.ExhibitImage || ex.PartOf != setEx.ID {
			t.Errorf("picture %+v", ex.ExhibitInfo)
		}
		if got := blob(t, l, ex.Blobs[0].Hash); !bytes.Equal(got, f.Image.Encoded) {
			t.Errorf("%s: the picture's bytes are not the camera's", ex.Ref)
		}
		recs, err := l.ChainRecords(ctx, ex.ID)
		if err != nil {
			t.Fatal(err)
		}
		first, err := chain.DecodeRecord(recs[0].Envelope)
		if err != nil {
			t.Fatal(err)
		}
		im := first.Statement.Predicate.Image
		if im == nil || im.Shot != f.Shot.ID || im.Attempt != f.Attempt || im.Band != f.Shot.Band.Token() || im.MediaType != "image/png" ||
			im.Width != 640 || im.BitDepth != 16 || im.ExposureNs != int64(f.Applied.Exposure) {
			t.Errorf("%s: image section %+v", ex.Ref, im)
		}
		switch {
		case f.Rejected != "":
			last, err := chain.DecodeRecord(recs[len(recs)-1].Envelope)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 2 || last.Kind != chain.KindRejected || last.Statement.Predicate.Note != "the patient moved" {
				t.Errorf("%s: set aside as %v %q", ex.Ref, last.Kind, last.Statement.Predicate.Note)
			}
		case len(recs) != 1:
			t.Errorf("%s: %d records", ex.Ref, len(recs))
		}
	}
	sealed, err := chain.DecodeRecord(rec.Envelope)
	if err != nil {
		t.Fatal(err)
	}
	ms := sealed.Statement.Predicate.Members
	if sealed.Kind != chain.KindSealed || len(ms) != 3 {
		t.Fatalf("sealed %v with %d members", sealed.Kind, len(ms))
	}
	for i, f := range s.Accepted() {
		ex, _ := set.Picture(f)
		recs, err := l.ChainRecords(ctx, ex.ID)
		if err != nil {
			t.Fatal(err)
		}
		if ms[i].ID != ex.ID || ms[i].Ref != ex.Ref || ms[i].Shot != f.Shot.ID || ms[i].Record != recs[0].Hash {
			t.Errorf("member %d %+v, picture %s first record %s", i, ms[i], ex.Ref, recs[0].Hash)
		}
	}

	rep, err := l.Fsck(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("fsck: %v %+v", err, rep)
	}
	out := filepath.Join(dir, "case.zip")
	if _, err := bundle.ExportFile(ctx, l, "01/123456/26", photographer, out, bundle.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	st, _ := fh.Stat()
	res, err := bundle.Verify(ctx, fh, st.Size(), bundle.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Valid {
		t.Fatalf("bundle invalid: %+v", res.Problems)
	}
	if len(res.Exhibits) != 5 {
		t.Errorf("bundle holds %d exhibits, want 5", len(res.Exhibits))
	}
}

// failing is a ledger whose captures fail after the first n, as a full
// disk makes them fail.
type failing struct {
	seal.Ledger
	n int
}

var errFull = errors.New("no space left on device")

func (f *failing) Capture(ctx context.Context, req ledger.CaptureRequest) (store.Exhibit, *chain.Record, bool, error) {
	if f.n == 0 {
		return store.Exhibit{}, nil, false, errFull
	}
	f.n--
	return f.Ledger.Capture(ctx, req)
}

// TestDiskFullStopsCapture: when a picture cannot be recorded the capture
// stops before the next shot with the devices safe, the pictures recorded
// before it stay, and the set is not sealed.
func TestDiskFullStopsCapture(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	l, _ := newLedger(t)
	ld, cam := devices(t, 22)
	fl := &failing{Ledger: l, n: 2} // the set and the first picture
	set, err := seal.Begin(ctx, fl, request())
	if err != nil {
		t.Fatal(err)
	}
	s, err := session.New(session.Config{Light: ld, Camera: cam, SettlePoll: 2 * time.Millisecond, Keep: set.Keep})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Run(ctx, shots)
	var se *session.ShotError
	if !errors.As(err, &se) || !errors.Is(err, errFull) || se.Step != "keep" || se.Shot.ID != "415-yellow" {
		t.Fatalf("err %v", err)
	}
	if !strings.Contains(se.Advice(), "could not be saved") {
		t.Errorf("advice %q", se.Advice())
	}
	st, err := ld.Status(ctx)
	if err != nil || st.On {
		t.Errorf("light after the failure: %v %v", st, err)
	}
	exs, err := l.Exhibits(ctx, "01/123456/26")
	if err != nil {
		t.Fatal(err)
	}
	if len(exs) != 2 {
		t.Fatalf("%d exhibits, want the set and the white picture", len(exs))
	}
	for _, ex := range exs {
		if ex.Seq != 1 {
			t.Errorf("%s has %d records: nothing should be sealed", ex.Ref, ex.Seq)
		}
	}
	rep, err := l.Fsck(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("fsck: %v %+v", err, rep)
	}
}
