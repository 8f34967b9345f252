package bagit

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// checkPath reports whether p is a clean relative slash-separated UTF-8
// path: no leading "/", no drive letter, no backslash, no empty, "." or
// ".." segment, no segment that Windows would reduce to nothing (only dots
// and spaces), no colon (drive letter or NTFS stream separator), no control
// or bidirectional-formatting character. It is the rule for zip entry names
// (without the trailing "/" of a directory) and decoded manifest paths.
func checkPath(p string) error {
	if p == "" {
		return fmt.Errorf("%w: empty path", ErrUnsafePath)
	}
	if !utf8.ValidString(p) {
		return fmt.Errorf("%w: not valid UTF-8", ErrBadName)
	}
	for i, r := range p {
		if isControl(r) {
			return fmt.Errorf("%w: control or formatting character %U at byte %d", ErrBadName, r, i)
		}
	}
	if strings.HasPrefix(p, "/") {
		return fmt.Errorf("%w: absolute path", ErrUnsafePath)
	}
	if strings.Contains(p, `\`) {
		return fmt.Errorf("%w: backslash (a path separator on Windows)", ErrUnsafePath)
	}
	if len(p) >= 2 && p[1] == ':' && ('a' <= p[0]|0x20 && p[0]|0x20 <= 'z') {
		return fmt.Errorf("%w: drive letter", ErrUnsafePath)
	}
	if strings.Contains(p, ":") {
		return fmt.Errorf("%w: colon (drive letter or NTFS stream separator on Windows)", ErrUnsafePath)
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch {
		case seg == "":
			return fmt.Errorf("%w: empty path segment", ErrUnsafePath)
		case seg == "." || seg == "..":
			return fmt.Errorf("%w: %q segment", ErrUnsafePath, seg)
		case strings.Trim(seg, ". ") == "":
			return fmt.Errorf("%w: segment %q is only dots and spaces (Windows reduces it to nothing)", ErrUnsafePath, seg)
		}
	}
	return nil
}

// isControl reports runes that must not appear in names: C0 and C1
// controls, DEL, line and paragraph separators, and the bidirectional
// formatting characters that can make a name display as something else.
func isControl(r rune) bool {
	if unicode.Is(unicode.Cc, r) {
		return true
	}
	switch r {
	case '\u2028', '\u2029', // line, paragraph separator
		'\u200e', '\u200f', '\u061c', // LRM, RLM, ALM
		'\u202a', '\u202b', '\u202c', '\u202d', '\u202e', // LRE RLE PDF LRO RLO
		'\u2066', '\u2067', '\u2068', '\u2069', // LRI RLI FSI PDI
		'\ufeff': // BOM / zero-width no-break space
		return true
	}
	return false
}

// windowsReserved are device names Windows will not create as files, with
// or without an extension.
var windowsReserved = map[string]bool{
	"CON": true, "PRN": true, "AUX": true, "NUL": true,
	"COM1": true, "COM2": true, "COM3": true, "COM4": true, "COM5": true, "COM6": true, "COM7": true, "COM8": true, "COM9": true,
	"LPT1": true, "LPT2": true, "LPT3": true, "LPT4": true, "LPT5": true, "LPT6": true, "LPT7": true, "LPT8": true, "LPT9": true,
}

// checkPortable applies checkPath plus the rules ZipWriter adds so that its
// bags extract unchanged on Windows, macOS and Linux and their manifests
// need no percent-encoding: no <>"|?*% characters, no segment starting or
// ending with a space or ending with a dot, no Windows device name, no
// segment longer than 255 bytes.
func checkPortable(p string) error {
	if err := checkPath(p); err != nil {
		return err
	}
	if i := strings.IndexAny(p, `<>"|?*%`); i >= 0 {
		return fmt.Errorf("%w: character %q is not portable (or would need percent-encoding in a manifest)", ErrBadName, p[i])
	}
	for seg := range strings.SplitSeq(p, "/") {
		if len(seg) > 255 {
			return fmt.Errorf("%w: segment longer than 255 bytes", ErrBadName)
		}
		if strings.HasPrefix(seg, " ") || strings.HasSuffix(seg, " ") || strings.HasSuffix(seg, ".") {
			return fmt.Errorf("%w: segment %q starts or ends with a space or ends with a dot", ErrBadName, seg)
		}
		stem, _, _ := strings.Cut(seg, ".")
		if windowsReserved[strings.ToUpper(stem)] {
			return fmt.Errorf("%w: %q is a Windows device name", ErrBadName, seg)
		}
	}
	return nil
}

// collisionKey maps a path to a key that is equal for two paths that would
// name the same file on a case-insensitive or normalising file system
// (NTFS, APFS, HFS+): each segment loses trailing dots and spaces (which
// Windows strips), is put in Unicode normalisation form D, and is case
// folded with Unicode simple folding (the relation strings.EqualFold uses).
func collisionKey(p string) string {
	var b strings.Builder
	b.Grow(len(p))
	first := true
	for seg := range strings.SplitSeq(p, "/") {
		if !first {
			b.WriteByte('/')
		}
		first = false
		seg = strings.TrimRight(seg, ". ")
		for _, r := range norm.NFD.String(seg) {
			b.WriteRune(foldRune(r))
		}
	}
	return b.String()
}

// foldRune returns the smallest rune in r's simple case-folding orbit, so
// that two runes are equal under strings.EqualFold exactly when their
// foldRune values are equal.
func foldRune(r rune) rune {
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < m {
			m = f
		}
	}
	return m
}

// nameSet detects names that collide as files, as directories, or as a file
// that is also used as a directory. Keys are collision keys.
type nameSet struct {
	files map[string]string // key -> first path
	dirs  map[string]string // key -> first path that implied or declared it
	decl  map[string]string // explicitly declared directory entries
}

func newNameSet() *nameSet {
	return &nameSet{files: map[string]string{}, dirs: map[string]string{}, decl: map[string]string{}}
}

// addFile records a file path; it fails if the path collides with an
// earlier file or directory.
func (s *nameSet) addFile(p string) error {
	k := collisionKey(p)
	if q, ok := s.files[k]; ok {
		return collision(p, q)
	}
	if q, ok := s.dirs[k]; ok {
		return fmt.Errorf("%w: file %q is also a directory (in %q)", ErrDuplicate, p, q)
	}
	if err := s.addParents(p, k); err != nil {
		return err
	}
	s.files[k] = p
	return nil
}

// addDir records an explicit directory entry.
func (s *nameSet) addDir(p string) error {
	k := collisionKey(p)
	if q, ok := s.decl[k]; ok {
		return collision(p+"/", q+"/")
	}
	if q, ok := s.files[k]; ok {
		return fmt.Errorf("%w: directory %q is also a file %q", ErrDuplicate, p, q)
	}
	if err := s.addParents(p, k); err != nil {
		return err
	}
	s.decl[k] = p
	if _, ok := s.dirs[k]; !ok {
		s.dirs[k] = p
	}
	return nil
}

func (s *nameSet) addParents(p, k string) error {
	for i := len(k) - 1; i > 0; i-- {
		if k[i] != '/' {
			continue
		}
		pk := k[:i]
		if q, ok := s.files[pk]; ok {
			return fmt.Errorf("%w: %q puts a file under %q, which is a file", ErrDuplicate, p, q)
		}
		if _, ok := s.dirs[pk]; ok {
			break // its own parents were recorded when it was
		}
		s.dirs[pk] = p
	}
	return nil
}

func collision(p, q string) error {
	if p == q {
		return fmt.Errorf("%w: %q appears twice", ErrDuplicate, p)
	}
	return fmt.Errorf("%w: %q and %q name the same file on case-insensitive or normalising file systems", ErrDuplicate, p, q)
}
