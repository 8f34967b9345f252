package bagit

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// lineError is a syntax problem on one line (1-based) of a tag file.
type lineError struct {
	line int
	err  error
}

// splitLines splits a text tag file into lines. RFC 8493 §2.3 lets each line
// end with LF, CR or CRLF (mixed within a file); the last line may lack an
// ending. A file that ends with an ending has no empty last line.
func splitLines(s string) []string {
	var lines []string
	for len(s) > 0 {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			lines = append(lines, s)
			break
		}
		lines = append(lines, s[:i])
		if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
			i++
		}
		s = s[i+1:]
	}
	return lines
}

// checkText applies the rules shared by every text tag file we parse: valid
// UTF-8 and no byte-order mark (RFC 8493 §2.1.1, §2.3).
func checkText(s string) error {
	if strings.HasPrefix(s, "\ufeff") {
		return fmt.Errorf("%w: starts with a byte-order mark", ErrSyntax)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: not valid UTF-8", ErrSyntax)
	}
	return nil
}

// manifestEntry is one parsed manifest line.
type manifestEntry struct {
	digest []byte
	path   string // decoded
	line   int
}

// parseManifestLine parses "checksum 1*WSP filepath" (RFC 8493 §2.1.3):
// checksum is hexLen hex digits of either case (any positive length when
// hexLen is 0); filepath is the rest of the line with %0A, %0D and %25
// (either hex case) decoded. Any other "%" is an error: RFC 8493 requires
// "%" itself to be encoded, so a bare one cannot be read unambiguously.
func parseManifestLine(line string, hexLen int) (digest []byte, path string, err error) {
	i := strings.IndexAny(line, " \t")
	if i < 0 {
		return nil, "", fmt.Errorf("%w: no whitespace between checksum and path", ErrSyntax)
	}
	sum := line[:i]
	if sum == "" {
		return nil, "", fmt.Errorf("%w: line starts with whitespace, no checksum", ErrSyntax)
	}
	if hexLen > 0 && len(sum) != hexLen {
		return nil, "", fmt.Errorf("%w: checksum has %d characters, want %d hex digits", ErrSyntax, len(sum), hexLen)
	}
	if len(sum)%2 != 0 {
		return nil, "", fmt.Errorf("%w: checksum has an odd number of hex digits", ErrSyntax)
	}
	digest = make([]byte, len(sum)/2)
	if _, err := hex.Decode(digest, []byte(sum)); err != nil {
		return nil, "", fmt.Errorf("%w: checksum %s is not hex", ErrSyntax, quote(sum))
	}
	rest := strings.TrimLeft(line[i:], " \t")
	if rest == "" {
		return nil, "", fmt.Errorf("%w: no path after the checksum", ErrSyntax)
	}
	path, err = percentDecode(rest)
	if err != nil {
		return nil, "", err
	}
	return digest, path, nil
}

func percentDecode(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+3 > len(s) {
			return "", fmt.Errorf("%w: %q at byte %d is not %%0A, %%0D or %%25 (a literal %% must be written %%25)", ErrSyntax, s[i:], i)
		}
		switch strings.ToUpper(s[i+1 : i+3]) {
		case "0A":
			b.WriteByte('\n')
		case "0D":
			b.WriteByte('\r')
		case "25":
			b.WriteByte('%')
		default:
			return "", fmt.Errorf("%w: %q at byte %d is not %%0A, %%0D or %%25 (a literal %% must be written %%25)", ErrSyntax, s[i:i+3], i)
		}
		i += 2
	}
	return b.String(), nil
}

// percentEncode encodes exactly LF, CR and "%" as RFC 8493 §2.1.3 requires.
func percentEncode(p string) string {
	if !strings.ContainsAny(p, "\r\n%") {
		return p
	}
	r := strings.NewReplacer("%", "%25", "\n", "%0A", "\r", "%0D")
	return r.Replace(p)
}

// formatManifestLine renders one manifest line as ZipWriter writes it:
// lowercase hex, two spaces, the percent-encoded path, LF.
func formatManifestLine(digest []byte, path string) string {
	return hex.EncodeToString(digest) + "  " + percentEncode(path) + "\n"
}

// parseManifest parses a whole manifest. Empty lines are syntax errors (the
// ABNF has none); an empty file is an empty manifest (a bag with no
// payload). Entries keep file order; duplicate paths are left to the
// caller, which reports ErrListedTwice.
func parseManifest(s string, hexLen int) ([]manifestEntry, []lineError) {
	if err := checkText(s); err != nil {
		return nil, []lineError{{0, err}}
	}
	var (
		entries []manifestEntry
		errs    []lineError
	)
	for n, line := range splitLines(s) {
		if line == "" {
			errs = append(errs, lineError{n + 1, fmt.Errorf("%w: empty line", ErrSyntax)})
			continue
		}
		d, p, err := parseManifestLine(line, hexLen)
		if err != nil {
			errs = append(errs, lineError{n + 1, err})
			continue
		}
		entries = append(entries, manifestEntry{digest: d, path: p, line: n + 1})
	}
	return entries, errs
}

// declaration is the content ZipWriter writes to bagit.txt.
const declaration = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"

// parseDeclaration checks bagit.txt (RFC 8493 §2.1.1): exactly two lines,
// "BagIt-Version: M.N" then "Tag-File-Character-Encoding: ENCODING", UTF-8
// without BOM. Labels are matched case-insensitively (the RFC's own example
// writes "BagIt-version"); the separator must be exactly ": ". Only version
// 1.0 and encoding UTF-8 are supported.
func parseDeclaration(s string) []lineError {
	if err := checkText(s); err != nil {
		return []lineError{{0, err}}
	}
	lines := splitLines(s)
	if len(lines) != 2 {
		return []lineError{{0, fmt.Errorf("%w: bagit.txt has %d lines, want exactly 2", ErrSyntax, len(lines))}}
	}
	var errs []lineError
	want := []string{"BagIt-Version", "Tag-File-Character-Encoding"}
	for i, line := range lines {
		label, value, ok := strings.Cut(line, ": ")
		if !ok || !strings.EqualFold(label, want[i]) {
			errs = append(errs, lineError{i + 1, fmt.Errorf("%w: want %q, got %s", ErrSyntax, want[i]+": …", quote(line))})
			continue
		}
		switch i {
		case 0:
			if !isVersion(value) {
				errs = append(errs, lineError{1, fmt.Errorf("%w: version %s is not M.N", ErrSyntax, quote(value))})
			} else if value != "1.0" {
				errs = append(errs, lineError{1, fmt.Errorf("%w: BagIt version %s (only 1.0 is supported)", ErrUnsupported, quote(value))})
			}
		case 1:
			if !strings.EqualFold(value, "UTF-8") {
				errs = append(errs, lineError{2, fmt.Errorf("%w: tag file encoding %s (only UTF-8 is supported)", ErrUnsupported, quote(value))})
			}
		}
	}
	return errs
}

func isVersion(s string) bool {
	m, n, ok := strings.Cut(s, ".")
	return ok && isDigits(m) && isDigits(n)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// A Tag is one bag-info.txt metadata element, in file order.
type Tag struct {
	Label string
	Value string
}

// parseBagInfo parses bag-info.txt (RFC 8493 §2.2.2): "label: value" where
// the separator is a colon and one space or tab; a line starting with space
// or tab continues the previous value (the line break is kept as "\n", the
// indentation dropped). Labels must not be empty, contain a colon, or start
// or end with whitespace.
func parseBagInfo(s string) ([]infoLine, []lineError) {
	if err := checkText(s); err != nil {
		return nil, []lineError{{0, err}}
	}
	var (
		tags []infoLine
		errs []lineError
	)
	for n, line := range splitLines(s) {
		ln := n + 1
		switch {
		case line == "":
			errs = append(errs, lineError{ln, fmt.Errorf("%w: empty line", ErrSyntax)})
			continue
		case line[0] == ' ' || line[0] == '\t':
			if len(tags) == 0 {
				errs = append(errs, lineError{ln, fmt.Errorf("%w: continuation line before any element", ErrSyntax)})
				continue
			}
			tags[len(tags)-1].Value += "\n" + strings.TrimLeft(line, " \t")
			continue
		}
		i := strings.IndexByte(line, ':')
		if i < 0 {
			errs = append(errs, lineError{ln, fmt.Errorf("%w: no colon after the label", ErrSyntax)})
			continue
		}
		label, rest := line[:i], line[i+1:]
		if err := checkLabel(label); err != nil {
			errs = append(errs, lineError{ln, err})
			continue
		}
		if rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
			errs = append(errs, lineError{ln, fmt.Errorf("%w: label %s: colon must be followed by one space or tab", ErrSyntax, quote(label))})
			continue
		}
		if rest[1:] == "" {
			errs = append(errs, lineError{ln, fmt.Errorf("%w: label %s has an empty value", ErrSyntax, quote(label))})
			continue
		}
		tags = append(tags, infoLine{Tag{Label: label, Value: rest[1:]}, ln})
	}
	return tags, errs
}

func checkLabel(label string) error {
	switch {
	case label == "":
		return fmt.Errorf("%w: empty label", ErrSyntax)
	case strings.ContainsAny(label, ":\r\n"):
		return fmt.Errorf("%w: label %s contains a colon or line break", ErrSyntax, quote(label))
	case strings.TrimLeft(label, " \t") != label || strings.TrimRight(label, " \t") != label:
		return fmt.Errorf("%w: label %s starts or ends with whitespace", ErrSyntax, quote(label))
	}
	for _, r := range label {
		if isControl(r) && r != '\t' {
			return fmt.Errorf("%w: label %s contains control character %U", ErrSyntax, quote(label), r)
		}
	}
	return nil
}

// checkValue is ZipWriter's rule for bag-info values: one line, no control
// characters other than tab, not empty, no leading whitespace (which a
// reader could not tell from the separator).
func checkValue(v string) error {
	if v == "" {
		return fmt.Errorf("%w: empty value", ErrSyntax)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%w: value is not valid UTF-8", ErrSyntax)
	}
	if v[0] == ' ' || v[0] == '\t' {
		return fmt.Errorf("%w: value starts with whitespace", ErrSyntax)
	}
	for _, r := range v {
		if isControl(r) && r != '\t' {
			return fmt.Errorf("%w: value contains control character %U (values are single lines)", ErrSyntax, r)
		}
	}
	return nil
}

// parseOxum parses "OctetCount.StreamCount": two runs of ASCII digits.
func parseOxum(v string) (octets, streams int64, err error) {
	o, s, ok := strings.Cut(v, ".")
	if !ok || !isDigits(o) || !isDigits(s) {
		return 0, 0, fmt.Errorf("%w: %s is not OctetCount.StreamCount", ErrOxum, quote(v))
	}
	octets, err1 := strconv.ParseInt(o, 10, 64)
	streams, err2 := strconv.ParseInt(s, 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("%w: %s is out of range", ErrOxum, quote(v))
	}
	return octets, streams, nil
}

// checkBaggingDate checks the RFC 8493 §2.2.2 form YYYY-MM-DD.
func checkBaggingDate(v string) error {
	if _, err := time.Parse("2006-01-02", v); err != nil || len(v) != 10 {
		return fmt.Errorf("%w: Bagging-Date %s is not YYYY-MM-DD", ErrSyntax, quote(v))
	}
	return nil
}

// formatBagInfo renders tags as ZipWriter writes them: "label: value\n".
func formatBagInfo(tags []Tag) []byte {
	var b bytes.Buffer
	for _, t := range tags {
		b.WriteString(t.Label)
		b.WriteString(": ")
		b.WriteString(t.Value)
		b.WriteByte('\n')
	}
	return b.Bytes()
}
