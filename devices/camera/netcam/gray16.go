package netcam

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
)

// errNotPlain: the PNG is not one decodeGray16 handles; image/png decides.
var errNotPlain = errors.New("netcam: not a plain 16-bit greyscale PNG")

// decodeGray16 decodes the PNG cameras send — 16-bit greyscale, not
// interlaced — straight into samples, without image/png's intermediate
// image (24 MB at 12 MP, and a second pass over it). It handles only that
// shape, and only when every chunk is in order with a good CRC, no
// palette or transparency chunk is present, the IDAT chunks are one run
// holding exactly one zlib stream, and the stream holds exactly the rows;
// for anything else it returns errNotPlain and the caller decodes with
// image/png, which then accepts or refuses as it always did. A test
// compares the two on fuzzed input: what this accepts, image/png accepts
// with the same samples.
func decodeGray16(body []byte, maxPixels int) (w, h int, pix []uint16, err error) {
	if !bytes.HasPrefix(body, []byte("\x89PNG\r\n\x1a\n")) {
		return 0, 0, nil, errNotPlain
	}
	p := body[8:]
	// chunk returns the next chunk, its CRC checked.
	chunk := func() (typ string, data []byte, ok bool) {
		if len(p) < 12 {
			return "", nil, false
		}
		n := binary.BigEndian.Uint32(p)
		if n > 0x7fffffff || uint64(len(p)) < 12+uint64(n) {
			return "", nil, false
		}
		typ, data = string(p[4:8]), p[8:8+n]
		if crc32.ChecksumIEEE(p[4:8+n]) != binary.BigEndian.Uint32(p[8+n:]) {
			return "", nil, false
		}
		p = p[12+n:]
		return typ, data, true
	}
	typ, ihdr, ok := chunk()
	if !ok || typ != "IHDR" || len(ihdr) != 13 {
		return 0, 0, nil, errNotPlain
	}
	w, h = int(binary.BigEndian.Uint32(ihdr)), int(binary.BigEndian.Uint32(ihdr[4:]))
	if w <= 0 || h <= 0 || w > 0x7fffffff || h > 0x7fffffff || w > maxPixels/h ||
		!bytes.Equal(ihdr[8:], []byte{16, 0, 0, 0, 0}) {
		return 0, 0, nil, errNotPlain
	}
	// Chunks up to the first IDAT: none that image/png gives a meaning
	// to for greyscale.
	var idat [][]byte
	for {
		var data []byte
		if typ, data, ok = chunk(); !ok {
			return 0, 0, nil, errNotPlain
		}
		if typ == "IDAT" {
			idat = append(idat, data)
			break
		}
		switch typ {
		case "IHDR", "PLTE", "tRNS", "IEND":
			return 0, 0, nil, errNotPlain
		}
	}
	// The rest of the run of IDAT chunks.
	for {
		save := p
		typ, data, ok := chunk()
		if !ok {
			return 0, 0, nil, errNotPlain
		}
		if typ != "IDAT" {
			p = save
			break
		}
		idat = append(idat, data)
	}
	src := &chunks{parts: idat}
	zr, err := zlib.NewReader(src)
	if err != nil {
		return 0, 0, nil, errNotPlain
	}
	defer zr.Close()
	stride := 1 + 2*w
	prev, cur := make([]byte, stride), make([]byte, stride)
	pix = make([]uint16, w*h)
	for y := range h {
		if _, err := io.ReadFull(zr, cur); err != nil {
			return 0, 0, nil, errNotPlain
		}
		if !unfilter(cur[0], cur[1:], prev[1:]) {
			return 0, 0, nil, errNotPlain
		}
		out := pix[y*w : (y+1)*w]
		for x := range out {
			out[x] = uint16(cur[1+2*x])<<8 | uint16(cur[2+2*x])
		}
		prev, cur = cur, prev
	}
	// The stream ends here (its Adler-32 is checked at the end), and the
	// IDAT chunks hold nothing after it.
	var one [1]byte
	if n, err := zr.Read(one[:]); n != 0 || err != io.EOF || src.left() != 0 {
		return 0, 0, nil, errNotPlain
	}
	// The chunks after the image, up to IEND: none that would make
	// image/png refuse the file.
	for {
		typ, data, ok := chunk()
		if !ok {
			return 0, 0, nil, errNotPlain
		}
		switch typ {
		case "IEND":
			if len(data) != 0 {
				return 0, 0, nil, errNotPlain
			}
			return w, h, pix, nil
		case "IHDR", "PLTE", "tRNS", "IDAT":
			return 0, 0, nil, errNotPlain
		}
	}
}

// unfilter undoes a row's PNG filter in place (two bytes per pixel);
// prev is the previous row, unfiltered (zeros before the first).
func unfilter(filter byte, cur, prev []byte) bool {
	const bpp = 2
	switch filter {
	case 0:
	case 1:
		for i := bpp; i < len(cur); i++ {
			cur[i] += cur[i-bpp]
		}
	case 2:
		for i := range cur {
			cur[i] += prev[i]
		}
	case 3:
		for i := range bpp {
			cur[i] += prev[i] / 2
		}
		for i := bpp; i < len(cur); i++ {
			cur[i] += byte((int(cur[i-bpp]) + int(prev[i])) / 2)
		}
	case 4:
		for i := range cur {
			var a, c int
			if i >= bpp {
				a, c = int(cur[i-bpp]), int(prev[i-bpp])
			}
			b := int(prev[i])
			pa, pb, pc := abs(b-c), abs(a-c), abs(a+b-2*c)
			switch {
			case pa <= pb && pa <= pc:
				cur[i] += byte(a)
			case pb <= pc:
				cur[i] += byte(b)
			default:
				cur[i] += byte(c)
			}
		}
	default:
		return false
	}
	return true
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// chunks reads the IDAT chunks' data as one stream, byte by byte for the
// inflater (an io.ByteReader, so that it reads no further than the stream
// ends and what is left can be counted).
type chunks struct {
	parts [][]byte
}

func (c *chunks) Read(b []byte) (int, error) {
	for len(c.parts) > 0 && len(c.parts[0]) == 0 {
		c.parts = c.parts[1:]
	}
	if len(c.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(b, c.parts[0])
	c.parts[0] = c.parts[0][n:]
	return n, nil
}

func (c *chunks) ReadByte() (byte, error) {
	for len(c.parts) > 0 && len(c.parts[0]) == 0 {
		c.parts = c.parts[1:]
	}
	if len(c.parts) == 0 {
		return 0, io.EOF
	}
	b := c.parts[0][0]
	c.parts[0] = c.parts[0][1:]
	return b, nil
}

func (c *chunks) left() int {
	n := 0
	for _, p := range c.parts {
		n += len(p)
	}
	return n
}
