package register

/*
#cgo !windows pkg-config: opencv4
#cgo CXXFLAGS: --std=c++11
#include <stdlib.h>
#include "ecc.h"
*/
import "C"

import (
	"fmt"
	"unsafe"

	"gocv.io/x/gocv"
)

// The OpenCV motion models of cv::findTransformECC (video/tracking.hpp).
const (
	cvMotionEuclidean = 1
	cvMotionAffine    = 2
)

// ecc runs cv::findTransformECC through the exception-catching shim in
// ecc.cpp. warp is a 2×3 CV_32F matrix holding the starting estimate; it
// is updated in place.
func ecc(templ, input gocv.Mat, warp *gocv.Mat, motion, iterations int, eps float64, gauss int) (float64, error) {
	var rho C.double
	var msg [512]C.char
	rc := C.exhibit_register_ecc(unsafe.Pointer(templ.Ptr()), unsafe.Pointer(input.Ptr()), unsafe.Pointer(warp.Ptr()),
		C.int(motion), C.int(iterations), C.double(eps), C.int(gauss), &rho, &msg[0], C.int(len(msg)))
	if rc != 0 {
		return 0, fmt.Errorf("%s: %w", C.GoString(&msg[0]), ErrNoConverge)
	}
	return float64(rho), nil
}

// SetThreads sets OpenCV's worker-thread count for the whole process
// (cv::setNumThreads, which gocv v0.31.0 does not wrap) and returns the
// count in force afterwards. Registration does not need it: its output
// does not depend on the thread count (TestThreadsDoNotChangeOutput).
func SetThreads(n int) int { return int(C.exhibit_register_set_threads(C.int(n))) }

// Threads returns OpenCV's worker-thread count (cv::getNumThreads).
func Threads() int { return int(C.exhibit_register_threads()) }

// OpenCVVersion is the version of the OpenCV library linked in
// (CV_VERSION), for recipes.
func OpenCVVersion() string {
	var buf [64]C.char
	C.exhibit_register_version(&buf[0], C.int(len(buf)))
	return C.GoString(&buf[0])
}
