package recipe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// originals is an in-memory store of originals by digest.
type originals map[chain.Hash][]byte

func (o originals) Open(ctx context.Context, h chain.Hash) (io.ReadCloser, int64, error) {
	b, ok := o[h]
	if !ok {
		return nil, 0, errors.New("no such blob")
	}
	return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
}

// testFrame is a 96×64 frame with a gradient and a dark disc.
func testFrame(seed int) *camera.Frame {
	f := &camera.Frame{Width: 96, Height: 64, Channels: 1, Pix: make([]uint16, 96*64)}
	f.Meta.BitDepth = 16
	for y := 0; y < 64; y++ {
		for x := 0; x < 96; x++ {
			v := 20000 + 200*x + 100*y + 37*((x*7+y*13+seed)%11)
			if (x-40)*(x-40)+(y-30)*(y-30) < 100 {
				v -= 8000
			}
			f.Pix[y*96+x] = uint16(v)
		}
	}
	return f
}

// build records a recipe of every frame operation on two originals and
// returns it, the derivative's bytes and the originals.
func build(t *testing.T) (*Recipe, []byte, originals) {
	t.Helper()
	src := originals{}
	b := NewBuilder("composite")
	var names []string
	for i, name := range []string{"450-orange", "850-irpass"} {
		f := testFrame(i)
		orig, err := encode(f, "default")
		if err != nil {
			t.Fatal(err)
		}
		h := chain.Sum(orig)
		src[h] = orig
		back, err := DecodeFrame(orig)
		if err != nil {
			t.Fatal(err)
		}
		n := b.Input(Input{Name: name, Exhibit: "ex-" + name, Ref: "JS/" + string(rune('2'+i)), SHA256: h.Hex()}, back)
		w, err := b.Apply("warp", []string{n}, json.RawMessage(`{"warp":[[1,0,0.5],[0,1,-1]]}`))
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, w)
	}
	c, err := b.Apply("clahe", names[:1], nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.Apply("ratio", names, json.RawMessage(`{"gain":2}`))
	if err != nil {
		t.Fatal(err)
	}
	comp, err := b.Apply("composite", []string{c, r, names[1]}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec, out, err := b.Finish(comp, "composite.png")
	if err != nil {
		t.Fatal(err)
	}
	return rec, out, src
}

// TestRunReproduces: a recipe written down, parsed back and run on the
// originals gives the derivative's bytes exactly; a changed parameter, a
// changed original or a missing one does not.
func TestRunReproduces(t *testing.T) {
	rec, want, src := build(t)
	doc, err := rec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	r, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Run(context.Background(), r, src)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the recipe does not reproduce its derivative")
	}
	// A parameter changed: other bytes.
	changed, _ := Parse(bytes.Replace(doc, []byte(`"gain": 2`), []byte(`"gain": 3`), 1))
	if changed == nil {
		t.Fatal("could not change the gain in the recipe")
	}
	if got, err := Run(context.Background(), changed, src); err != nil || bytes.Equal(got, want) {
		t.Errorf("a changed gain gave the same bytes (%v)", err)
	}
	// An original that is not the one recorded is refused.
	for h := range src {
		bad := originals{}
		for k, v := range src {
			bad[k] = v
		}
		bad[h] = append(bytes.Clone(src[h]), 0)
		if _, err := Run(context.Background(), r, bad); err == nil || !strings.Contains(err.Error(), "does not match its digest") {
			t.Errorf("a changed original: %v", err)
		}
		delete(bad, h)
		if _, err := Run(context.Background(), r, bad); err == nil {
			t.Error("a missing original was not noticed")
		}
		break
	}
	if rec.Go == "" || len(rec.Steps) != 5 || rec.Steps[2].Libraries["opencv"] == "" {
		t.Errorf("recipe %+v", rec)
	}
}

// parseCases are recipe documents Parse must refuse, and one it accepts.
var parseCases = []struct {
	name, in, want string // want "" accepts
}{
	{"minimal", `{"format":"exhibit-recipe v1","kind":"clahe","inputs":[{"name":"a","exhibit":"e","ref":"JS/1","sha256":"` + strings.Repeat("ab", 32) + `"}],"steps":[{"op":"clahe","in":["a"],"out":"v1","params":{},"libraries":{}}],"output":{"value":"v1","name":"x.png","mediaType":"image/png","compression":"none"},"go":"go1.26"}`, ""},
	{"not-json", `{`, "recipe"},
	{"other-format", `{"format":"exhibit-recipe v2","kind":"","inputs":[],"steps":[],"output":{"value":"","name":"","mediaType":"","compression":""},"go":""}`, "format"},
	{"unknown-member", `{"format":"exhibit-recipe v1","extra":1}`, "unknown"},
	{"unknown-op", `{"format":"exhibit-recipe v1","kind":"x","inputs":[{"name":"a","exhibit":"e","ref":"JS/1","sha256":"` + strings.Repeat("ab", 32) + `"}],"steps":[{"op":"sharpen","in":["a"],"out":"v1","params":{},"libraries":{}}],"output":{"value":"v1","name":"x.png","mediaType":"image/png","compression":"none"},"go":""}`, "unknown operation"},
	{"reads-before-made", `{"format":"exhibit-recipe v1","kind":"x","inputs":[{"name":"a","exhibit":"e","ref":"JS/1","sha256":"` + strings.Repeat("ab", 32) + `"}],"steps":[{"op":"clahe","in":["b"],"out":"v1","params":{},"libraries":{}}],"output":{"value":"v1","name":"x.png","mediaType":"image/png","compression":"none"},"go":""}`, "before it is made"},
	{"bad-digest", `{"format":"exhibit-recipe v1","kind":"x","inputs":[{"name":"a","exhibit":"e","ref":"JS/1","sha256":"xyz"}],"steps":[],"output":{"value":"a","name":"x.png","mediaType":"image/png","compression":"none"},"go":""}`, "sha256"},
	{"output-not-made", `{"format":"exhibit-recipe v1","kind":"x","inputs":[],"steps":[],"output":{"value":"zz","name":"x.png","mediaType":"image/png","compression":"none"},"go":""}`, "output"},
	{"duplicate-member", `{"format":"exhibit-recipe v1","format":"exhibit-recipe v1"}`, "duplicate"},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		_, err := Parse([]byte(tc.in))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !errors.Is(err, ErrRecipe) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want ErrRecipe mentioning %q", tc.name, err, tc.want)
		}
	}
}

// FuzzParse: Parse never panics, and what it accepts marshals and parses
// back to the same recipe.
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b)
		if err != nil {
			return
		}
		doc, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(doc); err != nil {
			t.Fatalf("an accepted recipe does not read back: %v", err)
		}
	})
}

// TestWriteCorpus keeps FuzzParse's committed seed corpus equal to
// parseCases; -write-corpus rewrites it:
//
//	go test ./imaging/recipe -run TestWriteCorpus -write-corpus
func TestWriteCorpus(t *testing.T) {
	var seeds []fuzzseed.Seed
	for _, tc := range parseCases {
		seeds = append(seeds, fuzzseed.Seed{Name: tc.name, Args: []any{[]byte(tc.in)}})
	}
	fuzzseed.Sync(t, "FuzzParse", seeds)
}
