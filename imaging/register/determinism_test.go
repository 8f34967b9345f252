package register

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/devices/camera"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from this run")

// capture is one simulated capture: a reference and the bands to register.
type capture struct {
	ref   *camera.Frame
	names []string
	bands []*camera.Frame
}

func smallCapture(t testing.TB, w, h int) capture {
	r := newRig(t, 42, 5, w, h)
	c := capture{}
	c.ref, _ = r.shoot(t, shotCrossP)
	for _, s := range testShots {
		f, _ := r.shoot(t, s)
		c.names = append(c.names, s.name)
		c.bands = append(c.bands, f)
	}
	return c
}

// digest is a text summary of a registration that differs if any output
// bit differs: the warp and scores written exactly, and SHA-256 of the
// registered samples (little-endian) and of the mask.
func digest(t testing.TB, names []string, rs []Result) string {
	t.Helper()
	var b strings.Builder
	for i, r := range rs {
		pix := make([]byte, 2*len(r.Frame.Pix))
		for j, v := range r.Frame.Pix {
			binary.LittleEndian.PutUint16(pix[2*j:], v)
		}
		fmt.Fprintf(&b, "%s\n", names[i])
		for _, row := range r.Warp {
			fmt.Fprintf(&b, "  warp %s %s %s\n", exact(row[0]), exact(row[1]), exact(row[2]))
		}
		fmt.Fprintf(&b, "  ecc %s residual %s\n", exact(r.Correlation), exact(r.Residual))
		fmt.Fprintf(&b, "  frame sha256:%x\n  mask  sha256:%x valid %d\n", sha256.Sum256(pix), sha256.Sum256(r.Mask.Pix), r.Mask.Valid)
	}
	return b.String()
}

func exact(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// TestDeterministic registers one 12 MP capture three times — twice with
// OpenCV's default worker threads and once with one thread — and requires
// the same bytes every time; applying the recorded warps again (what a
// recipe does) must give the same frames too.
func TestDeterministic(t *testing.T) {
	w, h := 4000, 3000 // the sensor's size: OpenCV splits its work by size
	if testing.Short() {
		w, h = 1600, 1200
	}
	c := smallCapture(t, w, h)
	run := func() []Result {
		rs, err := Bands(context.Background(), c.ref, c.bands, Config{})
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	threads := Threads()
	t.Logf("OpenCV %s, %d worker threads by default", OpenCVVersion(), threads)
	first := digest(t, c.names, run())
	if again := digest(t, c.names, run()); again != first {
		t.Fatalf("second run differs:\n%s\nfirst:\n%s", again, first)
	}
	if SetThreads(1) != 1 {
		t.Fatal("cannot set OpenCV to one thread")
	}
	one := run()
	SetThreads(threads)
	if got := digest(t, c.names, one); got != first {
		t.Fatalf("one thread differs from %d:\n%s\nfirst:\n%s", threads, got, first)
	}
	var replayed []Result
	for i, r := range one {
		f, m, err := Apply(c.bands[i], r.Warp)
		if err != nil {
			t.Fatal(err)
		}
		replayed = append(replayed, Result{Estimate: r.Estimate, Frame: f, Mask: m})
	}
	if got := digest(t, c.names, replayed); got != first {
		t.Fatalf("Apply with the recorded warps differs:\n%s\nfirst:\n%s", got, first)
	}
}

// TestGolden pins one capture's registration — warps, scores, output
// digests — and the recipe record a later step stores. Run with -update
// after a deliberate change; a change that was not deliberate breaks the
// bit-for-bit reproduction of derivatives sealed earlier.
func TestGolden(t *testing.T) {
	c := smallCapture(t, 1000, 750)
	rs, err := Bands(context.Background(), c.ref, c.bands, Config{})
	if err != nil {
		t.Fatal(err)
	}
	var rec bytes.Buffer
	enc := json.NewEncoder(&rec)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rs[1].Estimate); err != nil {
		t.Fatal(err)
	}
	for _, g := range []struct{ file, got string }{
		{"bands.golden", digest(t, c.names, rs)},
		{"estimate.golden.json", rec.String()},
	} {
		path := filepath.Join("testdata", g.file)
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(g.got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if string(want) != g.got {
			t.Errorf("%s differs:\ngot:\n%s\nwant:\n%s", path, g.got, want)
		}
	}
	var back Estimate
	if err := json.Unmarshal(rec.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Warp != rs[1].Warp {
		t.Errorf("the warp does not survive JSON: %v → %v", rs[1].Warp, back.Warp)
	}
}
