package serialtest

import (
	"flag"
	"fmt"
	"strings"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the committed fuzz seed corpus")

// corpusFile renders one []byte input in the "go test fuzz v1" format.
func corpusFile(b []byte) []byte {
	return fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", b)
}

// corpusName turns a table-test name into a corpus file name.
func corpusName(name string) string {
	return "seed-" + strings.ReplaceAll(name, " ", "-")
}
