package link

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var updateDoc = flag.Bool("update-doc", false, "rewrite the generated tables in firmware-notes/astm-lis2a2.md")

const docPath = "../../../firmware-notes/astm-lis2a2.md"

// TestDocTable checks that the state table and event list printed in the
// firmware notes are the ones the code runs.
func TestDocTable(t *testing.T) {
	data, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for _, sec := range []struct{ marker, body string }{
		{"link table", FormatTable()},
		{"link events", FormatEvents()},
	} {
		begin := strings.Index(doc, "<!-- BEGIN "+sec.marker)
		end := strings.Index(doc, "<!-- END "+sec.marker+" -->")
		if begin < 0 || end < begin {
			t.Fatalf("%s: no BEGIN/END %s markers", docPath, sec.marker)
		}
		bodyStart := begin + strings.Index(doc[begin:], "-->\n") + len("-->\n")
		if got := doc[bodyStart:end]; got != sec.body {
			if *updateDoc {
				doc = doc[:bodyStart] + sec.body + doc[end:]
				continue
			}
			t.Errorf("%s: the %s differs from the code; run go test ./lab/astm/link -run TestDocTable -update-doc\nwant:\n%s", docPath, sec.marker, sec.body)
		}
	}
	if *updateDoc {
		if err := os.WriteFile(docPath, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
