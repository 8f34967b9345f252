package register

import (
	"context"
	"errors"
)

// ErrNoConverge: ECC could not register a band to the reference — it
// failed outright, or its correlation stayed below Config.MinCorrelation.
var ErrNoConverge = errors.New("register: ECC did not converge")

// Advice words a registration error for the photographer: what happened
// and what to do, in plain language. It returns "" for a nil error.
func Advice(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrNoConverge):
		return "This picture could not be lined up with the reference picture: the camera or the skin moved too much " +
			"between the two shots. Hold the camera steady and square to the skin, then retake this band."
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "Lining up the pictures was stopped before it finished. Nothing was lost: the pictures are kept as taken."
	}
	return "The pictures could not be lined up because of a problem in the software, not in the photographs, which are " +
		"kept as taken. Please tell the system administrator."
}
