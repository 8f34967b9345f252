// Package malloctune tunes the C allocator (glibc's malloc) for programs
// that process large images with OpenCV.
//
// OpenCV allocates each intermediate image with malloc: a 12 MP frame is
// 24 MB as 16-bit samples and 48 MB as floats. glibc serves blocks that
// large with mmap(2) and returns them with munmap(2) when freed, so the
// next image of the same size is faulted in again page by page (about
// 100,000 page faults per capture of five bands). KeepLargeBlocks raises
// the thresholds so that freed blocks stay in malloc's heap and are reused.
// The cost is memory: what was freed stays resident until the process
// ends, which for a capture is bounded by its peak (docs/BENCHMARKS.md).
//
// On a C library that is not glibc it does nothing.
package malloctune

/*
#cgo linux CFLAGS: -D_GNU_SOURCE
#include <stdlib.h>
#if defined(__GLIBC__)
#include <malloc.h>
static int is_glibc(void) { return 1; }
static int keep_large_blocks(int mmap_threshold, int trim_threshold) {
	return mallopt(M_MMAP_THRESHOLD, mmap_threshold) && mallopt(M_TRIM_THRESHOLD, trim_threshold);
}
#else
static int is_glibc(void) { return 0; }
static int keep_large_blocks(int mmap_threshold, int trim_threshold) { return 0; }
#endif
*/
import "C"

// Thresholds KeepLargeBlocks sets: blocks up to MMapThreshold come from
// malloc's heap rather than their own mapping, and the heap is not
// trimmed until TrimThreshold bytes are free at its top.
const (
	MMapThreshold = 512 << 20
	TrimThreshold = 1 << 30
)

// KeepLargeBlocks sets glibc's M_MMAP_THRESHOLD and M_TRIM_THRESHOLD for
// the whole process; it reports whether they were set. Call it once, early,
// in a command that processes images.
func KeepLargeBlocks() bool {
	return C.keep_large_blocks(C.int(MMapThreshold), C.int(TrimThreshold)) == 1
}

// glibc reports whether the C library is glibc.
func glibc() bool { return C.is_glibc() == 1 }
