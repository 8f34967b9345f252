package hl7

import (
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

const identityBase = "MSH|^~\\&|TOXAN|LAB|EXHIBIT|LAB|20240612103000||ORU^R01^ORU_R01|MSG1|P|2.5.1\r" +
	"OBR|1|S1||GHB\rOBX|1|NM|GHB||42.0|mg/L\r"

// identityCases: whether each variant of identityBase is the same message
// (a retransmission) or a different one.
var identityCases = []struct {
	name string
	in   string
	same bool
}{
	{"itself", identityBase, true},
	{"new-msh7", strings.Replace(identityBase, "20240612103000", "20240612103500", 1), true},
	{"empty-msh7", strings.Replace(identityBase, "20240612103000", "", 1), true},
	{"lf", strings.ReplaceAll(identityBase, "\r", "\n"), true},
	{"crlf-no-final", strings.TrimSuffix(strings.ReplaceAll(identityBase, "\r", "\r\n"), "\r\n"), true},
	{"changed-result", strings.Replace(identityBase, "42.0", "42.1", 1), false},
	{"other-control-id", strings.Replace(identityBase, "|MSG1|", "|MSG2|", 1), false},
	{"other-sender", strings.Replace(identityBase, "TOXAN|LAB", "TOXAN2|LAB", 1), false},
	{"other-facility", strings.Replace(identityBase, "TOXAN|LAB", "TOXAN|LAB2", 1), false},
	{"msh7-moved", strings.Replace(identityBase, "|20240612103000|", "||20240612103000", 1), false},
	{"msh8-set", strings.Replace(identityBase, "20240612103000||", "20240612103000|SEC|", 1), false},
	{"extra-segment", identityBase + "NTE|1||x\r", false},
	{"custom-delimiters", strings.NewReplacer("|", "#", "^", "$").Replace(identityBase), false},
}

// TestIdentity: a retransmission that only stamps a new MSH-7 (or ends its
// lines differently) has the identity of the first transmission; a message
// that reuses MSH-10 with other results, or comes from another sender, does
// not (issue 8, item 13).
func TestIdentity(t *testing.T) {
	base, err := Identity([]byte(identityBase))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range identityCases {
		id, err := Identity([]byte(tc.in))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if (id == base) != tc.same {
			t.Errorf("%s: same identity = %v, want %v", tc.name, id == base, tc.same)
		}
		m, err := Parse([]byte(tc.in), Options{})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if m.Identity != id {
			t.Errorf("%s: Message.Identity differs from Identity()", tc.name)
		}
	}
	// The worked example of firmware-notes/hl7-mllp.md.
	canon := "exhibit hl7 identity v1\n" + strings.Replace(identityBase, "20240612103000", "", 1)
	if base != chain.Sum([]byte(canon)) || base.String() != "sha256:41497ac1b983948dd47912b1d9a2e1776f186e1bac2e463ce8a0d624f9ecc17b" {
		t.Errorf("identity %s is not the SHA-256 of the documented canonical form", base)
	}
	for _, bad := range []string{"", "PID|1", "MSH"} {
		if _, err := Identity([]byte(bad)); err == nil {
			t.Errorf("Identity(%q) = nil error", bad)
		}
	}
}

func TestWriteCorpusIdentity(t *testing.T) {
	var entries [][]any
	for _, tc := range identityCases {
		entries = append(entries, []any{[]byte(tc.in)})
	}
	fuzzseed.Write(t, "FuzzIdentity", entries)
}

// FuzzIdentity: Identity never panics; where it succeeds, line endings and
// MSH-7 make no difference, and changing a byte of content changes it.
func FuzzIdentity(f *testing.F) {
	for _, tc := range identityCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		id, err := Identity(in)
		if err != nil {
			return
		}
		lf := strings.ReplaceAll(strings.ReplaceAll(string(in), "\r\n", "\n"), "\r", "\n")
		if id2, err := Identity([]byte(lf)); err != nil || id2 != id {
			t.Fatalf("LF terminators change the identity of %q", in)
		}
		segs := splitSegments(in)
		fs := segs[0][3]
		if at := fieldStart(segs[0], fs, 7); at >= 0 {
			// Another MSH-7: the same identity.
			end := at
			for end < len(segs[0]) && segs[0][end] != fs {
				end++
			}
			stamp := "19990101"
			if strings.IndexByte(stamp, fs) >= 0 {
				stamp = "T"
			}
			if fs == 'T' {
				stamp = "Q"
			}
			msh := string(segs[0][:at]) + stamp + string(segs[0][end:])
			other := []byte(msh + "\r")
			for _, s := range segs[1:] {
				other = append(append(other, s...), '\r')
			}
			if id3, err := Identity(other); err != nil || id3 != id {
				t.Fatalf("a new MSH-7 changes the identity:\n%q\n%q", in, other)
			}
		}
		if len(segs) > 1 {
			// A changed byte of content: another identity.
			last := segs[len(segs)-1]
			var changed []byte
			for _, s := range segs[:len(segs)-1] {
				changed = append(append(changed, s...), '\r')
			}
			c := byte('Z')
			if last[len(last)-1] == 'Z' {
				c = 'Y'
			}
			changed = append(append(changed, last[:len(last)-1]...), c)
			if id4, err := Identity(changed); err != nil || id4 == id {
				t.Fatalf("changing content keeps the identity:\n%q\n%q", in, changed)
			}
		}
	})
}

// fieldStart returns where field n (n ≥ 3) of an MSH-like segment starts,
// or -1 if it has no field n.
func fieldStart(seg []byte, fs byte, n int) int {
	count := 0
	for i := 3; i < len(seg); i++ {
		if seg[i] == fs {
			count++
			if count == n-1 {
				return i + 1
			}
		}
	}
	return -1
}
