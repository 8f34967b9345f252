package bagit

import "io"

// progressOf returns a function that adds bytes read to a running count
// and reports it to report (if set) with the total.
func progressOf(report func(done, total int64), total int64) func(n int64) {
	if report == nil {
		return func(int64) {}
	}
	var done int64
	return func(n int64) {
		if n <= 0 {
			return
		}
		done += n
		report(done, total)
	}
}

// CountReads returns a reader that reads r and reports every read's byte
// count to add, for progress: Validate uses it, and so does a caller
// writing a bag (chain/bundle's export) for the bytes it streams in.
func CountReads(r io.Reader, add func(n int64)) io.Reader { return countingReader{r, add} }

// countingReader reports every read's byte count to add.
type countingReader struct {
	r   io.Reader
	add func(n int64)
}

func (c countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.add(int64(n))
	return n, err
}
