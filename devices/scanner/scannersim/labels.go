package scannersim

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/exhibit-forensics/exhibit/devices/scanner"
)

// A Label is a barcode the simulated scanner can read.
type Label struct {
	// Symbology is the AIM symbology identifier of the barcode ("]C0"
	// Code 128, "]C1" GS1-128, "]d2" GS1 DataMatrix, …), transmitted
	// when Config.AIM is set.
	Symbology string
	// Data is the barcode's data, each GS1 FNC1 separator as GS (0x1D).
	Data string
}

func (l Label) String() string { return l.Symbology + strings.ReplaceAll(l.Data, "\x1d", "{GS}") }

// ErrLabels is wrapped by every error from ParseLabels.
var ErrLabels = errors.New("scannersim: bad labels file")

// MaxLabels bounds a labels file.
const MaxLabels = 100000

// ParseLabels reads a labels file: one label per line; blank lines and
// lines starting with "#" are skipped. A line may start with an AIM
// identifier ("]" + a letter + a modifier); without one, a label is Code
// 128 ("]C0"), or GS1 DataMatrix ("]d2") if it holds a separator. "{GS}"
// stands for the FNC1 separator (GS). Data is 1 to scanner.MaxData printable
// ASCII characters. See firmware-notes/barcode-scanner.md.
func ParseLabels(b []byte) ([]Label, error) {
	var out []Label
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 4096)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		l, err := parseLabel(line)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrLabels, n, err)
		}
		if len(out) == MaxLabels {
			return nil, fmt.Errorf("%w: more than %d labels", ErrLabels, MaxLabels)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLabels, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no labels", ErrLabels)
	}
	return out, nil
}

func parseLabel(line string) (Label, error) {
	var l Label
	if len(line) >= 3 && line[0] == ']' {
		if !isAlpha(line[1]) || line[2] <= ' ' || line[2] > '~' {
			return l, fmt.Errorf("AIM identifier %q: want \"]\", a letter and a modifier", line[:3])
		}
		l.Symbology, line = line[:3], line[3:]
	}
	data := strings.ReplaceAll(line, "{GS}", "\x1d")
	for i := 0; i < len(data); i++ {
		if c := data[i]; (c < ' ' || c > '~') && c != 0x1d {
			return l, fmt.Errorf("byte %#02x at %d: labels are printable ASCII ({GS} for a separator)", c, i)
		}
	}
	if data == "" || len(data) > scanner.MaxData {
		return l, fmt.Errorf("%d characters of data, 1 to %d allowed", len(data), scanner.MaxData)
	}
	l.Data = data
	if l.Symbology == "" {
		l.Symbology = "]C0"
		if strings.Contains(data, "\x1d") {
			l.Symbology = "]d2"
		}
	}
	return l, nil
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
