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

// MaxEscapedCaseRefLen is the longest a case reference may be once escaped
// for a folder name (EscapeCaseRef), in bytes: 64 ASCII characters always
// fit; a reference of non-ASCII characters must be shorter. It keeps a
// bundle's base directory name within the 255 bytes file systems allow.
const MaxEscapedCaseRefLen = 3 * MaxCaseRefLen

// ValidCaseRef reports an error unless s is a usable case reference: 1 to 64
// characters of valid UTF-8, no control characters (C0, DEL, C1, U+2028,
// U+2029), no backslash, no leading or trailing white space, and at most
// MaxEscapedCaseRefLen bytes once escaped for a folder name. Slashes are
// allowed: UK references carry them (crime reference 01/123456/26, incident
// CAD 1234/04DEC26, laboratory number LAB/26/00123). Where a reference names
// a file or folder it is escaped (EscapeCaseRef), so no character of it can
// be mistaken for a path separator there.
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
		if r == '\\' {
			return fmt.Errorf("%w: case reference may not contain a backslash", ErrBadRef)
		}
	}
	if strings.TrimSpace(s) != s {
		return fmt.Errorf("%w: case reference has leading or trailing space", ErrBadRef)
	}
	if n := escapedLen(s); n > MaxEscapedCaseRefLen {
		return fmt.Errorf("%w: case reference is too long to name a bundle: escaped for a folder name it has %d bytes, at most %d are allowed (64 ASCII characters always fit)", ErrBadRef, n, MaxEscapedCaseRefLen)
	}
	return nil
}

// caseRefSafe reports whether byte c stands for itself in an escaped case
// reference: ASCII letters, digits, '-', '.' and '_'.
func caseRefSafe(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_'
}

func escapedLen(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if caseRefSafe(s[i]) {
			n++
		} else {
			n += 3
		}
	}
	return n
}

// EscapeCaseRef returns the form of a case reference used in file and folder
// names (docs/bundle.md, "Names"): every byte of its UTF-8 encoding other
// than A–Z, a–z, 0–9, '-', '.' and '_' is written as '%' and two upper-case
// hex digits ("01/123456/26" → "01%2F123456%2F26"). '%' itself is escaped,
// so the mapping is reversible (UnescapeCaseRef) and two references never
// share a name. The result is ASCII, so no file system re-encodes or
// re-normalises it.
func EscapeCaseRef(s string) string {
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, escapedLen(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if caseRefSafe(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}

// UnescapeCaseRef reverses EscapeCaseRef. It accepts only what
// EscapeCaseRef produces — safe bytes as themselves, every other byte as '%'
// and two upper-case hex digits, and valid UTF-8 once decoded — so that a
// name has one reading and a reference one name. It does not check that the
// result is a valid case reference (ValidCaseRef does).
func UnescapeCaseRef(esc string) (string, error) {
	b := make([]byte, 0, len(esc))
	for i := 0; i < len(esc); i++ {
		c := esc[i]
		switch {
		case caseRefSafe(c):
			b = append(b, c)
		case c == '%':
			if i+2 >= len(esc) {
				return "", fmt.Errorf("%w: escaped case reference %q: '%%' at byte %d is not followed by two hex digits", ErrBadRef, clip(esc), i)
			}
			hi, lo := upperHex(esc[i+1]), upperHex(esc[i+2])
			if hi < 0 || lo < 0 {
				return "", fmt.Errorf("%w: escaped case reference %q: '%%' at byte %d is not followed by two upper-case hex digits", ErrBadRef, clip(esc), i)
			}
			d := byte(hi<<4 | lo)
			if caseRefSafe(d) {
				return "", fmt.Errorf("%w: escaped case reference %q: %q is escaped at byte %d but stands for itself", ErrBadRef, clip(esc), d, i)
			}
			b = append(b, d)
			i += 2
		default:
			return "", fmt.Errorf("%w: escaped case reference %q: byte %d (%q) must be escaped", ErrBadRef, clip(esc), i, c)
		}
	}
	if !utf8.Valid(b) {
		return "", fmt.Errorf("%w: escaped case reference %q is not UTF-8 once unescaped", ErrBadRef, clip(esc))
	}
	return string(b), nil
}

func upperHex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
