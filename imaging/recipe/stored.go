package recipe

import (
	"encoding/binary"
	"fmt"
	"hash/adler32"
	"hash/crc32"
	"image"

	"github.com/exhibit-forensics/exhibit/devices/camera"
)

// The "stored" PNG layout (docs/recipes.md, "Output encodings"): every
// byte fixed by the pixels alone, so that any implementation writes the
// same file, and fast because nothing is compressed or filtered.
const (
	storedBlock = 65535   // bytes of image data per stored deflate block (the most a block holds)
	storedChunk = 1 << 20 // bytes of zlib stream per IDAT chunk
)

var pngSignature = []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}

// encodeStored writes a frame as a 16-bit greyscale PNG, or a picture as
// an 8-bit RGBA PNG, in the "stored" layout: IHDR; the rows each with
// filter byte 0; a zlib stream (header 78 01) of stored deflate blocks of
// 65535 bytes, the last holding the rest, then the Adler-32; that stream
// cut into IDAT chunks of 1 MiB, the last holding the rest; IEND. No other
// chunk.
func encodeStored(v any) ([]byte, error) {
	var (
		w, h     int
		depth    byte
		colour   byte
		rowBytes int
		row      func(y int, dst []byte)
	)
	switch v := v.(type) {
	case *camera.Frame:
		if v.Channels != 1 {
			return nil, fmt.Errorf("%w: a %d-channel frame cannot be the output", ErrRecipe, v.Channels)
		}
		w, h, depth, colour, rowBytes = v.Width, v.Height, 16, 0, 2*v.Width
		if len(v.Pix) != w*h {
			return nil, fmt.Errorf("%w: a %d×%d frame with %d samples", ErrRecipe, w, h, len(v.Pix))
		}
		row = func(y int, dst []byte) {
			for i, s := range v.Pix[y*w : (y+1)*w] {
				binary.BigEndian.PutUint16(dst[2*i:], s)
			}
		}
	case *image.NRGBA:
		b := v.Bounds()
		w, h, depth, colour, rowBytes = b.Dx(), b.Dy(), 8, 6, 4*b.Dx()
		row = func(y int, dst []byte) {
			off := v.PixOffset(b.Min.X, b.Min.Y+y)
			copy(dst, v.Pix[off:off+rowBytes])
		}
	default:
		return nil, fmt.Errorf("%w: a %T cannot be the output", ErrRecipe, v)
	}
	if w <= 0 || h <= 0 || w > 1<<24 || h > 1<<24 {
		return nil, fmt.Errorf("%w: a %d×%d picture cannot be the output", ErrRecipe, w, h)
	}

	// The zlib stream is written straight into the file, cut into IDAT
	// chunks as it goes: one pass over the pixels, one buffer.
	raw := h * (1 + rowBytes)
	blocks := (raw + storedBlock - 1) / storedBlock
	zlen := 2 + raw + 5*blocks + 4
	chunks := (zlen + storedChunk - 1) / storedChunk
	out := make([]byte, 0, len(pngSignature)+(12+13)+zlen+12*chunks+12)
	out = append(out, pngSignature...)
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = depth, colour // compression, filter and interlace methods 0
	out = appendChunk(out, "IHDR", ihdr)

	zw := &idatWriter{out: out, zleft: zlen}
	zw.write([]byte{0x78, 0x01})
	ad := adler32.New()
	left, inBlock := raw, 0 // inBlock: image bytes still to write in the open block
	var hdr [5]byte
	line := make([]byte, 1+rowBytes) // line[0] is filter type 0 (None)
	for y := range h {
		row(y, line[1:])
		ad.Write(line)
		for p := line; len(p) > 0; {
			if inBlock == 0 {
				n := min(left, storedBlock)
				hdr[0] = 0 // BFINAL 0, BTYPE 00 (stored)
				if n == left {
					hdr[0] = 1
				}
				binary.LittleEndian.PutUint16(hdr[1:], uint16(n))
				binary.LittleEndian.PutUint16(hdr[3:], ^uint16(n))
				zw.write(hdr[:])
				inBlock = n
			}
			k := min(inBlock, len(p))
			zw.write(p[:k])
			inBlock, left, p = inBlock-k, left-k, p[k:]
		}
	}
	zw.write(binary.BigEndian.AppendUint32(nil, ad.Sum32()))
	if zw.zleft != 0 || zw.chunkLeft != 0 {
		return nil, fmt.Errorf("recipe: stored PNG: %d bytes of the zlib stream unwritten", zw.zleft+zw.chunkLeft)
	}
	out = zw.closeChunk()
	return appendChunk(out, "IEND", nil), nil
}

// idatWriter writes a zlib stream of known length into IDAT chunks of
// storedChunk bytes, the last holding the rest.
type idatWriter struct {
	out       []byte
	zleft     int // stream bytes not yet in a chunk
	chunkLeft int // bytes still to write in the open chunk
	typeAt    int // where the open chunk's type begins
	open      bool
}

func (z *idatWriter) write(p []byte) {
	for len(p) > 0 {
		if z.chunkLeft == 0 {
			z.out = z.closeChunk()
			n := min(z.zleft, storedChunk)
			z.out = binary.BigEndian.AppendUint32(z.out, uint32(n))
			z.typeAt = len(z.out)
			z.out = append(z.out, "IDAT"...)
			z.chunkLeft, z.zleft, z.open = n, z.zleft-n, true
		}
		k := min(z.chunkLeft, len(p))
		z.out = append(z.out, p[:k]...)
		z.chunkLeft, p = z.chunkLeft-k, p[k:]
	}
}

// closeChunk ends the open chunk with its CRC-32, if one is open.
func (z *idatWriter) closeChunk() []byte {
	if z.open {
		z.out = binary.BigEndian.AppendUint32(z.out, crc32.ChecksumIEEE(z.out[z.typeAt:]))
		z.open = false
	}
	return z.out
}

// appendChunk appends a PNG chunk: length, type, data, CRC-32 of type and
// data.
func appendChunk(out []byte, typ string, data []byte) []byte {
	out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
	start := len(out)
	out = append(out, typ...)
	out = append(out, data...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
}
