package netcam

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/png"
	"testing"

	"github.com/exhibit-forensics/exhibit/devices/camera/camsim"
	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// gray16PNG encodes a w × h picture of 16-bit samples with image/png at
// level (which picks every row filter, Sub, Up, Average and Paeth among
// them, when it compresses).
func gray16PNG(t testing.TB, w, h int, level png.CompressionLevel, seed int) []byte {
	img := image.NewGray16(image.Rect(0, 0, w, h))
	for i := 0; i < w*h; i++ {
		x, y := i%w, i/w
		// Smooth with noise: the filters differ by row.
		v := uint16(x*97+y*31+seed) ^ uint16((i*2654435761)>>(uint(y)%13))
		if y%3 == 0 {
			v = uint16(x * 40 * (seed + 1))
		}
		binary.BigEndian.PutUint16(img.Pix[y*img.Stride+2*x:], v)
	}
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: level}).Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// sameAsImagePNG fails t unless image/png decodes body to the samples
// decodeGray16 returned.
func sameAsImagePNG(t testing.TB, body []byte, w, h int, pix []uint16) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("decodeGray16 accepted what image/png refuses: %v", err)
	}
	g, ok := img.(*image.Gray16)
	if !ok || g.Bounds().Dx() != w || g.Bounds().Dy() != h {
		t.Fatalf("image/png made a %T of %v, decodeGray16 %d×%d", img, img.Bounds(), w, h)
	}
	for i, v := range pix {
		if got := g.Gray16At(i%w, i/w).Y; got != v {
			t.Fatalf("sample %d: image/png %d, decodeGray16 %d", i, got, v)
		}
	}
}

func TestDecodeGray16(t *testing.T) {
	var bodies [][]byte
	for _, level := range []png.CompressionLevel{png.NoCompression, png.BestSpeed, png.DefaultCompression, png.BestCompression} {
		for i, sz := range [][2]int{{1, 1}, {3, 2}, {37, 19}, {300, 41}} {
			bodies = append(bodies, gray16PNG(t, sz[0], sz[1], level, i))
		}
	}
	pix := make([]uint16, 640*480)
	for i := range pix {
		pix[i] = uint16(i * 7)
	}
	sim, err := camsim.EncodePNG(pix, 640, 480)
	if err != nil {
		t.Fatal(err)
	}
	bodies = append(bodies, sim)
	for _, b := range bodies {
		w, h, got, err := decodeGray16(b, 1<<30)
		if err != nil {
			t.Fatalf("a plain 16-bit PNG went to image/png: %v", err)
		}
		sameAsImagePNG(t, b, w, h, got)
	}
}

// TestDecodeGray16Declines: what is not plain goes to image/png, which
// decides.
func TestDecodeGray16Declines(t *testing.T) {
	good := gray16PNG(t, 20, 10, png.BestSpeed, 1)
	chunkAt := func(b []byte, typ string) int { return bytes.Index(b, []byte(typ)) - 4 }
	insert := func(b []byte, at int, typ string, data []byte) []byte {
		c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
		c = append(c, typ...)
		c = append(c, data...)
		c = binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
		return append(append(bytes.Clone(b[:at]), c...), b[at:]...)
	}
	var gray8 bytes.Buffer
	png.Encode(&gray8, image.NewGray(image.Rect(0, 0, 4, 4)))
	badCRC := bytes.Clone(good)
	badCRC[chunkAt(good, "IDAT")+9] ^= 1
	for name, b := range map[string][]byte{
		"8-bit":           gray8.Bytes(),
		"transparency":    insert(good, chunkAt(good, "IDAT"), "tRNS", []byte{0, 7}),
		"a palette":       insert(good, chunkAt(good, "IDAT"), "PLTE", []byte{1, 2, 3}),
		"a bad CRC":       badCRC,
		"truncated":       good[:len(good)-20],
		"an IDAT after":   insert(good, chunkAt(good, "IEND"), "IDAT", []byte{1}),
		"too many pixels": good,
		"no signature":    good[8:],
		"a second IHDR":   insert(good, chunkAt(good, "IEND"), "IHDR", make([]byte, 13)),
	} {
		max := 1 << 30
		if name == "too many pixels" {
			max = 199
		}
		if _, _, _, err := decodeGray16(b, max); err != errNotPlain {
			t.Errorf("%s: decodeGray16 gave %v, want errNotPlain", name, err)
		}
	}
	// An ancillary chunk of no meaning is passed over, as image/png does.
	withText := insert(good, chunkAt(good, "IDAT"), "tEXt", []byte("Comment\x00hello"))
	w, h, pix, err := decodeGray16(withText, 1<<30)
	if err != nil {
		t.Fatalf("tEXt: %v", err)
	}
	sameAsImagePNG(t, withText, w, h, pix)
}

var gray16Seeds [][]byte

func init() {
	for _, level := range []png.CompressionLevel{png.NoCompression, png.BestSpeed, png.DefaultCompression} {
		gray16Seeds = append(gray16Seeds, gray16PNG(&testing.T{}, 9, 5, level, int(level)+3))
	}
	var g8 bytes.Buffer
	png.Encode(&g8, image.NewGray(image.Rect(0, 0, 3, 3)))
	gray16Seeds = append(gray16Seeds, g8.Bytes())
}

// FuzzDecodeGray16 compares decodeGray16 with image/png: whatever it
// accepts, image/png accepts with the same samples.
func FuzzDecodeGray16(f *testing.F) {
	for _, s := range gray16Seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		w, h, pix, err := decodeGray16(b, 1<<20)
		if err != nil {
			return
		}
		sameAsImagePNG(t, b, w, h, pix)
	})
}

// TestWriteGray16Corpus keeps FuzzDecodeGray16's committed seed corpus
// equal to gray16Seeds; -write-corpus rewrites it.
func TestWriteGray16Corpus(t *testing.T) {
	var seeds [][]any
	for _, s := range gray16Seeds {
		seeds = append(seeds, []any{s})
	}
	fuzzseed.Write(t, "FuzzDecodeGray16", seeds)
}

func BenchmarkDecode12MP(b *testing.B) {
	pix := make([]uint16, 4000*3000)
	for i := range pix {
		pix[i] = uint16(i*2654435761>>7) & 0x0fff
	}
	body, err := camsim.EncodePNG(pix, 4000, 3000)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("gray16", func(b *testing.B) {
		for b.Loop() {
			if _, _, _, err := decodeGray16(body, 1<<30); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("image-png", func(b *testing.B) {
		for b.Loop() {
			if _, err := png.Decode(bytes.NewReader(body)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
