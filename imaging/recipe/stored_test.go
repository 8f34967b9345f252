package recipe

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/png"
	"testing"

	"github.com/exhibit-forensics/exhibit/devices/camera"
)

// TestStoredBytes checks the "stored" layout byte for byte on a picture
// small enough to work out by hand (docs/recipes.md, "Output encodings").
func TestStoredBytes(t *testing.T) {
	got, err := encodeStored(&camera.Frame{Width: 2, Height: 1, Channels: 1, Pix: []uint16{0x0102, 0xa0b0}})
	if err != nil {
		t.Fatal(err)
	}
	chunk := func(typ string, data []byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
		b = append(b, typ...)
		b = append(b, data...)
		return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[4:]))
	}
	want := []byte("\x89PNG\r\n\x1a\n")
	want = append(want, chunk("IHDR", []byte{0, 0, 0, 2, 0, 0, 0, 1, 16, 0, 0, 0, 0})...)
	// zlib header 78 01; one final stored block of 5 bytes (LEN 0005,
	// NLEN FFFA, little-endian); filter byte 0 and the two samples
	// big-endian; Adler-32 worked out by hand: a = 1+0+1+2+160+176 = 340
	// (0x154), b = 1+2+4+164+340 = 511 (0x1ff).
	want = append(want, chunk("IDAT", []byte{0x78, 0x01, 0x01, 0x05, 0x00, 0xfa, 0xff, 0x00, 0x01, 0x02, 0xa0, 0xb0, 0x01, 0xff, 0x01, 0x54})...)
	want = append(want, chunk("IEND", nil)...)
	if !bytes.Equal(got, want) {
		t.Errorf("stored PNG\n got %x\nwant %x", got, want)
	}
}

// TestStoredRoundTrip: what encodeStored writes, Go's PNG decoder reads
// back to the same pixels, at sizes that end a deflate block exactly, cross
// one, and span several IDAT chunks.
func TestStoredRoundTrip(t *testing.T) {
	for _, sz := range [][2]int{{1, 1}, {3, 2}, {32767, 1}, {32767, 2}, {1000, 33}, {700, 800}} {
		w, h := sz[0], sz[1]
		f := &camera.Frame{Width: w, Height: h, Channels: 1, Pix: make([]uint16, w*h)}
		for i := range f.Pix {
			f.Pix[i] = uint16(i*7919 + i>>3)
		}
		b, err := encodeStored(f)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%dx%d: %v", w, h, err)
		}
		g, ok := img.(*image.Gray16)
		if !ok {
			t.Fatalf("%dx%d: decoded as %T", w, h, img)
		}
		for i, v := range f.Pix {
			if got := g.Gray16At(i%w, i/w).Y; got != v {
				t.Fatalf("%dx%d: pixel %d is %d, want %d", w, h, i, got, v)
			}
		}
		if w*h > storedChunk && bytes.Count(b, []byte("IDAT")) < 2 {
			t.Errorf("%dx%d: one IDAT chunk for %d bytes", w, h, len(b))
		}
	}
	// A picture that is a window of a larger one (its own stride and
	// origin), with transparency.
	big := image.NewNRGBA(image.Rect(0, 0, 50, 40))
	for i := range big.Pix {
		big.Pix[i] = byte(i * 31)
	}
	sub := big.SubImage(image.Rect(5, 7, 45, 30)).(*image.NRGBA)
	b, err := encodeStored(sub)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	n, ok := img.(*image.NRGBA)
	if !ok || n.Bounds().Dx() != 40 || n.Bounds().Dy() != 23 {
		t.Fatalf("decoded as %T %v", img, img.Bounds())
	}
	for y := 0; y < 23; y++ {
		for x := 0; x < 40; x++ {
			if n.NRGBAAt(x, y) != sub.NRGBAAt(5+x, 7+y) {
				t.Fatalf("pixel %d,%d is %v, want %v", x, y, n.NRGBAAt(x, y), sub.NRGBAAt(5+x, 7+y))
			}
		}
	}
}

func TestStoredRefuses(t *testing.T) {
	for _, v := range []any{
		&camera.Frame{Width: 2, Height: 2, Channels: 3, Pix: make([]uint16, 12)},
		&camera.Frame{Width: 2, Height: 2, Channels: 1, Pix: make([]uint16, 3)},
		&camera.Frame{Width: 0, Height: 2, Channels: 1},
		image.NewGray(image.Rect(0, 0, 2, 2)),
	} {
		if _, err := encodeStored(v); err == nil {
			t.Errorf("%T accepted", v)
		}
	}
}

func BenchmarkEncode12MP(b *testing.B) {
	f := &camera.Frame{Width: 4000, Height: 3000, Channels: 1, Pix: make([]uint16, 12_000_000)}
	for i := range f.Pix {
		f.Pix[i] = uint16(i * 2654435761 >> 7)
	}
	for _, c := range []string{Stored, "none"} {
		b.Run(c, func(b *testing.B) {
			for b.Loop() {
				if _, err := encode(f, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
