package chain

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrBadRef reports a malformed exhibit or case reference.
var ErrBadRef = errors.New("malformed reference")

// Exhibit kinds.
const (
	ExhibitImageSet = "image-set"
	ExhibitImage    = "image"
	ExhibitSample   = "sample"
	ExhibitResult   = "result"
	ExhibitReport   = "report"
	ExhibitDocument = "document"
)

// ExhibitKinds lists the exhibit kinds.
var ExhibitKinds = []string{ExhibitImageSet, ExhibitImage, ExhibitSample, ExhibitResult, ExhibitReport, ExhibitDocument}

// ValidInitials reports an error unless s is 1–4 ASCII capital letters, the
// producer part of a UK exhibit reference.
func ValidInitials(s string) error {
	if len(s) < 1 || len(s) > 4 {
		return fmt.Errorf("%w: initials %q must be 1 to 4 capital letters", ErrBadRef, clip(s))
	}
	for _, c := range []byte(s) {
		if c < 'A' || c > 'Z' {
			return fmt.Errorf("%w: initials %q must be 1 to 4 capital letters", ErrBadRef, clip(s))
		}
	}
	return nil
}

// FormatRef returns the UK-style exhibit reference for a producer's n-th
// exhibit: initials, a slash, the number ("JS/4").
func FormatRef(initials string, n uint64) string {
	return initials + "/" + strconv.FormatUint(n, 10)
}

// ParseRef splits an exhibit reference into its initials and number.
func ParseRef(ref string) (initials string, n uint64, err error) {
	ini, num, ok := strings.Cut(ref, "/")
	if !ok {
		return "", 0, fmt.Errorf("%w: exhibit reference %q is not INITIALS/NUMBER", ErrBadRef, clip(ref))
	}
	if err := ValidInitials(ini); err != nil {
		return "", 0, err
	}
	n, err = strconv.ParseUint(num, 10, 64)
	if err != nil || n == 0 || num[0] == '0' || num[0] == '+' {
		return "", 0, fmt.Errorf("%w: exhibit reference %q: number must be a positive decimal without leading zeros", ErrBadRef, clip(ref))
	}
	return ini, n, nil
}

// MaxCaseRefLen is the longest case reference accepted, in characters.
const MaxCaseRefLen = 64

// ValidCaseRef reports an error unless s is a usable case reference: 1 to 64
// printable characters with no control characters and no leading or trailing
// space. Case references appear in file names, reports and logs, so anything
// that could be mistaken for structure there is refused.
func ValidCaseRef(s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty case reference", ErrBadRef)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: case reference is not valid UTF-8", ErrBadRef)
	}
	if n := utf8.RuneCountInString(s); n > MaxCaseRefLen {
		return fmt.Errorf("%w: case reference has %d characters, at most %d are allowed", ErrBadRef, n, MaxCaseRefLen)
	}
	for i, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("%w: case reference has a control character (U+%04X) at byte %d", ErrBadRef, r, i)
		}
		if r == '/' || r == '\\' {
			return fmt.Errorf("%w: case reference may not contain %q", ErrBadRef, r)
		}
	}
	if strings.TrimSpace(s) != s {
		return fmt.Errorf("%w: case reference has leading or trailing space", ErrBadRef)
	}
	return nil
}
