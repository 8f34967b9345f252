// Package recipe records how a derivative was made from sealed originals,
// and makes it again (docs/recipes.md).
//
// A recipe is a small program: named inputs (originals, by digest), then
// steps, each an operation of imaging/register, imaging/enhance or
// imaging/measure with its parameters in full, reading earlier values by name
// and writing one new value, and last the encoding of the final value. Run
// executes one on the originals' bytes; the derivative is reproducible when
// the bytes Run returns are the sealed derivative's, byte for byte. `exhibit
// imaging reproduce` does exactly that.
//
// Nothing in a step depends on anything but its inputs and its recorded
// parameters: registration is recorded as the warp it found (Apply, not
// the ECC search, is re-run: the search is sensitive to the CPU's vector
// code paths; the warp's application is not), a measurement's exclusion
// polygons (the scale) as the polygons, every default filled in. Each step
// also records the library versions that computed it, so that a difference
// in bytes can be traced to an upgrade.
package recipe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"runtime"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/imaging/enhance"
	"github.com/exhibit-forensics/exhibit/imaging/measure"
	"github.com/exhibit-forensics/exhibit/imaging/register"
)

// Format is the value of a recipe's "format" member.
const Format = "exhibit-recipe v1"

// MaxSize bounds a recipe document.
const MaxSize = 1 << 20

// ErrRecipe is wrapped by every error about a recipe's contents.
var ErrRecipe = errors.New("recipe")

// A Recipe says how to make a derivative from originals.
type Recipe struct {
	Format string  `json:"format"`
	Kind   string  `json:"kind"` // "clahe", "ratio", "composite", "outline"
	Inputs []Input `json:"inputs"`
	Steps  []Step  `json:"steps"`
	Output Output  `json:"output"`
	// Go is the Go release that encoded the output (image/png).
	Go string `json:"go"`
	// Notes are facts about the making that Run does not use: the
	// registration estimates (correlation, residual), the measurements.
	Notes map[string]json.RawMessage `json:"notes,omitempty"`
}

// An Input is an original, named for the steps.
type Input struct {
	Name    string `json:"name"` // e.g. the shot id, "450-orange"
	Exhibit string `json:"exhibit"`
	Ref     string `json:"ref"`
	SHA256  string `json:"sha256"` // hex digest of the original's bytes
}

// A Step is one operation.
type Step struct {
	Op        string            `json:"op"` // warp, clahe, ratio, composite, preview, measure, overlay
	In        []string          `json:"in"`
	Out       string            `json:"out"`
	Params    json.RawMessage   `json:"params"`
	Libraries map[string]string `json:"libraries"`
}

// Output is the derivative: the value encoded, and how.
type Output struct {
	Value     string `json:"value"`
	Name      string `json:"name"`      // file name, e.g. "clahe-450-orange.png"
	MediaType string `json:"mediaType"` // "image/png"
	// Compression names how the PNG is written: "stored" (exhibit's own
	// fully specified layout, encodeStored: what captures write since
	// this member took the value), or Go's image/png encoder at level
	// "none" (stored deflate blocks, the layout Go chooses) or "default".
	Compression string `json:"compression"`
}

// Compression levels of Output.Compression written with Go's image/png;
// "stored" is encodeStored.
var compressions = map[string]png.CompressionLevel{"none": png.NoCompression, "default": png.DefaultCompression}

// Stored is the Output.Compression of derivatives written with
// encodeStored.
const Stored = "stored"

// Builder records a recipe while its derivative is computed: each method
// performs an operation and appends its step.
type Builder struct {
	r      Recipe
	values map[string]any // *camera.Frame, *image.NRGBA, *measure.Result
	n      int
}

// NewBuilder starts a recipe of kind.
func NewBuilder(kind string) *Builder {
	return &Builder{r: Recipe{Format: Format, Kind: kind, Go: runtime.Version()}, values: map[string]any{}}
}

// Input adds an original: its decoded frame under name.
func (b *Builder) Input(in Input, f *camera.Frame) string {
	b.r.Inputs = append(b.r.Inputs, in)
	b.values[in.Name] = f
	return in.Name
}

// Note records a fact that Run does not use.
func (b *Builder) Note(key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if b.r.Notes == nil {
		b.r.Notes = map[string]json.RawMessage{}
	}
	b.r.Notes[key] = raw
	return nil
}

func (b *Builder) add(op string, in []string, params any, libs map[string]string, v any) (string, error) {
	raw, err := json.Marshal(params)
	if err != nil {
		return "", err
	}
	b.n++
	out := fmt.Sprintf("v%d", b.n)
	b.r.Steps = append(b.r.Steps, Step{Op: op, In: in, Out: out, Params: raw, Libraries: libs})
	b.values[out] = v
	return out, nil
}

// Value returns a value computed so far.
func (b *Builder) Value(name string) any { return b.values[name] }

// Apply performs and records an operation.
func (b *Builder) Apply(op string, in []string, params json.RawMessage) (string, error) {
	v, libs, canonical, err := run(op, in, params, b.values)
	if err != nil {
		return "", err
	}
	return b.add(op, in, canonical, libs, v)
}

// Record appends a step whose value the caller has already computed with
// the same operation, inputs and parameters — a registered band that
// several derivatives use is warped once. The recipe is only as good as
// that promise; reproducing it (Run) is what checks it.
func (b *Builder) Record(op string, in []string, params json.RawMessage, libs map[string]string, v any) (string, error) {
	if _, ok := ops[op]; !ok {
		return "", fmt.Errorf("%w: unknown operation %q", ErrRecipe, op)
	}
	for _, n := range in {
		if _, ok := b.values[n]; !ok {
			return "", fmt.Errorf("%w: %s reads %q, which does not exist", ErrRecipe, op, n)
		}
	}
	return b.add(op, in, json.RawMessage(params), libs, v)
}

// Finish encodes value as the output (PNG in the "stored" layout: no
// compression, every byte fixed by the pixels) and returns the recipe and
// the derivative's bytes.
func (b *Builder) Finish(value, name string) (*Recipe, []byte, error) {
	out, err := encode(b.values[value], Stored)
	if err != nil {
		return nil, nil, err
	}
	b.r.Output = Output{Value: value, Name: name, MediaType: "image/png", Compression: Stored}
	r := b.r
	return &r, out, nil
}

// Marshal writes the recipe as the JSON document kept with the derivative.
func (r *Recipe) Marshal() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }

// Parse reads a recipe document strictly (unknown or repeated members are
// errors).
func Parse(b []byte) (*Recipe, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%w: over %d bytes", ErrRecipe, MaxSize)
	}
	var r Recipe
	if err := chain.UnmarshalStrict(b, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRecipe, err)
	}
	if r.Format != Format {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrRecipe, r.Format, Format)
	}
	names := map[string]bool{}
	for i, in := range r.Inputs {
		h, err := chain.ParseHash("sha256:" + in.SHA256)
		if in.Name == "" || names[in.Name] || err != nil || h.IsZero() {
			return nil, fmt.Errorf("%w: input %d: a unique name and a sha256 digest are required", ErrRecipe, i+1)
		}
		names[in.Name] = true
	}
	for i, s := range r.Steps {
		if s.Out == "" || names[s.Out] {
			return nil, fmt.Errorf("%w: step %d (%s): its output needs a new name", ErrRecipe, i+1, s.Op)
		}
		for _, in := range s.In {
			if !names[in] {
				return nil, fmt.Errorf("%w: step %d (%s) reads %q before it is made", ErrRecipe, i+1, s.Op, in)
			}
		}
		if _, ok := ops[s.Op]; !ok {
			return nil, fmt.Errorf("%w: step %d: unknown operation %q", ErrRecipe, i+1, s.Op)
		}
		names[s.Out] = true
	}
	if _, ok := compressions[r.Output.Compression]; !names[r.Output.Value] || r.Output.MediaType != "image/png" || !ok && r.Output.Compression != Stored {
		return nil, fmt.Errorf("%w: the output must be a value the recipe makes, as image/png with compression stored, none or default", ErrRecipe)
	}
	return &r, nil
}

// Originals gives an original's bytes by digest.
type Originals interface {
	Open(ctx context.Context, h chain.Hash) (io.ReadCloser, int64, error)
}

// Run makes the derivative again from the originals, and returns its bytes.
func Run(ctx context.Context, r *Recipe, src Originals) ([]byte, error) {
	values := map[string]any{}
	for _, in := range r.Inputs {
		h, err := chain.ParseHash("sha256:" + in.SHA256)
		if err != nil {
			return nil, fmt.Errorf("%w: input %s: %v", ErrRecipe, in.Name, err)
		}
		rc, _, err := src.Open(ctx, h)
		if err != nil {
			return nil, fmt.Errorf("recipe: original %s (%s): %w", in.Name, in.Ref, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("recipe: original %s: %w", in.Name, err)
		}
		if chain.Sum(b) != h {
			return nil, fmt.Errorf("recipe: original %s does not match its digest", in.Name)
		}
		f, err := DecodeFrame(b)
		if err != nil {
			return nil, fmt.Errorf("recipe: original %s: %w", in.Name, err)
		}
		values[in.Name] = f
	}
	for i, s := range r.Steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		v, _, _, err := run(s.Op, s.In, s.Params, values)
		if err != nil {
			return nil, fmt.Errorf("recipe: step %d (%s): %w", i+1, s.Op, err)
		}
		values[s.Out] = v
	}
	return encode(values[r.Output.Value], r.Output.Compression)
}

// DecodeFrame decodes a 16-bit (or 8-bit) greyscale PNG into a frame, as
// the camera driver does.
func DecodeFrame(b []byte) (*camera.Frame, error) {
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	bd := img.Bounds()
	f := &camera.Frame{Width: bd.Dx(), Height: bd.Dy(), Channels: 1, Pix: make([]uint16, bd.Dx()*bd.Dy())}
	f.Meta.BitDepth = 16
	switch g := img.(type) {
	case *image.Gray16:
		for y := 0; y < f.Height; y++ {
			for x := 0; x < f.Width; x++ {
				f.Pix[y*f.Width+x] = g.Gray16At(bd.Min.X+x, bd.Min.Y+y).Y
			}
		}
	case *image.Gray:
		f.Meta.BitDepth, f.Meta.Widened = 8, true
		for y := 0; y < f.Height; y++ {
			for x := 0; x < f.Width; x++ {
				f.Pix[y*f.Width+x] = camera.Widen8(g.GrayAt(bd.Min.X+x, bd.Min.Y+y).Y)
			}
		}
	default:
		return nil, fmt.Errorf("a %T PNG is not a greyscale picture", img)
	}
	return f, nil
}

// encode writes a value as PNG: a frame as 16-bit greyscale, a picture as
// 8-bit RGBA.
func encode(v any, compression string) ([]byte, error) {
	if compression == Stored {
		return encodeStored(v)
	}
	var img image.Image
	switch v := v.(type) {
	case *camera.Frame:
		g, err := v.Gray16()
		if err != nil {
			return nil, err
		}
		img = g
	case *image.NRGBA:
		img = v
	default:
		return nil, fmt.Errorf("%w: a %T cannot be the output", ErrRecipe, v)
	}
	level, ok := compressions[compression]
	if !ok {
		return nil, fmt.Errorf("%w: compression %q", ErrRecipe, compression)
	}
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: level}).Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// An op performs one operation on values; it returns the value, the
// libraries, and its parameters with defaults filled in.
type op func(in []any, params json.RawMessage) (v any, libs map[string]string, canonical any, err error)

var ops = map[string]op{
	"warp": func(in []any, params json.RawMessage) (any, map[string]string, any, error) {
		var p struct {
			Warp register.Warp `json:"warp"`
		}
		f, err := oneFrame(in, params, &p)
		if err != nil {
			return nil, nil, nil, err
		}
		out, _, err := register.Apply(f, p.Warp)
		return out, enhance.OpenCVLibraries(), p, err
	},
	"clahe": func(in []any, params json.RawMessage) (any, map[string]string, any, error) {
		var p enhance.CLAHEParams
		f, err := oneFrame(in, params, &p)
		if err != nil {
			return nil, nil, nil, err
		}
		out, st, err := enhance.CLAHE(f, p)
		return out, st.Libraries, st.Params, err
	},
	"ratio": func(in []any, params json.RawMessage) (any, map[string]string, any, error) {
		var p enhance.RatioParams
		fs, err := frames(in, 2, params, &p)
		if err != nil {
			return nil, nil, nil, err
		}
		out, st, err := enhance.Ratio(fs[0], fs[1], p)
		return out, st.Libraries, st.Params, err
	},
	"composite": func(in []any, params json.RawMessage) (any, map[string]string, any, error) {
		var p enhance.CompositeParams
		fs, err := frames(in, 3, params, &p)
		if err != nil {
			return nil, nil, nil, err
		}
		out, st, err := enhance.Composite(fs[0], fs[1], fs[2], p)
		return out, st.Libraries, st.Params, err
	},
	"preview": func(in []any, params json.RawMessage) (any, map[string]string, any, error) {
		var p enhance.PreviewParams
		f, err := oneFrame(in, params, &p)
		if err != nil {
			return nil, nil, nil, err
		}
		out, st, err := enhance.Preview(f, p)
		return out, st.Libraries, st.Params, err
	},
	"measure": func(in []any, params json.RawMessage) (any, map[string]string, any, error) {
		var p measure.Params
		if len(in) != 1 && len(in) != 2 {
			return nil, nil, nil, fmt.Errorf("%w: measure takes a band and an optional reference", ErrRecipe)
		}
		fs, err := frames(in, len(in), params, &p)
		if err != nil {
			return nil, nil, nil, err
		}
		var ref *camera.Frame
		if len(fs) == 2 {
			ref = fs[1]
		}
		res, err := measure.Measure(fs[0], ref, p)
		if err != nil {
			return nil, nil, nil, err
		}
		return res, res.Step.Libraries, res.Step.Params, nil
	},
	"overlay": func(in []any, params json.RawMessage) (any, map[string]string, any, error) {
		if len(in) != 2 {
			return nil, nil, nil, fmt.Errorf("%w: overlay takes a measurement and a preview", ErrRecipe)
		}
		res, ok1 := in[0].(*measure.Result)
		pv, ok2 := in[1].(*image.NRGBA)
		if !ok1 || !ok2 {
			return nil, nil, nil, fmt.Errorf("%w: overlay takes a measurement and a preview, not %T and %T", ErrRecipe, in[0], in[1])
		}
		out, st := res.Overlay(pv)
		return out, st.Libraries, st.Params, nil
	},
}

// run looks up the inputs by name and performs op.
func run(name string, in []string, params json.RawMessage, values map[string]any) (any, map[string]string, any, error) {
	o, ok := ops[name]
	if !ok {
		return nil, nil, nil, fmt.Errorf("%w: unknown operation %q", ErrRecipe, name)
	}
	args := make([]any, len(in))
	for i, n := range in {
		v, ok := values[n]
		if !ok {
			return nil, nil, nil, fmt.Errorf("%w: %s reads %q, which does not exist", ErrRecipe, name, n)
		}
		args[i] = v
	}
	return o(args, params)
}

func frames(in []any, n int, params json.RawMessage, p any) ([]*camera.Frame, error) {
	if len(in) != n {
		return nil, fmt.Errorf("%w: %d inputs, want %d", ErrRecipe, len(in), n)
	}
	out := make([]*camera.Frame, n)
	for i, v := range in {
		f, ok := v.(*camera.Frame)
		if !ok {
			return nil, fmt.Errorf("%w: input %d is a %T, not a frame", ErrRecipe, i+1, v)
		}
		out[i] = f
	}
	if len(params) > 0 {
		if err := chain.UnmarshalStrict(params, p); err != nil {
			return nil, fmt.Errorf("%w: parameters: %v", ErrRecipe, err)
		}
	}
	return out, nil
}

func oneFrame(in []any, params json.RawMessage, p any) (*camera.Frame, error) {
	fs, err := frames(in, 1, params, p)
	if err != nil {
		return nil, err
	}
	return fs[0], nil
}
