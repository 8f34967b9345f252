package register

import "errors"

// ErrNoConverge: ECC could not register a band to the reference — it
// failed outright, or its correlation stayed below Config.MinCorrelation.
var ErrNoConverge = errors.New("register: ECC did not converge")
