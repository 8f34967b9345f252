package enhance

import (
	"encoding/json"
	"fmt"
	"runtime"

	"gocv.io/x/gocv"
)

// ImagingModuleVersion is the version of github.com/disintegration/imaging
// this package is built with (go.mod pins it; a test checks the two agree).
const ImagingModuleVersion = "v1.6.2"

// Library names in Step.Libraries.
const (
	LibGoCV    = "gocv.io/x/gocv"
	LibOpenCV  = "opencv"
	LibImaging = "github.com/disintegration/imaging"
)

// Step describes one operation as it was run: enough, with the inputs, to
// run it again and get the same bytes.
type Step struct {
	// Op names the operation: "clahe", "ratio", "composite", "preview".
	Op string `json:"op"`
	// Inputs names the input frames' roles in order (for example
	// "numerator", "denominator"); the recipe pairs them with digests.
	Inputs []string `json:"inputs"`
	// Params are the parameters in force, defaults filled in: one of
	// CLAHEParams, RatioParams, CompositeParams, PreviewParams (or another
	// package's parameter struct, for operations built on this one).
	Params any `json:"params"`
	// Libraries maps each library the operation used to its version.
	Libraries map[string]string `json:"libraries"`
}

// String is the step as one line of JSON.
func (s Step) String() string {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Sprintf("%s (unprintable parameters: %v)", s.Op, err)
	}
	return string(b)
}

// OpenCVLibraries are the versions of gocv and of the OpenCV it is linked
// with, for a Step that ran in OpenCV.
func OpenCVLibraries() map[string]string {
	return map[string]string{LibGoCV: gocv.Version(), LibOpenCV: gocv.OpenCVVersion()}
}

// ImagingLibraries is the version of disintegration/imaging, for a Step
// that resampled with it.
func ImagingLibraries() map[string]string {
	return map[string]string{LibImaging: ImagingModuleVersion}
}

// LibGo names the Go release in Step.Libraries.
const LibGo = "go"

// GoLibraries is the Go release, for a Step computed in Go alone. Go's
// float64 arithmetic is IEEE-754 and math.Round and math.Pow are specified
// to the bit, so the release should not matter; it is recorded anyway.
func GoLibraries() map[string]string { return map[string]string{LibGo: runtime.Version()} }
